//! Integration tests of ncs-io (one binary; modules per topic).
#![allow(missing_docs)]

mod common;
mod errors;
mod interop;
mod real_data;
mod roundtrip;
mod swmr;
