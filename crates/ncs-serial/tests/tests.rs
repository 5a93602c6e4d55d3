//! Integration tests over real pseudo-terminals, against the virtual amplifier.

mod common;
mod faults;
mod ports;
mod session;
mod status;
mod stream;
mod thirdparty;
