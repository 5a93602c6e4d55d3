//! Times the streaming filter on the acquisition chain (8 channels, order-4 band-pass
//! 2 Hz–3 kHz at 20 kHz = 4 sections, plus a 50 Hz notch) for `benches/filter_vs_scipy.py`.
//!
//! usage: filter_throughput INPUT.f64 OUTPUT.f64 REPEATS
//! INPUT holds interleaved little-endian f64 frames (8 channels); OUTPUT receives the filtered
//! f64 frames. Prints one JSON line: sections, frames, best seconds per pass for the f64 and f32
//! paths and for the channel-at-a-time layout, and throughput in samples (all channels) per second.

use ncs_dsp::{Cascade, CascadeConfig, FilterSpec};
use std::time::Instant;

const CHANNELS: usize = 8;

fn chain(channels: usize) -> Result<Cascade, ncs_dsp::DspError> {
    CascadeConfig {
        sample_rate_hz: 20_000.0,
        channels,
        stages: vec![
            FilterSpec::Bandpass {
                order: 4,
                low_hz: 2.0,
                high_hz: 3000.0,
            },
            FilterSpec::Notch {
                freq_hz: 50.0,
                q: 30.0,
            },
        ],
    }
    .build()
}

fn best_of(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: filter_throughput INPUT.f64 OUTPUT.f64 REPEATS".into());
    }
    let bytes = std::fs::read(&args[1])?;
    let x: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    let repeats: usize = args[3].parse()?;
    let frames = x.len() / CHANNELS;
    let c = chain(CHANNELS)?;

    // f64 in/out, channels side by side.
    let mut y = vec![0.0f64; x.len()];
    let t64 = best_of(repeats, || {
        let mut st = c.new_state();
        c.process(&mut st, &x, &mut y);
    });
    // f32 in/out (what an amplifier stream delivers), same state precision.
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let mut y32 = vec![0.0f32; x.len()];
    let t32 = best_of(repeats, || {
        let mut st = c.new_state();
        c.process(&mut st, &x32, &mut y32);
    });
    // The same work one channel at a time (de-interleaved buffers), to measure what putting
    // the channels in the inner loop buys.
    let c1 = chain(1)?;
    let planar: Vec<Vec<f64>> = (0..CHANNELS)
        .map(|ch| x.iter().skip(ch).step_by(CHANNELS).copied().collect())
        .collect();
    let mut out1 = vec![0.0f64; frames];
    let t_planar = best_of(repeats, || {
        for p in &planar {
            let mut st = c1.new_state();
            c1.process(&mut st, p, &mut out1);
        }
    });

    let mut out = Vec::with_capacity(y.len() * 8);
    for v in &y {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&args[2], out)?;
    let sections: Vec<String> = c
        .sections()
        .iter()
        .map(|s| format!("[{}]", s.map(|v| format!("{v:e}")).join(",")))
        .collect();
    let samples = x.len() as f64;
    println!(
        "{{\"channels\":{CHANNELS},\"frames\":{frames},\"sections\":[{}],\"seconds_f64\":{t64:e},\"seconds_f32\":{t32:e},\
         \"seconds_channel_at_a_time\":{t_planar:e},\"msamples_per_s_f64\":{:.3},\"msamples_per_s_f32\":{:.3},\
         \"msamples_per_s_channel_at_a_time\":{:.3}}}",
        sections.join(","),
        samples / t64 / 1e6,
        samples / t32 / 1e6,
        samples / t_planar / 1e6
    );
    Ok(())
}
