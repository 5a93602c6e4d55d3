//! Integration tests for ncs-cmap.
#![allow(clippy::unwrap_used, missing_docs)]
#[allow(unsafe_code)] // the counting allocator implements GlobalAlloc
mod alloc;
mod common;
mod decisions;
mod sim_grid;
mod synthetic;
