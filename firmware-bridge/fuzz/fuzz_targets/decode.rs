//! Arbitrary bytes, split at a fuzzer-chosen point, into the frame decoder: it must never
//! panic, never hold more than it was given, and every data frame it returns must be
//! internally consistent. Run: `cargo +nightly fuzz run decode` in firmware-bridge/.
#![no_main]

use firmware_bridge::{Decoder, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(split).min(bytes.len());
    let mut dec = Decoder::<512>::with_capacity();
    let mut out = [0i32; 4096];
    for piece in [&bytes[..cut], &bytes[cut..]] {
        dec.feed(piece, |r| {
            if let Ok(Frame::Data(d)) = r {
                let n = d.samples_into(&mut out).expect("a frame fits 4096 samples");
                assert_eq!(n, d.sample_frames() * usize::from(d.header().channels));
                assert!(d
                    .header()
                    .marks
                    .as_slice()
                    .iter()
                    .all(|&m| usize::from(m) < d.sample_frames()));
            }
        });
    }
    assert!(dec.buffered() <= bytes.len());
});
