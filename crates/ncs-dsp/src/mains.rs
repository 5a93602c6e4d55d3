//! Mains interference (50/60 Hz and harmonics) estimated with an FFT over a sweep or a longer
//! block: a Hann-windowed, zero-padded real FFT finds which of 50 or 60 Hz is present and
//! refines the frequency (parabolic peak interpolation, then the frequency that maximises the
//! least-squares fit); amplitudes then come from a least-squares sinusoid fit at each
//! harmonic of the refined frequency, so they do not suffer the window's scalloping loss.

use crate::error::{check_fs, DspError};
use realfft::{RealFftPlanner, RealToComplex};
use std::f64::consts::PI;
use std::sync::Arc;

/// Rate (Hz) the record is averaged down to while the mains frequency is searched.
const SEARCH_RATE_HZ: f64 = 1000.0;

/// Precision of the polished mains frequency (Hz): far below what a report or a notch needs.
const FREQUENCY_TOLERANCE_HZ: f64 = 1e-4;

/// Settings of the mains analyser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MainsConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Harmonics to report, counting the fundamental (1 = fundamental only). Harmonics at or
    /// above fs/2 are skipped.
    pub harmonics: usize,
}

/// One spectral line of the mains report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MainsLine {
    /// Harmonic number (1 = fundamental).
    pub harmonic: usize,
    /// Frequency, Hz (harmonic × refined fundamental).
    pub freq_hz: f64,
    /// RMS amplitude in the input's units (volts for a channel in volts).
    pub rms: f64,
}

/// What the analyser found.
#[derive(Debug, Clone, PartialEq)]
pub struct MainsReport {
    /// 50 or 60: the nominal mains frequency with more power.
    pub nominal_hz: f64,
    /// Refined fundamental frequency, Hz.
    pub fundamental_hz: f64,
    /// RMS of the fundamental in input units (peak amplitude = `rms * √2`).
    pub fundamental_rms: f64,
    /// Fundamental RMS in µV, assuming the input is in volts.
    pub fundamental_uv_rms: f64,
    /// Fundamental and harmonics (the first entry is the fundamental).
    pub lines: Vec<MainsLine>,
    /// RMS of the whole (mean-removed) input, same units.
    pub total_rms: f64,
}

/// A ready analyser (holds the FFT plan for one block length).
pub struct MainsAnalyzer {
    fs: f64,
    harmonics: usize,
}

impl std::fmt::Debug for MainsAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainsAnalyzer")
            .field("fs", &self.fs)
            .field("harmonics", &self.harmonics)
            .finish()
    }
}

impl MainsConfig {
    /// Validates and builds the analyser.
    ///
    /// # Errors
    /// Bad sample rate (must also exceed 2 × 60 Hz), `harmonics == 0`.
    pub fn build(&self) -> Result<MainsAnalyzer, DspError> {
        let fs = check_fs(self.sample_rate_hz)?;
        if fs <= 130.0 {
            return Err(DspError::Parameter {
                name: "sample_rate_hz",
                rule: "> 130 Hz to see 60 Hz mains",
                value: fs,
            });
        }
        if self.harmonics == 0 {
            return Err(DspError::Parameter {
                name: "harmonics",
                rule: ">= 1",
                value: 0.0,
            });
        }
        Ok(MainsAnalyzer {
            fs,
            harmonics: self.harmonics,
        })
    }
}

impl MainsAnalyzer {
    /// Analyses a block (≥ 100 ms is needed to tell 50 from 60 Hz reliably).
    ///
    /// # Errors
    /// [`DspError::TooShort`] when the block spans less than 5 cycles of 50 Hz (100 ms).
    pub fn analyze(&self, x: &[f64]) -> Result<MainsReport, DspError> {
        let n = x.len();
        let min = (0.1 * self.fs).ceil() as usize;
        if n < min {
            return Err(DspError::TooShort {
                len: n,
                padlen: min,
            });
        }
        let mean = x.iter().sum::<f64>() / n as f64;
        let nfft = (4 * n).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let fft: Arc<dyn RealToComplex<f64>> = planner.plan_fft_forward(nfft);
        let mut buf = fft.make_input_vec();
        for (i, (b, &v)) in buf.iter_mut().zip(x).enumerate() {
            let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / (n - 1).max(1) as f64).cos();
            *b = (v - mean) * w;
        }
        let mut spec = fft.make_output_vec();
        // Lengths come from the plan itself, so process cannot fail here.
        if fft.process(&mut buf, &mut spec).is_err() {
            return Err(DspError::BufferLength {
                name: "fft",
                expected: nfft,
                got: buf.len(),
            });
        }
        let df = self.fs / nfft as f64;
        let mag2: Vec<f64> = spec.iter().map(|c| c.norm_sqr()).collect();
        // Peak power within ±3 % of each nominal frequency (and its first harmonics).
        let band_peak = |f: f64| -> (usize, f64) {
            let lo = ((f * 0.97) / df).floor() as usize;
            let hi = (((f * 1.03) / df).ceil() as usize).min(mag2.len() - 1);
            (lo..=hi).fold(
                (lo, 0.0),
                |acc, i| if mag2[i] > acc.1 { (i, mag2[i]) } else { acc },
            )
        };
        let (k50, p50) = band_peak(50.0);
        let (k60, p60) = band_peak(60.0);
        let (nominal, k) = if p60 > p50 { (60.0, k60) } else { (50.0, k50) };
        // Parabolic interpolation of log power around the peak bin.
        let refined = if k > 0 && k + 1 < mag2.len() {
            let (a, b, c) = (
                mag2[k - 1].max(1e-300).ln(),
                mag2[k].max(1e-300).ln(),
                mag2[k + 1].max(1e-300).ln(),
            );
            let den = a - 2.0 * b + c;
            let delta = if den.abs() > 0.0 {
                0.5 * (a - c) / den
            } else {
                0.0
            };
            (k as f64 + delta.clamp(-0.5, 0.5)) * df
        } else {
            nominal
        };
        // Polish the frequency: the least-squares fit (offset + fundamental) explains the most
        // power at the true frequency; golden-section search within ±1 padded bin.
        let nh = (1..=self.harmonics)
            .take_while(|&h| refined * h as f64 * 1.03 < self.fs / 2.0)
            .count()
            .max(1);
        let (mut a, mut b) = (refined - df, refined + df);
        let g = 0.618_033_988_749_895;
        // The fundamental sets the frequency: it alone is fitted while searching, on the
        // record averaged over blocks of about 1 ms (a mains period spans 17–20 of them, and
        // averaging moves no frequency), and every harmonic on the whole record once the
        // frequency is found.
        let q = ((self.fs / SEARCH_RATE_HZ).floor() as usize).max(1);
        let coarse: Vec<f64> = x
            .chunks_exact(q)
            .map(|b| b.iter().sum::<f64>() / q as f64)
            .collect();
        let power = |f: f64| fit_harmonics(&coarse, f, 1, self.fs / q as f64).1;
        // Each step keeps one inner point (and its power) and evaluates one new one, until the
        // bracket is narrower than `FREQUENCY_TOLERANCE_HZ` (a 2 s record's padded bin takes
        // about 18 steps).
        let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
        let (mut pc, mut pd) = (power(c), power(d));
        for _ in 0..40 {
            if b - a < FREQUENCY_TOLERANCE_HZ {
                break;
            }
            if pc > pd {
                (b, d, pd) = (d, c, pc);
                c = b - g * (b - a);
                pc = power(c);
            } else {
                (a, c, pc) = (c, d, pd);
                d = a + g * (b - a);
                pd = power(d);
            }
        }
        let refined = (a + b) / 2.0;
        let (rms, _) = fit_harmonics(x, refined, nh, self.fs);
        let lines: Vec<MainsLine> = rms
            .iter()
            .enumerate()
            .map(|(i, &r)| MainsLine {
                harmonic: i + 1,
                freq_hz: refined * (i + 1) as f64,
                rms: r,
            })
            .collect();
        let fundamental_rms = lines.first().map_or(0.0, |l| l.rms);
        let total_rms = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        Ok(MainsReport {
            nominal_hz: nominal,
            fundamental_hz: refined,
            fundamental_rms,
            fundamental_uv_rms: fundamental_rms * 1e6,
            lines,
            total_rms,
        })
    }
}

/// `Σᵢ e^{iθi}` for `i` in `0..n`, as `(re, im)`: the geometric sum
/// `(1 − e^{iθn}) / (1 − e^{iθ})`, summed directly where the denominator is too small.
fn cis_sum(theta: f64, n: usize) -> (f64, f64) {
    if theta == 0.0 {
        return (n as f64, 0.0);
    }
    let (s1, c1) = theta.sin_cos();
    let (den_re, den_im) = (1.0 - c1, -s1);
    let den2 = den_re * den_re + den_im * den_im;
    if den2 < 1e-12 {
        return (0..n).fold((0.0, 0.0), |(re, im), i| {
            let (s, c) = (theta * i as f64).sin_cos();
            (re + c, im + s)
        });
    }
    let (sn, cn) = (theta * n as f64).sin_cos();
    let (num_re, num_im) = (1.0 - cn, -sn);
    (
        (num_re * den_re + num_im * den_im) / den2,
        (num_im * den_re - num_re * den_im) / den2,
    )
}

/// Joint least-squares fit of `c + Σₕ aₕ cos hωt + bₕ sin hωt` (h = 1..=nh); returns each
/// harmonic's RMS `√((aₕ² + bₕ²)/2)` and the power the harmonics explain (to be maximised
/// over `f`). Normal equations, solved by Gaussian elimination with
/// partial pivoting (at most 2·nh + 1 unknowns).
fn fit_harmonics(x: &[f64], f: f64, nh: usize, fs: f64) -> (Vec<f64>, f64) {
    let m = 2 * nh + 1;
    let mut ata = vec![0.0; m * m];
    let mut atb = vec![0.0; m];
    let w = 2.0 * PI * f / fs;
    // Work on mean-removed data: an electrode offset dwarfs the interference.
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    // Aᵀx: Σ v·cos hωi and Σ v·sin hωi. Each harmonic's phasor e^{ihωi} is set at the start
    // of every block of `BLOCK` samples from the exact e^{iωi} there (sin_cos, then its
    // powers), and rotated by its own e^{ihω} within the block: a few roundings from the exact
    // value, never a drift, and the harmonics' rotations are independent of each other.
    const BLOCK: usize = 64;
    let rot: Vec<(f64, f64)> = (1..=nh).map(|h| (h as f64 * w).sin_cos()).collect();
    let mut acc = vec![(0.0f64, 0.0f64); nh];
    let mut z = vec![(0.0f64, 0.0f64); nh];
    let mut sum_v = 0.0;
    for (b, block) in x.chunks(BLOCK).enumerate() {
        let (s0, c0) = (w * (b * BLOCK) as f64).sin_cos();
        let (mut s, mut c) = (s0, c0);
        for zh in z.iter_mut() {
            *zh = (s, c);
            (s, c) = (s * c0 + c * s0, c * c0 - s * s0);
        }
        for &v in block {
            let v = v - mean;
            sum_v += v;
            for ((a, zh), &(sr, cr)) in acc.iter_mut().zip(z.iter_mut()).zip(&rot) {
                let (sh, ch) = *zh;
                a.0 += v * ch;
                a.1 += v * sh;
                *zh = (sh * cr + ch * sr, ch * cr - sh * sr);
            }
        }
    }
    atb[0] = sum_v;
    for (h, a) in acc.iter().enumerate() {
        atb[1 + 2 * h] = a.0;
        atb[2 + 2 * h] = a.1;
    }
    // AᵀA in closed form: products of harmonics are harmonics of the sum and difference,
    // cos·cos = ½(cos(h−g) + cos(h+g)) and so on, and Σᵢ e^{ikωi} is a geometric sum.
    let n = x.len();
    let sums: Vec<(f64, f64)> = (0..=2 * nh).map(|k| cis_sum(k as f64 * w, n)).collect();
    let s_at = |k: isize| -> (f64, f64) {
        let (re, im) = sums[k.unsigned_abs()];
        (re, if k < 0 { -im } else { im })
    };
    ata[0] = n as f64;
    for h in 1..=nh {
        let (re, im) = s_at(h as isize);
        ata[2 * h - 1] = re; // row 0, cos h
        ata[2 * h] = im; // row 0, sin h
        for g in h..=nh {
            let (d_re, d_im) = s_at(h as isize - g as isize);
            let (p_re, p_im) = s_at((h + g) as isize);
            let (ch, sh, cg, sg) = (2 * h - 1, 2 * h, 2 * g - 1, 2 * g);
            ata[ch * m + cg] = 0.5 * (d_re + p_re);
            ata[sh * m + sg] = 0.5 * (d_re - p_re);
            // cos hωi · sin gωi = ½(sin (h+g)ωi − sin (h−g)ωi), and the other way round.
            ata[ch * m + sg] = 0.5 * (p_im - d_im);
            ata[sh * m + cg] = 0.5 * (p_im + d_im);
        }
    }
    for r in 0..m {
        for q in 0..r {
            ata[r * m + q] = ata[q * m + r];
        }
    }
    let atb0 = atb.clone();
    // Gaussian elimination.
    for col in 0..m {
        let piv = (col..m).fold(col, |p, r| {
            if ata[r * m + col].abs() > ata[p * m + col].abs() {
                r
            } else {
                p
            }
        });
        if ata[piv * m + col].abs() < 1e-12 {
            return (vec![0.0; nh], 0.0);
        }
        if piv != col {
            for q in 0..m {
                ata.swap(col * m + q, piv * m + q);
            }
            atb.swap(col, piv);
        }
        for r in col + 1..m {
            let f = ata[r * m + col] / ata[col * m + col];
            for q in col..m {
                ata[r * m + q] -= f * ata[col * m + q];
            }
            atb[r] -= f * atb[col];
        }
    }
    let mut sol = vec![0.0; m];
    for r in (0..m).rev() {
        let s: f64 = (r + 1..m).map(|q| ata[r * m + q] * sol[q]).sum();
        sol[r] = (atb[r] - s) / ata[r * m + r];
    }
    // Power explained beyond a constant: SSE(constant only) − SSE(full) = solᵀAᵀx − n·x̄².
    let n = x.len() as f64;
    let explained: f64 =
        sol.iter().zip(&atb0).map(|(s, b)| s * b).sum::<f64>() - atb0[0] * atb0[0] / n;
    let rms = (0..nh)
        .map(|h| ((sol[1 + 2 * h].powi(2) + sol[2 + 2 * h].powi(2)) / 2.0).sqrt())
        .collect();
    (rms, explained)
}
