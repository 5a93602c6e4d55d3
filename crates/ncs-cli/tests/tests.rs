//! Tests of the `ncs` command, run as a separate process like a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod acquire_record;
mod audio;
mod bad_input;
mod common;
mod criteria_file;
mod examiner;
mod examiner_amp;
mod filters;
mod fixtures;
mod gaps;
mod interop;
mod live;
mod protocol_sites;
mod protocols;
mod real_data;
mod replay;
mod serial;
mod shutdown;
mod simulate;
mod terminal;
