//! The streaming filter's block loop for `N` interleaved channels, and the run-time choice of
//! vector width for it.
//!
//! One frame is `N` channels side by side in a fixed-size array, so each section's update is a
//! few packed f64 operations across all channels. A baseline x86-64 build (what
//! `cargo build --release` gives) only has SSE2's two f64 lanes, and the loop is then bound by
//! arithmetic throughput at about 3× `scipy.signal.sosfilt`. The same loop compiled for AVX
//! uses four lanes, and for AVX-512 (8 or 16 channels) eight, chosen at run time.
//!
//! # Why this module allows `unsafe`
//!
//! The crate is otherwise `unsafe`-free (`#![deny(unsafe_code)]`, and nothing else allows it).
//! Calling a function compiled with `#[target_feature(enable = "avx")]` (or `"avx512f"`) from
//! one without is `unsafe`, because running those instructions on a processor without them is
//! undefined behaviour. The only such calls are in [`block`], each right after
//! `is_x86_feature_detected!` returned true for that feature (the standard library caches the
//! answer), which is exactly the condition the call requires. Safe alternatives were tried first: the
//! portable loop is what LLVM vectorises for SSE2, and no safe way to reach wider lanes
//! exists without a crate doing the same `unsafe` call internally.
//!
//! # Same results on every processor
//!
//! AVX and AVX-512F are enabled without FMA, and Rust never contracts `a * b + c` into a fused operation,
//! so each lane performs the same IEEE-754 multiplications and additions, in the same order,
//! as the SSE2 loop and as the per-frame path ([`crate::Cascade::process_frame`]): the output
//! is bit-identical whichever loop runs (the test suite checks it against the per-frame path
//! on the machine it runs on).
#![allow(unsafe_code)]

use crate::design::Section;
use crate::filter::{Sample, MAX_FAST_SECTIONS};

/// Where a block's samples come from and go to.
pub(crate) enum Io<'a, T> {
    /// From one slice into another of the same length.
    Copy(&'a [T], &'a mut [T]),
    /// Filtered in place.
    InPlace(&'a mut [T]),
}

/// Filters whole frames of `N` channels through `sections` (at most [`MAX_FAST_SECTIONS`],
/// `kinds[i]` = `Kind::of(&sections[i])`),
/// with the state `z` laid out `[section][delay][channel]`; returns the number of frames.
pub(crate) fn block<const N: usize, T: Sample>(
    sections: &[Section],
    kinds: &[Kind],
    z: &mut [f64],
    io: Io<'_, T>,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if N >= 8 && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor supports AVX-512F (checked just above), the only
            // requirement of a `#[target_feature(enable = "avx512f")]` function.
            return unsafe { block_avx512::<N, T>(sections, kinds, z, io) };
        }
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: the processor supports AVX (checked just above), the only requirement
            // of a `#[target_feature(enable = "avx")]` function.
            return unsafe { block_avx::<N, T>(sections, kinds, z, io) };
        }
    }
    kernel::<N, T>(sections, kinds, z, io)
}

/// [`kernel`] compiled with 256-bit vectors (4 f64 lanes), no FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn block_avx<const N: usize, T: Sample>(
    sections: &[Section],
    kinds: &[Kind],
    z: &mut [f64],
    io: Io<'_, T>,
) -> usize {
    kernel::<N, T>(sections, kinds, z, io)
}

/// [`kernel`] compiled with 512-bit vectors (8 f64 lanes), no FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<const N: usize, T: Sample>(
    sections: &[Section],
    kinds: &[Kind],
    z: &mut [f64],
    io: Io<'_, T>,
) -> usize {
    kernel::<N, T>(sections, kinds, z, io)
}

/// The block loop: state copied into local arrays for the block (no aliasing with the
/// samples, fixed trip counts), written back at the end. Same arithmetic, in the same order,
/// as `Cascade::run_sections`.
#[inline(always)]
fn kernel<const N: usize, T: Sample>(
    sections: &[Section],
    kinds: &[Kind],
    z: &mut [f64],
    io: Io<'_, T>,
) -> usize {
    let ns = sections.len().min(kinds.len()).min(MAX_FAST_SECTIONS);
    let (sections, kinds) = (&sections[..ns], &kinds[..ns]);
    let mut zs = [[[0.0f64; N]; 2]; MAX_FAST_SECTIONS];
    for (local, stored) in zs.iter_mut().zip(z.chunks_exact(2 * N)) {
        local[0].copy_from_slice(&stored[..N]);
        local[1].copy_from_slice(&stored[N..]);
    }
    let zs_used = &mut zs[..ns];
    let mut frames = 0;
    match io {
        Io::Copy(input, output) => {
            for (fi, fo) in input.chunks_exact(N).zip(output.chunks_exact_mut(N)) {
                let mut v = [0.0f64; N];
                for (w, x) in v.iter_mut().zip(fi) {
                    *w = x.to_f64();
                }
                frame(sections, kinds, zs_used, &mut v);
                for (o, w) in fo.iter_mut().zip(v.iter()) {
                    *o = T::from_f64(*w);
                }
                frames += 1;
            }
        }
        Io::InPlace(buf) => {
            for f in buf.chunks_exact_mut(N) {
                let mut v = [0.0f64; N];
                for (w, x) in v.iter_mut().zip(f.iter()) {
                    *w = x.to_f64();
                }
                frame(sections, kinds, zs_used, &mut v);
                for (o, w) in f.iter_mut().zip(v.iter()) {
                    *o = T::from_f64(*w);
                }
                frames += 1;
            }
        }
    }
    for (local, stored) in zs.iter().zip(z.chunks_exact_mut(2 * N)) {
        stored[..N].copy_from_slice(&local[0]);
        stored[N..].copy_from_slice(&local[1]);
    }
    frames
}

/// One frame through every section (transposed direct form II, all channels side by side).
#[inline(always)]
fn frame<const N: usize>(
    sections: &[Section],
    kinds: &[Kind],
    zs: &mut [[[f64; N]; 2]],
    v: &mut [f64; N],
) {
    for ((s, &kind), zz) in sections.iter().zip(kinds).zip(zs.iter_mut()) {
        let [d0, d1] = zz;
        section(kind, s, &mut v[..], &mut d0[..], &mut d1[..]);
    }
}

/// How a section's numerator `[b0, b1, b2]` can be applied with fewer operations and the same
/// result: Butterworth sections from `scipy.signal.butter(..., output="sos")` have numerators
/// `[1, ±2, 1]` or `[g, 2g, g]`, and notches `[g, b1, g]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Any numerator: `b0·x`, `b1·x`, `b2·x`.
    General,
    /// `b2 == b0`: `b0·x` serves for `b2·x` (the same product, exactly).
    Symmetric {
        /// `b0 == 1`: `b0·x` is `x` (exactly).
        unit: bool,
        /// How `b1·x` is formed.
        middle: Middle,
    },
}

/// The middle term of a symmetric numerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Middle {
    /// `b1·x`, any `b1`.
    Any,
    /// `b1 == 2·b0`: `b1·x` is `b0·x + b0·x` (doubling is exact).
    Double,
    /// `b1 == -2·b0`: `b1·x − a1·y` is `−(b0·x + b0·x + a1·y)` (rounding is symmetric).
    MinusDouble,
}

impl Kind {
    /// The cheapest exact form for a normalised section `[b0, b1, b2, 1, a1, a2]`.
    pub(crate) fn of(s: &Section) -> Kind {
        let [b0, b1, b2, ..] = *s;
        if b2 != b0 {
            return Kind::General;
        }
        let middle = if b1 == 2.0 * b0 {
            Middle::Double
        } else if b1 == -2.0 * b0 {
            Middle::MinusDouble
        } else {
            Middle::Any
        };
        Kind::Symmetric {
            unit: b0 == 1.0,
            middle,
        }
    }
}

/// One section on every channel of a frame: `v` in, `v` out, delays `d0`, `d1` updated. The
/// per-frame and block paths both run this, so they agree bit for bit; each form computes the
/// same IEEE-754 values as the general one (`scipy.signal.sosfilt`'s arithmetic), except that
/// doubling a product that underflowed to a subnormal may differ in its last bit.
#[inline(always)]
pub(crate) fn section(kind: Kind, s: &Section, v: &mut [f64], d0: &mut [f64], d1: &mut [f64]) {
    match kind {
        Kind::General => general(s, v, d0, d1),
        Kind::Symmetric {
            unit: false,
            middle: Middle::Any,
        } => symmetric::<false, 0>(s, v, d0, d1),
        Kind::Symmetric {
            unit: false,
            middle: Middle::Double,
        } => symmetric::<false, 1>(s, v, d0, d1),
        Kind::Symmetric {
            unit: false,
            middle: Middle::MinusDouble,
        } => symmetric::<false, 2>(s, v, d0, d1),
        Kind::Symmetric {
            unit: true,
            middle: Middle::Any,
        } => symmetric::<true, 0>(s, v, d0, d1),
        Kind::Symmetric {
            unit: true,
            middle: Middle::Double,
        } => symmetric::<true, 1>(s, v, d0, d1),
        Kind::Symmetric {
            unit: true,
            middle: Middle::MinusDouble,
        } => symmetric::<true, 2>(s, v, d0, d1),
    }
}

#[inline(always)]
fn general(s: &Section, v: &mut [f64], d0: &mut [f64], d1: &mut [f64]) {
    let [b0, b1, b2, _, a1, a2] = *s;
    for ((x, d0), d1) in v.iter_mut().zip(d0.iter_mut()).zip(d1.iter_mut()) {
        let xin = *x;
        let y = b0 * xin + *d0;
        *d0 = b1 * xin - a1 * y + *d1;
        *d1 = b2 * xin - a2 * y;
        *x = y;
    }
}

/// `MIDDLE`: 0 [`Middle::Any`], 1 [`Middle::Double`], 2 [`Middle::MinusDouble`].
#[inline(always)]
fn symmetric<const UNIT: bool, const MIDDLE: u8>(
    s: &Section,
    v: &mut [f64],
    d0: &mut [f64],
    d1: &mut [f64],
) {
    let [b0, b1, _, _, a1, a2] = *s;
    for ((x, d0), d1) in v.iter_mut().zip(d0.iter_mut()).zip(d1.iter_mut()) {
        let xin = *x;
        let bx = if UNIT { xin } else { b0 * xin };
        let y = bx + *d0;
        *d0 = match MIDDLE {
            0 => b1 * xin - a1 * y + *d1,
            1 => (bx + bx) - a1 * y + *d1,
            _ => *d1 - ((bx + bx) + a1 * y),
        };
        *d1 = bx - a2 * y;
        *x = y;
    }
}
