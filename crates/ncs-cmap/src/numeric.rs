//! Small numerical helpers: least squares without allocation, the normal quantile, smoothing.

// Matrix and convolution code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

/// Solves the symmetric positive-definite system `a·x = b` (n ≤ N) in place by Cholesky
/// decomposition. Returns `false` when `a` is not numerically positive definite (the caller then
/// falls back to a simpler model).
pub(crate) fn solve_spd<const N: usize>(a: &mut [[f64; N]; N], b: &mut [f64; N], n: usize) -> bool {
    // Decompose a = L·Lᵀ, storing L in the lower triangle.
    let scale = (0..n)
        .map(|i| a[i][i].abs())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    for j in 0..n {
        let mut d = a[j][j];
        for k in 0..j {
            d -= a[j][k] * a[j][k];
        }
        // Relative pivot floor: a pivot this small means the regressors are collinear.
        if d <= scale * 1e-12 {
            return false;
        }
        let d = d.sqrt();
        a[j][j] = d;
        for i in j + 1..n {
            let mut s = a[i][j];
            for k in 0..j {
                s -= a[i][k] * a[j][k];
            }
            a[i][j] = s / d;
        }
    }
    // Forward then backward substitution.
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i][k] * b[k];
        }
        b[i] = s / a[i][i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k][i] * b[k];
        }
        b[i] = s / a[i][i];
    }
    true
}

/// Quantile of the standard normal distribution (Acklam's rational approximation, relative
/// error < 1.2e-9 over (0, 1)).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// Builds a normalised Gaussian smoothing kernel of standard deviation `sigma` samples into
/// `out` (cleared first), truncated at ±3σ. A `sigma` below 0.3 samples yields the identity.
pub(crate) fn gaussian_kernel(sigma: f64, out: &mut Vec<f64>) {
    out.clear();
    if sigma < 0.3 {
        out.push(1.0);
        return;
    }
    let half = (3.0 * sigma).ceil() as usize;
    let mut sum = 0.0;
    for i in 0..=2 * half {
        let x = i as f64 - half as f64;
        let w = (-0.5 * (x / sigma) * (x / sigma)).exp();
        out.push(w);
        sum += w;
    }
    for w in out.iter_mut() {
        *w /= sum;
    }
}

/// Convolves `x[range]` with the symmetric `kernel` into `out[range]` (zero phase); samples
/// beyond `x`'s ends are taken as the nearest end sample. The interior runs tap by tap over
/// contiguous slices so the compiler vectorises it across samples.
pub(crate) fn smooth_range(x: &[f64], kernel: &[f64], start: usize, end: usize, out: &mut [f64]) {
    let half = kernel.len() / 2;
    let n = x.len();
    let edge = |i: usize| -> f64 {
        kernel
            .iter()
            .enumerate()
            .map(|(k, w)| w * x[(i + k).saturating_sub(half).min(n - 1)])
            .sum()
    };
    let lo = start.max(half);
    let hi = end.min(n.saturating_sub(half));
    if lo >= hi {
        for i in start..end {
            out[i] = edge(i);
        }
        return;
    }
    for i in start..lo {
        out[i] = edge(i);
    }
    // Blocks of outputs whose sums stay in registers across all taps. A symmetric kernel (the
    // Gaussian always is) adds the two samples that share a weight first: half the
    // multiplications.
    const BLOCK: usize = 8;
    let symmetric = kernel.len() % 2 == 1 && kernel.iter().eq(kernel.iter().rev());
    let mut blocks = out[lo..hi].chunks_exact_mut(BLOCK);
    let mut i = lo;
    for block in &mut blocks {
        let mut acc = [0.0; BLOCK];
        if symmetric {
            let centre = &x[i..i + BLOCK];
            for l in 0..BLOCK {
                acc[l] = kernel[half] * centre[l];
            }
            for (k, &w) in kernel[..half].iter().enumerate() {
                let left = &x[i + k - half..i + k - half + BLOCK];
                let right = &x[i + half - k..i + half - k + BLOCK];
                for l in 0..BLOCK {
                    acc[l] += w * (left[l] + right[l]);
                }
            }
        } else {
            for (k, &w) in kernel.iter().enumerate() {
                let src = &x[i + k - half..i + k - half + BLOCK];
                for l in 0..BLOCK {
                    acc[l] += w * src[l];
                }
            }
        }
        block.copy_from_slice(&acc);
        i += BLOCK;
    }
    for d in blocks.into_remainder() {
        *d = kernel
            .iter()
            .zip(&x[i - half..])
            .fold(0.0, |acc, (w, s)| acc + w * s);
        i += 1;
    }
    for i in hi..end {
        out[i] = edge(i);
    }
}

/// Lanes of the reductions below: independent accumulators let the compiler vectorise them
/// (a single running sum waits on each addition).
const LANES: usize = 4;

/// Sum of `x`.
pub(crate) fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

/// Sample standard deviation of `x` (two passes; 0 for fewer than two samples).
pub(crate) fn std_dev(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let mean = sum(x) / x.len() as f64;
    let mut acc = [0.0; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += (c[l] - mean) * (c[l] - mean);
        }
    }
    (((acc[0] + acc[1]) + (acc[2] + acc[3]) + rest) / (x.len() - 1) as f64).sqrt()
}

/// Index and value of the first maximum of `x` (`None` when empty). The maximum is found
/// lane by lane, then its first position.
pub(crate) fn argmax(x: &[f64]) -> Option<(usize, f64)> {
    let mut acc = [f64::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let mut best = chunks
        .remainder()
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    for a in acc {
        if a > best {
            best = a;
        }
    }
    let i = x.iter().position(|&v| v == best)?;
    Some((i, best))
}

/// Least-squares parabola through `y[lo..=hi]` (sample index as abscissa). Returns the
/// abscissa and value of its extremum when the extremum lies inside `[lo, hi]` and the parabola
/// bends the expected way (`maximum` = opens downward); otherwise `None`.
pub(crate) fn parabola_extremum(
    y: &[f64],
    lo: usize,
    hi: usize,
    maximum: bool,
) -> Option<(f64, f64)> {
    if hi < lo + 2 {
        return None;
    }
    let c = 0.5 * (lo + hi) as f64;
    let (mut s0, mut s1, mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut t0, mut t1, mut t2) = (0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate().take(hi + 1).skip(lo) {
        let x = i as f64 - c;
        let x2 = x * x;
        s0 += 1.0;
        s1 += x;
        s2 += x2;
        s3 += x2 * x;
        s4 += x2 * x2;
        t0 += v;
        t1 += v * x;
        t2 += v * x2;
    }
    let mut a = [[s0, s1, s2], [s1, s2, s3], [s2, s3, s4]];
    let mut b = [t0, t1, t2];
    if !solve_spd(&mut a, &mut b, 3) {
        return None;
    }
    let [p0, p1, p2] = b;
    if (maximum && p2 >= 0.0) || (!maximum && p2 <= 0.0) {
        return None;
    }
    let xv = -p1 / (2.0 * p2);
    if xv < lo as f64 - c || xv > hi as f64 - c {
        return None;
    }
    Some((xv + c, p0 + p1 * xv + p2 * xv * xv))
}

/// Linear interpolation of the fractional index where `y` crosses `level` between samples
/// `i` and `i + 1`.
pub(crate) fn crossing(y: &[f64], i: usize, level: f64) -> f64 {
    let (a, b) = (y[i], y[i + 1]);
    if (b - a).abs() < f64::MIN_POSITIVE {
        return i as f64;
    }
    i as f64 + ((level - a) / (b - a)).clamp(0.0, 1.0)
}

/// Trapezoid integral of `y` (per-sample units) between fractional indices `from` and `to`,
/// interpolating linearly at the fractional ends.
pub(crate) fn integrate(y: &[f64], from: f64, to: f64) -> f64 {
    if to <= from {
        return 0.0;
    }
    let at = |x: f64| -> f64 {
        let i = (x.floor() as usize).min(y.len() - 1);
        if i + 1 >= y.len() {
            return y[i];
        }
        let f = x - i as f64;
        y[i] * (1.0 - f) + y[i + 1] * f
    };
    let first = from.ceil() as usize;
    let last = to.floor() as usize;
    if first > last {
        return 0.5 * (at(from) + at(to)) * (to - from);
    }
    let mut sum = 0.5 * (at(from) + y[first]) * (first as f64 - from);
    for i in first..last {
        sum += 0.5 * (y[i] + y[i + 1]);
    }
    sum + 0.5 * (y[last] + at(to)) * (to - last as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_tables() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(1.0 - 1e-6) - 4.753_424_309).abs() < 1e-6);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(1e-9) + 5.997_807_015).abs() < 1e-6);
    }

    #[test]
    fn solves_small_system() {
        let mut a = [[4.0, 2.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 3.0]];
        let mut b = [2.0, 1.0, 4.0];
        assert!(solve_spd(&mut a, &mut b, 3));
        let a0 = [[4.0, 2.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 3.0]];
        for (i, row) in a0.iter().enumerate() {
            let lhs: f64 = row.iter().zip(b.iter()).map(|(x, y)| x * y).sum();
            assert!((lhs - [2.0, 1.0, 4.0][i]).abs() < 1e-12);
        }
        let mut sing = [[1.0, 1.0], [1.0, 1.0]];
        let mut rhs = [1.0, 1.0];
        assert!(!solve_spd(&mut sing, &mut rhs, 2));
    }

    #[test]
    fn parabola_finds_vertex() {
        let y: Vec<f64> = (0..11)
            .map(|i| 3.0 - 0.1 * (i as f64 - 4.3).powi(2))
            .collect();
        let (x, v) = parabola_extremum(&y, 0, 10, true).unwrap();
        assert!((x - 4.3).abs() < 1e-9 && (v - 3.0).abs() < 1e-9);
        assert!(parabola_extremum(&y, 0, 10, false).is_none());
    }

    #[test]
    fn integral_of_line_is_exact() {
        let y: Vec<f64> = (0..10).map(|i| i as f64).collect();
        // ∫ x dx from 1.5 to 7.25 = (7.25² − 1.5²)/2
        let want = (7.25f64.powi(2) - 1.5f64.powi(2)) / 2.0;
        assert!((integrate(&y, 1.5, 7.25) - want).abs() < 1e-12);
        assert!((integrate(&y, 2.2, 2.7) - (2.7f64.powi(2) - 2.2f64.powi(2)) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn reductions_match_plain_loops() {
        let x: Vec<f64> = (0..23)
            .map(|i| ((i * 7919) % 31) as f64 * 0.5 - 4.0)
            .collect();
        for len in [0, 1, 2, 3, 4, 5, 8, 22, 23] {
            let x = &x[..len];
            let plain: f64 = x.iter().sum();
            assert!((sum(x) - plain).abs() < 1e-12);
            if len >= 2 {
                let m = plain / len as f64;
                let sd =
                    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (len - 1) as f64).sqrt();
                assert!((std_dev(x) - sd).abs() < 1e-12);
            }
            let mut want: Option<(usize, f64)> = None;
            for (i, &v) in x.iter().enumerate() {
                if want.is_none_or(|(_, b)| v > b) {
                    want = Some((i, v));
                }
            }
            assert_eq!(argmax(x), want);
        }
    }

    #[test]
    fn smoothing_preserves_constants_and_sum() {
        let mut k = Vec::new();
        gaussian_kernel(2.0, &mut k);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let x = vec![1.5; 50];
        let mut out = vec![0.0; 50];
        smooth_range(&x, &k, 0, 50, &mut out);
        assert!(out.iter().all(|v| (v - 1.5).abs() < 1e-12));
    }
}
