//! Arbitrary bytes into the Backyard Brains and text-line decoders: no panic, frames of the
//! configured width and range only. Run: `cargo +nightly fuzz run byb_text` in firmware-bridge/.
#![no_main]

use firmware_bridge::byb::{BybConfig, BybItem};
use firmware_bridge::text::TextConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut byb = BybConfig {
        channels: 2,
        bits: 14,
        volts_per_count: 1e-6,
    }
    .build()
    .expect("valid config");
    byb.feed(data, |it| {
        if let BybItem::Frame { samples, .. } = it {
            assert_eq!(samples.len(), 2);
            assert!(samples.iter().all(|s| (-8192..8192).contains(s)));
        }
    });
    let mut text = TextConfig {
        channels: None,
        volts_per_count: 1.0,
        offset_counts: 0.0,
    }
    .build()
    .expect("valid config");
    text.feed(data, |r| {
        if let Ok(f) = r {
            assert!(!f.counts.is_empty() && f.counts.len() <= 32);
        }
    });
});
