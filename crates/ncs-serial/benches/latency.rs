//! Decoder throughput and end-to-end latency over a pseudo-terminal.
//!
//! `cargo bench -p ncs-serial --bench latency` prints:
//! * decoder throughput (MB/s) on 8 ch × 20 kHz i24 frames;
//! * host throughput over the pty (emulator unpaced → `SerialSource` → volts), MB/s;
//! * at real-time pace, through the threaded pipeline (`ncs_runtime::run`, as `ncs acquire`
//!   runs it): latency from the frame completing a sweep window leaving the emulator to the
//!   measurement reaching the output thread (p50 / p99 / max over 30 s at 10 stimuli/s, about
//!   300 sweeps), with the pipeline's own share (block arrival → measurement).
//!
//! Under `cargo test` (debug assertions) it runs once on a short stream so it keeps working.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware_bridge::{encode_data_frame, DataHeader, Decoder, Frame, SampleFormat};
use ncs_runtime::pipeline::{Event, Output};
use ncs_runtime::{
    Measurement, NoAnalysis, Overflow, PipelineConfig, ProcessorConfig, ReadOutcome, Source,
};
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
    start_with(scenario(), speed, frames, tx)
}

fn start_with(
    sc: ncs_sim::Scenario,
    speed: f64,
    frames: u64,
    tx: Option<std::sync::mpsc::Sender<(u64, u64, Instant)>>,
) -> Run {
    let mut cfg = AmpConfig::new(Content::Study(Box::new(sc)));
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

/// Keeps, for every measurement, when it reached the output thread.
struct Arrivals {
    got: Vec<(Measurement, Instant, Option<Duration>)>,
}

impl Output<()> for Arrivals {
    fn on_event(&mut self, event: &Event<()>) {
        if let Event::Measurement { m, latency } = event {
            self.got.push((*m, Instant::now(), *latency));
        }
    }
}

fn latency() {
    // Ten stimuli a second, four sweeps per intensity, short pauses: up to 30 s of the
    // 8-channel study holds > 200 sweeps of 5 + 50 ms.
    let mut sc = scenario();
    sc.stim_rate_hz = 10.0;
    sc.sweeps_per_intensity = 4;
    sc.lead_in_s = 0.2;
    sc.site_gap_s = 0.2;
    let study = ncs_sim::StudySource::new(&sc).expect("study");
    let frames: u64 = (if SHORT { 40_000 } else { 600_000 }).min(study.total_frames());
    let stimuli = study
        .stimuli()
        .iter()
        .filter(|s| s.sample_index + 1_000 < frames)
        .count();
    drop(study);
    let (tx, rx) = std::sync::mpsc::channel();
    let run = start_with(sc, 1.0, frames, Some(tx));
    let src = host(&run.path, frames);
    let config = PipelineConfig {
        processor: ProcessorConfig {
            pre_ms: 5.0,
            post_ms: 50.0,
            ..ProcessorConfig::default()
        },
        // A live source: a full ring is recorded loss, never a wait.
        overflow: Overflow::Drop,
        ..PipelineConfig::default()
    };
    let output = Arrivals {
        got: Vec::with_capacity(4096),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let done = ncs_runtime::run(src, config, NoAnalysis, output, None, stop).expect("pipeline");
    run.stop.store(true, Ordering::Relaxed);
    run.amp.join().expect("emulator thread");
    let summary = done.summary;
    assert_eq!(summary.lost_frames(), 0, "nothing lost at real-time pace");
    // When each frame (by its first sample) left the emulator.
    let sent: HashMap<u64, Instant> = rx.try_iter().map(|(first, _, at)| (first, at)).collect();
    let mut lat = Vec::new();
    let mut pipe = Vec::new();
    for (m, at, l) in &done.output.got {
        // The frame holding the window's last sample completed the sweep; it left the
        // emulator post_ms after the frame holding the stimulus mark.
        let last = m.window_end_sample - 1;
        if let Some(t) = sent.get(&(last - last % 20)) {
            lat.push(at.duration_since(*t).as_secs_f64() * 1e3);
        }
        if let Some(l) = l {
            pipe.push(l.as_secs_f64() * 1e3);
        }
    }
    let sweeps = lat.len();
    assert!(sweeps > 0);
    assert_eq!(
        sweeps, stimuli,
        "every stimulus of the stream measured and timed"
    );
    if !SHORT {
        assert!(sweeps >= 200, "a p99 needs >= 200 sweeps, got {sweeps}");
    }
    println!(
        "sweep-completing frame leaves emulator -> measurement at the output thread, through \
         ncs_runtime::run (real-time pace, 8 ch x 20 kHz, {sweeps} sweeps): p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0)
    );
    println!(
        "  of which block arrival -> measurement left the processing thread ({} sweeps): p50 \
         {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pipe.len(),
        pct(&mut pipe, 0.5),
        pct(&mut pipe, 0.99),
        pct(&mut pipe, 1.0)
    );
    println!(
        "  stimulus mark leaves emulator -> measurement: the same plus the 50-ms post-stimulus \
         window the measurement waits for; processing thread CPU {:.1} %",
        summary.processing_cpu_pct.unwrap_or(f64::NAN)
    );
}

fn main() {
    decoder_throughput();
    pty_throughput();
    latency();
}
