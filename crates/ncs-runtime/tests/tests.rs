//! Integration tests for ncs-runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#[allow(unsafe_code)] // the counting allocator implements GlobalAlloc
mod alloc;
mod common;
mod live_offline;
mod sources;
mod stall;
mod tagged;
mod windows;
mod zero_alloc;
