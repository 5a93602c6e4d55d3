//! Multichannel streaming IIR cascade: an immutable, validated [`Cascade`] used through `&self`
//! plus a separate [`CascadeState`]. Transposed direct form II, state in f64, channels innermost
//! so one section is applied to all channels of a frame side by side (SIMD lanes).

use crate::design::{frequency_response, group_delay_samples, section_poles, FilterSpec, Section};
use crate::error::{check_fs, DspError};
use crate::lanes::{self, Io, Kind};
use rustfft::num_complex::Complex64;

/// Sample types accepted by the streaming filter (`f32` and `f64`); computation is in f64.
pub trait Sample: Copy + sealed::Sealed {
    /// Widen to f64.
    fn to_f64(self) -> f64;
    /// Narrow from f64 (rounding to nearest for f32).
    fn from_f64(x: f64) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl Sample for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// Longest cascade handled by the specialised block loops (longer ones use the generic loop).
pub(crate) const MAX_FAST_SECTIONS: usize = 16;

/// What to build: sample rate, channel count and the stages of the cascade in order (e.g. a
/// band-pass followed by a 50 Hz notch).
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Channels per interleaved frame.
    pub channels: usize,
    /// Stages, applied in this order.
    pub stages: Vec<FilterSpec>,
}

impl CascadeConfig {
    /// Designs every stage and returns the ready cascade.
    ///
    /// # Errors
    /// Any design error of a stage, [`DspError::Channels`] for zero channels,
    /// [`DspError::NoSections`] for an empty stage list.
    pub fn build(&self) -> Result<Cascade, DspError> {
        let fs = check_fs(self.sample_rate_hz)?;
        let mut sections = Vec::new();
        for stage in &self.stages {
            sections.extend(stage.design(fs)?);
        }
        Cascade::from_sections(fs, self.channels, &sections)
    }
}

/// A validated, immutable cascade of second-order sections for `channels` interleaved channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    fs: f64,
    channels: usize,
    sections: Vec<Section>,
    /// `Kind::of` each section, worked out once.
    kinds: Vec<Kind>,
}

/// Running state of a [`Cascade`]: two f64 delay values per section per channel, laid out
/// `[section][delay][channel]` so the channel loop walks contiguous memory. Equality compares
/// the filter state (not the per-frame scratch).
#[derive(Debug, Clone)]
pub struct CascadeState {
    z: Vec<f64>,
    work: Vec<f64>,
    channels: usize,
}

impl PartialEq for CascadeState {
    fn eq(&self, other: &Self) -> bool {
        self.channels == other.channels && self.z == other.z
    }
}

impl CascadeState {
    /// Restores the initial (all-zero) state exactly.
    pub fn reset(&mut self) {
        self.z.iter_mut().for_each(|v| *v = 0.0);
        self.work.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Channels this state was made for.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

impl Cascade {
    /// Builds a cascade from explicit sections (normalised so `a0 = 1`).
    ///
    /// # Errors
    /// [`DspError::SampleRate`], [`DspError::Channels`], [`DspError::NoSections`], or
    /// [`DspError::Section`] when a section is not finite, has `a0 == 0`, or has a pole on or
    /// outside the unit circle.
    pub fn from_sections(
        sample_rate_hz: f64,
        channels: usize,
        sections: &[Section],
    ) -> Result<Self, DspError> {
        let fs = check_fs(sample_rate_hz)?;
        if channels == 0 {
            return Err(DspError::Channels(channels));
        }
        if sections.is_empty() {
            return Err(DspError::NoSections);
        }
        let mut out = Vec::with_capacity(sections.len());
        for (index, s) in sections.iter().enumerate() {
            let bad = |reason| DspError::Section {
                index,
                reason,
                coefficients: *s,
            };
            if s.iter().any(|c| !c.is_finite()) {
                return Err(bad("coefficients must be finite"));
            }
            if s[3] == 0.0 {
                return Err(bad("a0 must be non-zero"));
            }
            let a0 = s[3];
            let n = [s[0] / a0, s[1] / a0, s[2] / a0, 1.0, s[4] / a0, s[5] / a0];
            if section_poles(&n).iter().any(|p| p.norm() >= 1.0) {
                return Err(bad("poles must lie inside the unit circle"));
            }
            out.push(n);
        }
        let kinds = out.iter().map(Kind::of).collect();
        Ok(Self {
            fs,
            channels,
            sections: out,
            kinds,
        })
    }

    /// Sample rate, Hz.
    pub fn sample_rate_hz(&self) -> f64 {
        self.fs
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The sections, `[b0, b1, b2, 1, a1, a2]` each.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// A fresh, zeroed state sized for this cascade (the only allocation of the filter).
    pub fn new_state(&self) -> CascadeState {
        CascadeState {
            z: vec![0.0; self.sections.len() * 2 * self.channels],
            work: vec![0.0; self.channels],
            channels: self.channels,
        }
    }

    /// Complex frequency response at `f_hz`.
    pub fn frequency_response(&self, f_hz: f64) -> Complex64 {
        frequency_response(&self.sections, f_hz, self.fs)
    }

    /// Group delay of the causal filter at `f_hz`, milliseconds. Not finite exactly at a notch
    /// frequency (a zero on the unit circle).
    pub fn group_delay_ms(&self, f_hz: f64) -> f64 {
        group_delay_samples(&self.sections, f_hz, self.fs) * 1e3 / self.fs
    }

    /// A single representative delay, ms: the group delay at the geometric centre
    /// `√(f₁·f₂)` of the pass band, where `f₁`, `f₂` are the lowest and highest of 2000
    /// log-spaced frequencies (1 Hz to 0.49·fs) with `|H| ≥ 1/√2`. For the clinical band-pass
    /// 2 Hz–3 kHz that is ≈ 77 Hz, near the bulk of a CMAP's energy. (If the centre falls on a
    /// notch, the delay 1 % above it is used.)
    pub fn representative_delay_ms(&self) -> f64 {
        let (lo, hi) = (1.0f64.min(self.fs * 1e-3), 0.49 * self.fs);
        let n = 2000;
        let mut band: Option<(f64, f64)> = None;
        for i in 0..n {
            let f = lo * (hi / lo).powf(i as f64 / (n - 1) as f64);
            if self.frequency_response(f).norm_sqr() >= 0.5 {
                band = Some(band.map_or((f, f), |(a, _)| (a, f)));
            }
        }
        let (f1, f2) = band.unwrap_or((lo, hi));
        let fc = (f1 * f2).sqrt();
        let d = self.group_delay_ms(fc);
        if d.is_finite() {
            d
        } else {
            self.group_delay_ms(fc * 1.01)
        }
    }

    /// Filters one interleaved frame (`channels` samples). Shorter slices process only the
    /// channels present in both; never allocates, never fails.
    #[inline]
    pub fn process_frame<T: Sample>(
        &self,
        state: &mut CascadeState,
        input: &[T],
        output: &mut [T],
    ) {
        let ch = self.channels.min(state.channels);
        let work = &mut state.work[..ch];
        for (w, x) in work.iter_mut().zip(input) {
            *w = x.to_f64();
        }
        self.run_sections(&mut state.z, state.channels, work);
        for (o, w) in output.iter_mut().zip(work.iter()) {
            *o = T::from_f64(*w);
        }
    }

    /// Filters whole interleaved frames from `input` into `output`; returns the number of
    /// frames processed (`min(input.len(), output.len()) / channels`). Bit-identical to calling
    /// [`Cascade::process_frame`] on each frame. Never allocates, never fails.
    ///
    /// Common channel counts (1, 2, 4, 8, 16) with up to 16 sections run a specialised loop
    /// that keeps the state in fixed-size local arrays, so one section's update is a handful of
    /// vector instructions across all channels; on x86-64 processors with AVX that loop runs
    /// with 4-lane vectors (chosen at run time, see `lanes.rs`), with the same results.
    pub fn process<T: Sample>(
        &self,
        state: &mut CascadeState,
        input: &[T],
        output: &mut [T],
    ) -> usize {
        let ch = self.channels;
        let frames = input.len().min(output.len()) / ch;
        let (input, output) = (&input[..frames * ch], &mut output[..frames * ch]);
        if state.channels == ch && self.sections.len() <= MAX_FAST_SECTIONS {
            let (s, k, z) = (&self.sections[..], &self.kinds[..], &mut state.z[..]);
            let io = Io::Copy(input, output);
            match ch {
                1 => return lanes::block::<1, T>(s, k, z, io),
                2 => return lanes::block::<2, T>(s, k, z, io),
                4 => return lanes::block::<4, T>(s, k, z, io),
                8 => return lanes::block::<8, T>(s, k, z, io),
                16 => return lanes::block::<16, T>(s, k, z, io),
                _ => {}
            }
        }
        for (fi, fo) in input.chunks_exact(ch).zip(output.chunks_exact_mut(ch)) {
            self.process_frame(state, fi, fo);
        }
        frames
    }

    /// In-place variant of [`Cascade::process`]; returns the number of frames processed.
    /// Bit-identical to [`Cascade::process`] and to [`Cascade::process_frame`] on each frame.
    pub fn process_in_place<T: Sample>(&self, state: &mut CascadeState, buf: &mut [T]) -> usize {
        let ch = self.channels;
        let frames = buf.len() / ch;
        let buf = &mut buf[..frames * ch];
        if state.channels == ch && self.sections.len() <= MAX_FAST_SECTIONS {
            let (s, k, z) = (&self.sections[..], &self.kinds[..], &mut state.z[..]);
            let io = Io::InPlace(buf);
            match ch {
                1 => return lanes::block::<1, T>(s, k, z, io),
                2 => return lanes::block::<2, T>(s, k, z, io),
                4 => return lanes::block::<4, T>(s, k, z, io),
                8 => return lanes::block::<8, T>(s, k, z, io),
                16 => return lanes::block::<16, T>(s, k, z, io),
                _ => {}
            }
        }
        for f in buf.chunks_exact_mut(ch) {
            let work = &mut state.work[..ch.min(state.channels)];
            for (w, x) in work.iter_mut().zip(f.iter()) {
                *w = x.to_f64();
            }
            self.run_sections(&mut state.z, state.channels, work);
            for (o, w) in f.iter_mut().zip(work.iter()) {
                *o = T::from_f64(*w);
            }
        }
        frames
    }

    /// The hot loop: for each section, all channels side by side.
    #[inline(always)]
    fn run_sections(&self, z: &mut [f64], stride: usize, work: &mut [f64]) {
        let steps = self.sections.iter().zip(&self.kinds);
        for ((s, &kind), zs) in steps.zip(z.chunks_exact_mut(2 * stride)) {
            let (z0, z1) = zs.split_at_mut(stride);
            lanes::section(kind, s, work, z0, z1);
        }
    }
}
