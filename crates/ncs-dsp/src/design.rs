//! Butterworth and notch design as second-order sections, following `scipy.signal` step by step
//! (`buttap` → `lp2{lp,hp,bp}_zpk` → `bilinear_zpk` → `zpk2sos` with `pairing="nearest"`) so the
//! sections come out identical to `scipy.signal.butter(..., output="sos")`, not merely equivalent.

use crate::error::{check_fs, DspError};
use rustfft::num_complex::Complex64 as C;
use std::f64::consts::PI;

/// One second-order section `[b0, b1, b2, a0, a1, a2]` with `a0 == 1`.
pub type Section = [f64; 6];

/// A filter to design. Frequencies are in Hz; orders are 1..=8 (a band-pass of order `N` has
/// `2N` poles, as in scipy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FilterSpec {
    /// Butterworth low-pass (`scipy.signal.butter(order, cutoff_hz, "lowpass", fs=..)`).
    Lowpass {
        /// 1..=8.
        order: usize,
        /// −3 dB corner, Hz.
        cutoff_hz: f64,
    },
    /// Butterworth high-pass.
    Highpass {
        /// 1..=8.
        order: usize,
        /// −3 dB corner, Hz.
        cutoff_hz: f64,
    },
    /// Butterworth band-pass (`2 * order` poles).
    Bandpass {
        /// 1..=8.
        order: usize,
        /// Lower −3 dB corner, Hz.
        low_hz: f64,
        /// Upper −3 dB corner, Hz.
        high_hz: f64,
    },
    /// Second-order notch (`scipy.signal.iirnotch(freq_hz, q, fs=..)`), e.g. 50 or 60 Hz.
    Notch {
        /// Centre frequency, Hz.
        freq_hz: f64,
        /// Quality factor `freq_hz / (−3 dB bandwidth)`, > 0.
        q: f64,
    },
}

impl FilterSpec {
    /// Validates the spec for sample rate `fs_hz` and returns its sections.
    ///
    /// # Errors
    /// [`DspError`] when `fs_hz` is not finite and > 0, the order is outside 1..=8, a frequency
    /// is outside (0, fs/2), band-pass corners are not `low < high`, or `q` is not > 0.
    pub fn design(&self, fs_hz: f64) -> Result<Vec<Section>, DspError> {
        let fs = check_fs(fs_hz)?;
        match *self {
            FilterSpec::Lowpass { order, cutoff_hz } => {
                check_order(order)?;
                check_freq("cutoff_hz", cutoff_hz, fs)?;
                Ok(butter(order, Band::Low(cutoff_hz), fs))
            }
            FilterSpec::Highpass { order, cutoff_hz } => {
                check_order(order)?;
                check_freq("cutoff_hz", cutoff_hz, fs)?;
                Ok(butter(order, Band::High(cutoff_hz), fs))
            }
            FilterSpec::Bandpass {
                order,
                low_hz,
                high_hz,
            } => {
                check_order(order)?;
                check_freq("low_hz", low_hz, fs)?;
                check_freq("high_hz", high_hz, fs)?;
                if low_hz >= high_hz {
                    return Err(DspError::BandOrder { low_hz, high_hz });
                }
                Ok(butter(order, Band::Pass(low_hz, high_hz), fs))
            }
            FilterSpec::Notch { freq_hz, q } => {
                check_freq("freq_hz", freq_hz, fs)?;
                if !(q.is_finite() && q > 0.0) {
                    return Err(DspError::Quality(q));
                }
                Ok(vec![iirnotch(freq_hz, q, fs)])
            }
        }
    }
}

fn check_order(order: usize) -> Result<(), DspError> {
    if (1..=8).contains(&order) {
        Ok(())
    } else {
        Err(DspError::Order(order))
    }
}

fn check_freq(name: &'static str, f: f64, fs: f64) -> Result<(), DspError> {
    let nyquist_hz = fs / 2.0;
    if f.is_finite() && f > 0.0 && f < nyquist_hz {
        Ok(())
    } else {
        Err(DspError::Frequency {
            name,
            value_hz: f,
            nyquist_hz,
        })
    }
}

enum Band {
    Low(f64),
    High(f64),
    Pass(f64, f64),
}

/// `scipy.signal.iirnotch(w0, Q, fs)` as one section.
fn iirnotch(f0: f64, q: f64, fs: f64) -> Section {
    let w0 = 2.0 * f0 / fs;
    let bw = w0 / q * PI;
    let w0 = w0 * PI;
    let beta = (bw / 2.0).tan();
    let gain = 1.0 / (1.0 + beta);
    let c = w0.cos();
    [
        gain,
        gain * (-2.0 * c),
        gain,
        1.0,
        -2.0 * gain * c,
        2.0 * gain - 1.0,
    ]
}

/// Smith's complex division, as numpy does it (the naive formula loses bits).
fn cdiv(a: C, b: C) -> C {
    let (ar, ai, br, bi) = (a.re, a.im, b.re, b.im);
    if br.abs() >= bi.abs() {
        if br == 0.0 && bi == 0.0 {
            return C::new(ar / br.abs(), ai / br.abs());
        }
        let rat = bi / br;
        let scl = 1.0 / (br + bi * rat);
        C::new((ar + ai * rat) * scl, (ai - ar * rat) * scl)
    } else {
        let rat = br / bi;
        let scl = 1.0 / (bi + br * rat);
        C::new((ar * rat + ai) * scl, (ai * rat - ar) * scl)
    }
}

/// Principal square root with the branch cut on the negative real axis (C99 `csqrt`).
fn csqrt(z: C) -> C {
    if z.re == 0.0 && z.im == 0.0 {
        return C::new(0.0, z.im);
    }
    let t = ((z.re.abs() + z.re.hypot(z.im)) / 2.0).sqrt();
    if z.re >= 0.0 {
        C::new(t, z.im / (2.0 * t))
    } else {
        C::new(z.im.abs() / (2.0 * t), t.copysign(z.im))
    }
}

fn prod(v: &[C]) -> C {
    v.iter().fold(C::new(1.0, 0.0), |acc, &x| acc * x)
}

/// `scipy.signal.butter(order, band, fs=fs, output="sos")`.
fn butter(order: usize, band: Band, fs: f64) -> Vec<Section> {
    // buttap: the middle pole of an odd order is exactly real (m = 0).
    let n = order as f64;
    let mut p: Vec<C> = (0..order)
        .map(|i| {
            let m = -n + 1.0 + 2.0 * i as f64;
            let th = PI * m / (2.0 * n);
            C::new(-th.cos(), -th.sin())
        })
        .collect();
    let mut z: Vec<C> = Vec::new();
    let mut k = 1.0;
    // Normalise to Nyquist = 1, then pre-warp with scipy's internal fs = 2.
    let warp = |f: f64| 4.0 * (PI * (f / (fs / 2.0)) / 2.0).tan();
    match band {
        Band::Low(f) => {
            let wo = warp(f);
            let degree = (p.len() - z.len()) as i32;
            z.iter_mut().for_each(|x| *x *= wo);
            p.iter_mut().for_each(|x| *x *= wo);
            k *= wo.powi(degree);
        }
        Band::High(f) => {
            let wo = warp(f);
            let degree = p.len() - z.len();
            let num = prod(&z.iter().map(|x| -x).collect::<Vec<_>>());
            let den = prod(&p.iter().map(|x| -x).collect::<Vec<_>>());
            z = z.iter().map(|&x| cdiv(C::new(wo, 0.0), x)).collect();
            p = p.iter().map(|&x| cdiv(C::new(wo, 0.0), x)).collect();
            z.extend(std::iter::repeat_n(C::new(0.0, 0.0), degree));
            k *= cdiv(num, den).re;
        }
        Band::Pass(lo, hi) => {
            let (w1, w2) = (warp(lo), warp(hi));
            let bw = w2 - w1;
            let wo = (w1 * w2).sqrt();
            let degree = p.len() - z.len();
            let shift = |v: &[C]| -> Vec<C> {
                let lp: Vec<C> = v.iter().map(|&x| x * bw / 2.0).collect();
                let root: Vec<C> = lp.iter().map(|&x| csqrt(x * x - wo * wo)).collect();
                let mut out: Vec<C> = lp.iter().zip(&root).map(|(&a, &r)| a + r).collect();
                out.extend(lp.iter().zip(&root).map(|(&a, &r)| a - r));
                out
            };
            z = shift(&z);
            p = shift(&p);
            z.extend(std::iter::repeat_n(C::new(0.0, 0.0), degree));
            k *= bw.powi(degree as i32);
        }
    }
    // bilinear_zpk with fs = 2.
    let fs2 = C::new(4.0, 0.0);
    let degree = p.len() - z.len();
    let num = prod(&z.iter().map(|&x| fs2 - x).collect::<Vec<_>>());
    let den = prod(&p.iter().map(|&x| fs2 - x).collect::<Vec<_>>());
    let mut zz: Vec<C> = z.iter().map(|&x| cdiv(fs2 + x, fs2 - x)).collect();
    let pz: Vec<C> = p.iter().map(|&x| cdiv(fs2 + x, fs2 - x)).collect();
    zz.extend(std::iter::repeat_n(C::new(-1.0, 0.0), degree));
    k *= cdiv(num, den).re;
    zpk2sos(zz, pz, k)
}

/// `numpy.isreal`: imaginary part exactly zero.
fn is_real(x: C) -> bool {
    x.im == 0.0
}

/// `scipy.signal._filter_design._cplxreal`: one member (positive imaginary part) per conjugate
/// pair, sorted by real part then |imag|; then the real values, sorted.
fn cplxreal(mut z: Vec<C>) -> (Vec<C>, Vec<C>) {
    if z.is_empty() {
        return (vec![], vec![]);
    }
    let tol = 100.0 * f64::EPSILON;
    // np.lexsort((abs(imag), real)) is a stable sort on (real, |imag|).
    z.sort_by(|a, b| {
        a.re.total_cmp(&b.re)
            .then(a.im.abs().total_cmp(&b.im.abs()))
    });
    let is_r = |x: &C| x.im.abs() <= tol * x.norm();
    let zr: Vec<C> = z
        .iter()
        .filter(|x| is_r(x))
        .map(|x| C::new(x.re, 0.0))
        .collect();
    let rest: Vec<C> = z.iter().filter(|x| !is_r(x)).copied().collect();
    let mut zp: Vec<C> = rest.iter().filter(|x| x.im > 0.0).copied().collect();
    let mut zn: Vec<C> = rest.iter().filter(|x| x.im < 0.0).copied().collect();
    // Runs of (nearly) equal real part are sorted by |imag|.
    let mut start = 0;
    while start < zp.len() {
        let mut stop = start + 1;
        while stop < zp.len() && zp[stop].re - zp[stop - 1].re <= tol * zp[stop - 1].norm() {
            stop += 1;
        }
        if stop - start > 1 {
            zp[start..stop].sort_by(|a, b| a.im.abs().total_cmp(&b.im.abs()));
            if stop <= zn.len() {
                zn[start..stop].sort_by(|a, b| a.im.abs().total_cmp(&b.im.abs()));
            }
        }
        start = stop;
    }
    let zc = zp
        .iter()
        .zip(&zn)
        .map(|(&a, &b)| (a + b.conj()) / 2.0)
        .collect();
    (zc, zr)
}

/// Index of the element of `v` nearest to `to` with the requested realness.
fn nearest(v: &[C], to: C, which: Which) -> usize {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| (v[a] - to).norm().total_cmp(&(v[b] - to).norm()));
    let pick = order.iter().copied().find(|&i| match which {
        Which::Any => true,
        Which::Real => is_real(v[i]),
        Which::Complex => !is_real(v[i]),
    });
    // zpk2sos only asks for a kind it has checked is present; fall back to the nearest.
    pick.unwrap_or(order[0])
}

#[derive(Clone, Copy)]
enum Which {
    Any,
    Real,
    Complex,
}

/// Index of the pole closest to the unit circle (first on ties, like `np.argmin`).
fn idx_worst(p: &[C]) -> usize {
    let mut best = 0;
    for i in 1..p.len() {
        if (1.0 - p[i].norm()).abs() < (1.0 - p[best].norm()).abs() {
            best = i;
        }
    }
    best
}

/// `np.poly` of up to two roots, real part (conjugate or real pairs give real coefficients).
fn poly(r: &[C]) -> Vec<f64> {
    let mut a = vec![C::new(1.0, 0.0)];
    for &x in r {
        let mut next = vec![C::new(0.0, 0.0); a.len() + 1];
        for (i, &c) in a.iter().enumerate() {
            next[i] += c;
            next[i + 1] += c * -x;
        }
        a = next;
    }
    a.iter().map(|c| c.re).collect()
}

fn single(z: &[C], p: &[C]) -> Section {
    let b = poly(z);
    let a = poly(p);
    let mut s = [0.0; 6];
    s[3 - b.len()..3].copy_from_slice(&b);
    s[6 - a.len()..6].copy_from_slice(&a);
    s
}

/// `scipy.signal.zpk2sos(z, p, k, pairing="nearest")` for a digital filter.
fn zpk2sos(z: Vec<C>, p: Vec<C>, k: f64) -> Vec<Section> {
    let (mut z, mut p) = (z, p);
    if z.is_empty() && p.is_empty() {
        return vec![[k, 0.0, 0.0, 1.0, 0.0, 0.0]];
    }
    let zero = C::new(0.0, 0.0);
    while p.len() < z.len() {
        p.push(zero);
    }
    while z.len() < p.len() {
        z.push(zero);
    }
    let n_sections = p.len().div_ceil(2);
    if p.len() % 2 == 1 {
        p.push(zero);
        z.push(zero);
    }
    let (zc, zr) = cplxreal(z);
    let mut z: Vec<C> = zc.into_iter().chain(zr).collect();
    let (pc, pr) = cplxreal(p);
    let mut p: Vec<C> = pc.into_iter().chain(pr).collect();
    let mut sos = vec![[0.0; 6]; n_sections];
    for si in (0..n_sections).rev() {
        let p1 = p.remove(idx_worst(&p));
        let n_real_p = p.iter().filter(|x| is_real(**x)).count();
        if is_real(p1) && n_real_p == 0 {
            // Last remaining real pole: pair with the nearest real zero.
            let z1 = z.remove(nearest(&z, p1, Which::Real));
            sos[si] = single(&[z1, zero], &[p1, zero]);
        } else if p.len() + 1 == z.len()
            && !is_real(p1)
            && n_real_p == 1
            && z.iter().filter(|x| is_real(**x)).count() == 1
        {
            // One real pole and one real zero left: this complex pole takes a complex zero.
            let z1 = z.remove(nearest(&z, p1, Which::Complex));
            sos[si] = single(&[z1, z1.conj()], &[p1, p1.conj()]);
        } else {
            let p2 = if is_real(p1) {
                let reals: Vec<usize> = (0..p.len()).filter(|&i| is_real(p[i])).collect();
                let sub: Vec<C> = reals.iter().map(|&i| p[i]).collect();
                p.remove(reals[idx_worst(&sub)])
            } else {
                p1.conj()
            };
            if z.is_empty() {
                sos[si] = single(&[], &[p1, p2]);
            } else {
                let z1 = z.remove(nearest(&z, p1, Which::Any));
                if !is_real(z1) {
                    sos[si] = single(&[z1, z1.conj()], &[p1, p2]);
                } else if !z.is_empty() {
                    let z2 = z.remove(nearest(&z, p1, Which::Real));
                    sos[si] = single(&[z1, z2], &[p1, p2]);
                } else {
                    sos[si] = single(&[z1], &[p1, p2]);
                }
            }
        }
    }
    for c in &mut sos[0][..3] {
        *c *= k;
    }
    sos
}

/// Complex frequency response of a cascade at `f_hz` for sample rate `fs_hz`.
///
/// Each polynomial `c0 + c1 z⁻¹ + c2 z⁻²` is evaluated expanded around `z⁻¹ = 1`
/// (`u = z⁻¹ − 1`, with `cos ω − 1 = −2 sin²(ω/2)`), which keeps full precision near DC where
/// poles and zeros of low corners crowd around `z = 1`.
pub fn frequency_response(sections: &[Section], f_hz: f64, fs_hz: f64) -> C {
    let w = 2.0 * PI * f_hz / fs_hz;
    let h = (w / 2.0).sin();
    let u = C::new(-2.0 * h * h, -w.sin());
    let u2 = u * u;
    let eval =
        |c0: f64, c1: f64, c2: f64| C::new(c0 + c1 + c2, 0.0) + u * (c1 + 2.0 * c2) + u2 * c2;
    sections.iter().fold(C::new(1.0, 0.0), |acc, s| {
        acc * cdiv(eval(s[0], s[1], s[2]), eval(s[3], s[4], s[5]))
    })
}

/// Group delay of a cascade at `f_hz`, in samples: `Σ τ(B) − τ(A)` with
/// `τ(P) = Re(Σ k p_k e^{−jωk} / Σ p_k e^{−jωk})`. Not finite at a zero on the unit circle
/// (e.g. exactly at a notch frequency).
pub fn group_delay_samples(sections: &[Section], f_hz: f64, fs_hz: f64) -> f64 {
    let w = 2.0 * PI * f_hz / fs_hz;
    let z1 = C::new(w.cos(), -w.sin());
    let z2 = z1 * z1;
    let tau = |c0: f64, c1: f64, c2: f64| {
        let p = C::new(c0, 0.0) + z1 * c1 + z2 * c2;
        let dp = z1 * c1 + z2 * (2.0 * c2);
        (dp / p).re
    };
    sections
        .iter()
        .map(|s| tau(s[0], s[1], s[2]) - tau(s[3], s[4], s[5]))
        .sum()
}

/// Poles of one section (roots of `a0 z² + a1 z + a2`), for stability checks.
pub fn section_poles(s: &Section) -> [C; 2] {
    let (a0, a1, a2) = (s[3], s[4], s[5]);
    if a2 == 0.0 {
        return [C::new(-a1 / a0, 0.0), C::new(0.0, 0.0)];
    }
    let disc = C::new(a1 * a1 - 4.0 * a0 * a2, 0.0);
    let r = csqrt(disc);
    [
        (C::new(-a1, 0.0) + r) / (2.0 * a0),
        (C::new(-a1, 0.0) - r) / (2.0 * a0),
    ]
}
