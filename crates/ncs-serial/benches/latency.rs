//! Decoder throughput and end-to-end latency over a pseudo-terminal.
//!
//! `cargo bench -p ncs-serial --bench latency` prints:
//! * decoder throughput (MB/s) on 8 ch × 20 kHz i24 frames;
//! * host throughput over the pty (emulator unpaced → `SerialSource` → volts), MB/s;
//! * at real-time pace: latency from a frame leaving the emulator to its samples being
//!   returned by `SerialSource::read`, and from the frame completing a sweep window to the
//!   `Processor`'s measurement (p50 / p99 / max).
//!
//! Under `cargo test` (debug assertions) it runs once on a short stream so it keeps working.

use std::collections::HashMap;
use std::time::Instant;

use firmware_bridge::{encode_data_frame, DataHeader, Decoder, Frame, SampleFormat};
use ncs_runtime::{Measurement, Processor, ProcessorConfig, ReadOutcome, Source};
use ncs_serial::{PortSpec, SerialConfig, SerialSource};
use ncs_virtual_amp::{Amp, AmpConfig, Content};

const SHORT: bool = cfg!(debug_assertions);

fn scenario() -> ncs_sim::Scenario {
    let mut s = ncs_sim::scenario("mmn").expect("built-in scenario");
    s.channels = 8;
    s.trigger_channel = false;
    s
}

fn decoder_throughput() {
    let frames = if SHORT { 100 } else { 20_000 };
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 1024];
    let samples: Vec<i32> = (0..160)
        .map(|i| (i * 9973) % 8_000_000 - 4_000_000)
        .collect();
    for k in 0..frames {
        let h = DataHeader::new(k as u32, k as u64 * 20, 8, SampleFormat::I24);
        let n = encode_data_frame(&h, &samples, &mut buf).expect("encodes");
        wire.extend_from_slice(&buf[..n]);
    }
    let mut out = vec![0i32; 160];
    let reps = if SHORT { 1 } else { 20 };
    let t = Instant::now();
    let mut ok = 0u64;
    for _ in 0..reps {
        let mut d = Decoder::new();
        for chunk in wire.chunks(4096) {
            d.feed(chunk, |item| {
                if let Ok(Frame::Data(f)) = item {
                    ok += f.samples_into(&mut out).map_or(0, |_| 1);
                }
            });
        }
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(ok, (frames * reps) as u64);
    println!(
        "decoder: {:.0} MB/s ({} frames of 8 ch x 20 i24, 4 KiB pieces, samples extracted)",
        (wire.len() * reps) as f64 / s / 1e6,
        frames * reps
    );
}

struct Run {
    amp: std::thread::JoinHandle<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    path: std::path::PathBuf,
}

fn start(speed: f64, frames: u64, tx: Option<std::sync::mpsc::Sender<(u64, u64, Instant)>>) -> Run {
    let mut cfg = AmpConfig::new(Content::Study(Box::new(scenario())));
    cfg.speed = speed;
    cfg.max_frames = Some(frames);
    cfg.exit_at_end = true;
    cfg.on_sent = tx;
    let mut amp = Amp::new(cfg).expect("emulator");
    let path = amp.path().to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = std::sync::Arc::clone(&stop);
    let amp = std::thread::spawn(move || {
        amp.run(&s).expect("emulator runs");
    });
    Run { amp, stop, path }
}

fn host(path: &std::path::Path, frames: u64) -> SerialSource {
    let mut cfg = SerialConfig::new(PortSpec::Path(path.to_owned()));
    cfg.stop_after = Some(frames);
    SerialSource::open(cfg).expect("host")
}

fn pty_throughput() {
    let frames = if SHORT { 20_000 } else { 600_000 };
    let run = start(0.0, frames, None);
    let mut src = host(&run.path, frames);
    let mut block = vec![0f32; 4096 * 8];
    let mut marks = Vec::new();
    let t = Instant::now();
    while src.read(&mut block, &mut marks).expect("reads") != ReadOutcome::End {
        marks.clear();
    }
    let s = t.elapsed().as_secs_f64();
    let st = src.stats();
    run.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    run.amp.join().expect("emulator thread");
    println!(
        "pty end to end (emulator unpaced, 8 ch x 20 kHz i24): {:.1} MB/s, {:.1}x real time",
        st.bytes_received as f64 / s / 1e6,
        frames as f64 / 20_000.0 / s
    );
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn latency() {
    let frames = if SHORT { 10_000 } else { 400_000 };
    let (tx, rx) = std::sync::mpsc::channel();
    let run = start(1.0, frames, Some(tx));
    let mut src = host(&run.path, frames);
    let info = src.info().clone();
    let mut proc =
        Processor::new(ProcessorConfig::default(), &info, Vec::new()).expect("processor");
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut frame_lat = Vec::new();
    let mut meas_lat = Vec::new();
    let mut block = vec![0f32; 1024 * 8];
    let mut marks = Vec::new();
    loop {
        marks.clear();
        let o = src.read(&mut block, &mut marks).expect("reads");
        let now = Instant::now();
        for (first, n, at) in rx.try_iter() {
            // One entry per frame: its last sample, when it left.
            sent.insert(first + n - 1, at);
        }
        match o {
            ReadOutcome::End => break,
            ReadOutcome::Lost {
                first_sample,
                count,
            } => proc.gap(first_sample, count),
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                if frames > 0 {
                    let last = first_sample + frames as u64 - 1;
                    if let Some(at) = sent.get(&last) {
                        frame_lat.push(now.duration_since(*at).as_secs_f64() * 1e3);
                    }
                }
                let mut done: Vec<Measurement> = Vec::new();
                let mut sink = |m: &Measurement| done.push(*m);
                proc.push(first_sample, &block[..frames * 8], &marks, &mut sink);
                let t = Instant::now();
                for m in done {
                    // The frame holding the window's last sample completed the sweep.
                    let last = m.window_end_sample - 1;
                    let key = last - last % 20 + 19;
                    if let Some(at) = sent.get(&key) {
                        meas_lat.push(t.duration_since(*at).as_secs_f64() * 1e3);
                    }
                }
            }
        }
    }
    run.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    run.amp.join().expect("emulator thread");
    assert!(!frame_lat.is_empty());
    println!(
        "frame leaves emulator -> samples returned by read (real-time pace, {} frames): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        frame_lat.len(),
        pct(&mut frame_lat, 0.5),
        pct(&mut frame_lat, 0.99),
        pct(&mut frame_lat, 1.0)
    );
    if !meas_lat.is_empty() {
        println!(
            "sweep-completing frame leaves emulator -> measurement ({} sweeps): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            meas_lat.len(),
            pct(&mut meas_lat, 0.5),
            pct(&mut meas_lat, 0.99),
            pct(&mut meas_lat, 1.0)
        );
    }
}

fn main() {
    decoder_throughput();
    pty_throughput();
    latency();
}
