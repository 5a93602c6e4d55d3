//! Integration tests of firmware-bridge.

mod byb;
mod common;
mod decoder;
mod protocol_doc;
mod roundtrip;
mod text;
