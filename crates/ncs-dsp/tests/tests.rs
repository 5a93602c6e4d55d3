//! Integration tests of ncs-dsp (one binary, modules below).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alloc_count;
mod artefact;
mod common;
mod filter;
mod golden;
mod mains;
mod props;
mod sweep;
mod trigger;
