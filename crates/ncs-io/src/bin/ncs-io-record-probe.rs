//! Test helper: records a synthetic session and reports each flush on stdout, forever or
//! until `frames` frames were written; the SIGKILL test kills it mid-recording.
//!
//! Usage: `ncs-io-record-probe <path> <channels> <frames-per-flush> [max-flushes]`.
//! Sample `i` of channel `c` is `((i * channels + c) % 1000) as f32 * 1e-6` volts, so a reader
//! can check every value. Each flush prints `flushed <frames>`.

use std::io::Write;

use ncs_io::{SessionMeta, SessionWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err(
            "usage: ncs-io-record-probe <path> <channels> <frames-per-flush> [max-flushes]".into(),
        );
    }
    let channels: usize = args[2].parse()?;
    let per_flush: usize = args[3].parse()?;
    let max_flushes: Option<u64> = args.get(4).map(|s| s.parse()).transpose()?;
    let names: Vec<String> = (0..channels).map(|c| format!("ch{c}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut meta = SessionMeta::new(
        "probe",
        "kill test",
        "2024-01-01T00:00:00Z",
        20_000.0,
        &refs,
    );
    meta.flush_interval = None;
    let mut w = SessionWriter::create(&args[1], &meta)?;
    let mut out = std::io::stdout();
    let mut i: u64 = 0;
    let mut flushes = 0u64;
    let mut block = vec![0f32; per_flush * channels];
    loop {
        for (k, v) in block.iter_mut().enumerate() {
            *v = (((i as usize) * channels + k) % 1000) as f32 * 1e-6;
        }
        w.append_frames(&block)?;
        i += per_flush as u64;
        let n = w.flush()?;
        flushes += 1;
        writeln!(out, "flushed {n}")?;
        out.flush()?;
        if max_flushes.is_some_and(|m| flushes >= m) {
            w.finish()?;
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
