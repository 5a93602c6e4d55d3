//! Integration tests over real pseudo-terminals, against the virtual amplifier.

#[allow(unsafe_code)] // the counting allocator implements GlobalAlloc
mod alloc;
mod common;
mod faults;
mod fire;
mod ports;
mod session;
mod status;
mod stream;
mod thirdparty;
