//! Zero-phase (forward–backward) filtering of a finished record, equal to
//! `scipy.signal.sosfiltfilt(sos, x)` with its defaults: odd extension of
//! `padlen = 3 * (2 * n_sections + 1 − min(#(b2 == 0), #(a2 == 0)))` samples at each end and
//! `sosfilt_zi` initial conditions scaled by the first sample of each pass.

use crate::design::Section;
use crate::error::DspError;
use crate::filter::Cascade;

/// A single-channel zero-phase filter; sections are taken from a [`Cascade`].
#[derive(Debug, Clone, PartialEq)]
pub struct ZeroPhase {
    sections: Vec<Section>,
    zi: Vec<[f64; 2]>,
    padlen: usize,
}

impl ZeroPhase {
    /// Prepares the zero-phase filter for `cascade`'s sections with scipy's default `padlen`.
    pub fn new(cascade: &Cascade) -> Self {
        let sections = cascade.sections().to_vec();
        let n = sections.len();
        let zeros_b = sections.iter().filter(|s| s[2] == 0.0).count();
        let zeros_a = sections.iter().filter(|s| s[5] == 0.0).count();
        let ntaps = 2 * n + 1 - zeros_b.min(zeros_a);
        let zi = sosfilt_zi(&sections);
        Self {
            sections,
            zi,
            padlen: 3 * ntaps,
        }
    }

    /// Same filter with an explicit edge padding length (scipy's `padlen=`; 0 = no padding).
    pub fn with_padlen(mut self, padlen: usize) -> Self {
        self.padlen = padlen;
        self
    }

    /// Edge padding in use, samples.
    pub fn padlen(&self) -> usize {
        self.padlen
    }

    /// `sosfilt_zi` of the sections: the steady state for a unit step, per section.
    pub fn zi(&self) -> &[[f64; 2]] {
        &self.zi
    }

    /// Scratch length [`ZeroPhase::filtfilt_into`] needs for `n` samples.
    pub fn scratch_len(&self, n: usize) -> usize {
        n + 2 * self.padlen
    }

    /// Filters `x` forward and backward; allocates the result and scratch.
    ///
    /// # Errors
    /// [`DspError::TooShort`] when `x.len() <= padlen`.
    pub fn filtfilt(&self, x: &[f64]) -> Result<Vec<f64>, DspError> {
        let mut out = vec![0.0; x.len()];
        let mut scratch = vec![0.0; self.scratch_len(x.len())];
        self.filtfilt_into(x, &mut out, &mut scratch)?;
        Ok(out)
    }

    /// As [`ZeroPhase::filtfilt`] into caller-owned `out` (same length as `x`) using
    /// caller-owned `scratch` (at least [`ZeroPhase::scratch_len`] samples); no allocation.
    ///
    /// # Errors
    /// [`DspError::TooShort`] when `x.len() <= padlen`; [`DspError::BufferLength`] when `out`
    /// or `scratch` has the wrong size.
    pub fn filtfilt_into(
        &self,
        x: &[f64],
        out: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<(), DspError> {
        let n = x.len();
        let edge = self.padlen;
        if n <= edge || n == 0 {
            return Err(DspError::TooShort {
                len: n,
                padlen: edge,
            });
        }
        if out.len() != n {
            return Err(DspError::BufferLength {
                name: "out",
                expected: n,
                got: out.len(),
            });
        }
        let total = n + 2 * edge;
        if scratch.len() < total {
            return Err(DspError::BufferLength {
                name: "scratch",
                expected: total,
                got: scratch.len(),
            });
        }
        let ext = &mut scratch[..total];
        // Odd extension: 2*x[0] − x[edge..0], x, 2*x[n−1] − x[n−2 .. n−2−edge].
        for i in 0..edge {
            ext[i] = 2.0 * x[0] - x[edge - i];
            ext[edge + n + i] = 2.0 * x[n - 1] - x[n - 2 - i];
        }
        ext[edge..edge + n].copy_from_slice(x);
        let x0 = ext[0];
        self.sosfilt_inplace(ext.iter_mut(), x0);
        let y0 = ext[total - 1];
        self.sosfilt_inplace(ext.iter_mut().rev(), y0);
        out.copy_from_slice(&ext[edge..edge + n]);
        Ok(())
    }

    fn sosfilt_inplace<'a>(&self, data: impl Iterator<Item = &'a mut f64>, scale: f64) {
        // At most 8 + a few sections in practice; keep the state on the stack when small.
        let mut small = [[0.0f64; 2]; 32];
        let mut big;
        let z: &mut [[f64; 2]] = if self.zi.len() <= small.len() {
            &mut small[..self.zi.len()]
        } else {
            big = vec![[0.0f64; 2]; self.zi.len()];
            &mut big[..]
        };
        for (d, zi) in z.iter_mut().zip(&self.zi) {
            *d = [zi[0] * scale, zi[1] * scale];
        }
        for v in data {
            let mut x = *v;
            for (s, d) in self.sections.iter().zip(z.iter_mut()) {
                let y = s[0] * x + d[0];
                d[0] = s[1] * x - s[4] * y + d[1];
                d[1] = s[2] * x - s[5] * y;
                x = y;
            }
            *v = x;
        }
    }
}

/// `scipy.signal.sosfilt_zi`: per-section `lfilter_zi`, scaled by the DC gain of the sections
/// before it.
pub fn sosfilt_zi(sections: &[Section]) -> Vec<[f64; 2]> {
    let mut scale = 1.0;
    sections
        .iter()
        .map(|s| {
            let (b0, b1, b2, a1, a2) = (s[0], s[1], s[2], s[4], s[5]);
            // (I − Aᵀ) zi = b[1:] − a[1:] b0 for the companion matrix of a = [1, a1, a2].
            let (r0, r1) = (b1 - a1 * b0, b2 - a2 * b0);
            let z0 = (r0 + r1) / (1.0 + a1 + a2);
            let z1 = r1 - a2 * z0;
            let out = [scale * z0, scale * z1];
            scale *= (b0 + b1 + b2) / (1.0 + a1 + a2);
            out
        })
        .collect()
}
