//! Tests of ncs-audio: the capture ring on its own, and real capture from an ALSA device.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#[allow(unsafe_code)] // the counting allocator implements GlobalAlloc
mod alloc;
mod alsa;
mod common;
mod ring;
