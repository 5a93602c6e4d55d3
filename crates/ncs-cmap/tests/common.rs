//! A small, independent CMAP model for tests: motor units with a conduction-velocity spread,
//! each contributing a biphasic (negative-first) potential; truth computed by the clinical
//! definitions on the noise-free waveform.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

pub struct Synth {
    pub fs: f64,
    pub stim: usize,
    pub clean: Vec<f64>,
    pub data: Vec<f64>,
}

pub struct Truth {
    pub onset_ms: f64,
    pub peak_ms: f64,
    pub amp_mv: f64,
    pub area: f64,
    pub dur_ms: f64,
}

pub struct Params {
    pub fs: f64,
    pub amp_mv: f64,
    pub noise_uv: f64,
    pub mains_uv: f64,
    pub artefact_mv: f64,
    pub artefact_tau_ms: f64,
    pub seed: u64,
}

/// Builds one sweep: 10 ms baseline, 40 ms window.
pub fn synth(p: &Params) -> Synth {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let fs = p.fs;
    let pre = 0.010;
    let post = 0.040;
    let n = ((pre + post) * fs).round() as usize;
    let stim = (pre * fs).round() as usize;
    let units = rng.random_range(40..160);
    let cv: Normal<f64> =
        Normal::new(rng.random_range(50.0..62.0), rng.random_range(2.0..6.0)).unwrap();
    let dist_mm = rng.random_range(60.0..300.0);
    let term = rng.random_range(1.5..3.0);
    let w_ms = rng.random_range(0.8..1.6);
    let mut clean = vec![0.0; n];
    for _ in 0..units {
        let v: f64 = cv.sample(&mut rng).max(30.0);
        let t0 = term + dist_mm / v + 3.0 * w_ms; // centre of the unit's potential, ms
        let w = w_ms * rng.random_range(0.8..1.25);
        let a = rng.random_range(0.3..1.0f64);
        for (i, c) in clean.iter_mut().enumerate() {
            let t = (i as f64 - stim as f64) / fs * 1e3 - t0;
            // Negative first: (t/w)·exp(−t²/2w²) is negative for t < 0.
            *c += a * (t / w) * (-(t * t) / (2.0 * w * w)).exp() * 1.0;
        }
    }
    // Normalise to the requested negative-peak amplitude (volts, negative peak down).
    let min = clean.iter().cloned().fold(f64::INFINITY, f64::min);
    let k = p.amp_mv * 1e-3 / -min;
    clean.iter_mut().for_each(|c| *c *= k);
    let noise = Normal::new(0.0, p.noise_uv * 1e-6).unwrap();
    let phase = rng.random_range(0.0..std::f64::consts::TAU);
    let mains_f = if rng.random_bool(0.5) { 50.0 } else { 60.0 };
    let data = clean
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let t = i as f64 / fs;
            let dt_ms = (i as f64 - stim as f64) / fs * 1e3;
            let art = if dt_ms >= 0.0 {
                p.artefact_mv * 1e-3 * (-dt_ms / p.artefact_tau_ms).exp()
            } else {
                0.0
            };
            c + noise.sample(&mut rng)
                + p.mains_uv * 1e-6 * (std::f64::consts::TAU * mains_f * t + phase).sin()
                + art
        })
        .collect();
    Synth {
        fs,
        stim,
        clean,
        data,
    }
}

/// Truth by the clinical definitions on the noise-free response.
pub fn truth(s: &Synth) -> Truth {
    let c = &s.clean;
    let (mut p, mut min) = (0, f64::INFINITY);
    for (i, &v) in c.iter().enumerate() {
        if v < min {
            min = v;
            p = i;
        }
    }
    let amp = -min;
    let onset = (0..p).find(|&i| c[i] <= -0.02 * amp).unwrap();
    let mut r = p;
    while c[r + 1] < 0.0 {
        r += 1;
    }
    let rf = r as f64 + c[r] / (c[r] - c[r + 1]);
    let to_ms = 1e3 / s.fs;
    let mut area = 0.0;
    for i in onset..r {
        area += -0.5 * (c[i] + c[i + 1]);
    }
    area += -0.5 * c[r] * (rf - r as f64);
    Truth {
        onset_ms: (onset as f64 - s.stim as f64) * to_ms,
        peak_ms: (p as f64 - s.stim as f64) * to_ms,
        amp_mv: amp * 1e3,
        area: area * to_ms * 1e3,
        dur_ms: (rf - onset as f64) * to_ms,
    }
}

pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() - 1) as f64 * q).round() as usize;
    v[idx]
}
