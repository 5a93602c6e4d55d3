//! The virtual amplifier on a thread, and a host that records everything a source delivers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ncs_runtime::{ReadOutcome, Source, StimulusMark};
use ncs_serial::{PortSpec, SerialConfig, SerialSource};
use ncs_sim::Scenario;
use ncs_virtual_amp::{quantise, Amp, AmpConfig, Content, RunSummary};

/// 8 channels at 20 kHz, stimuli marked in the frames (no trigger channel).
pub fn scenario_8ch() -> Scenario {
    let mut s = ncs_sim::scenario("mmn").expect("built-in scenario");
    s.channels = 8;
    s.trigger_channel = false;
    s
}

/// 30 s at 20 kHz.
pub const FRAMES_30S: u64 = 600_000;

pub fn amp_config(frames: u64) -> AmpConfig {
    let mut cfg = AmpConfig::new(Content::Study(Box::new(scenario_8ch())));
    cfg.speed = 0.0;
    cfg.max_frames = Some(frames);
    cfg.exit_at_end = true;
    cfg
}

pub struct Running {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<RunSummary>,
}

impl Running {
    pub fn finish(self) -> RunSummary {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("emulator thread")
    }
}

pub fn start(cfg: AmpConfig) -> Running {
    let mut amp = Amp::new(cfg).expect("emulator starts");
    let path = amp.path().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let handle = std::thread::spawn(move || amp.run(&s).expect("emulator runs"));
    Running { path, stop, handle }
}

pub fn host_config(path: &std::path::Path, frames: u64) -> SerialConfig {
    let mut cfg = SerialConfig::new(PortSpec::Path(path.to_owned()));
    cfg.stop_after = Some(frames);
    cfg
}

/// Everything a source delivered, sample-indexed.
pub struct Recording {
    pub channels: usize,
    /// Volts by absolute frame (NaN where lost).
    pub data: Vec<f32>,
    pub lost: Vec<(u64, u64)>,
    pub marks: Vec<StimulusMark>,
    /// (first, frames) and lost outcomes in order, to check continuity.
    pub outcomes: Vec<ReadOutcome>,
}

pub fn record(src: &mut dyn Source, total: u64) -> Recording {
    let ch = src.info().channels;
    let mut rec = Recording {
        channels: ch,
        data: vec![f32::NAN; total as usize * ch],
        lost: Vec::new(),
        marks: Vec::new(),
        outcomes: Vec::new(),
    };
    let mut block = vec![0f32; 1024 * ch];
    let mut marks = Vec::with_capacity(64);
    loop {
        marks.clear();
        let o = src.read(&mut block, &mut marks).expect("source reads");
        match o {
            ReadOutcome::End => break,
            ReadOutcome::Frames { frames: 0, .. } => continue,
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                let a = first_sample as usize * ch;
                rec.data[a..a + frames * ch].copy_from_slice(&block[..frames * ch]);
                rec.marks.extend_from_slice(&marks);
            }
            ReadOutcome::Lost {
                first_sample,
                count,
            } => rec.lost.push((first_sample, count)),
        }
        rec.outcomes.push(o);
    }
    rec
}

/// Outcomes must tile the stream: each starts where the previous one ended.
pub fn assert_contiguous(rec: &Recording, total: u64) {
    let mut next = 0u64;
    for o in &rec.outcomes {
        let (first, n) = match *o {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => (first_sample, frames as u64),
            ReadOutcome::Lost {
                first_sample,
                count,
            } => (first_sample, count),
            ReadOutcome::End => unreachable!("End is not recorded"),
        };
        assert_eq!(first, next, "outcome {o:?} must start at {next}");
        next = first + n;
    }
    assert_eq!(next, total, "the outcomes must cover the stream");
}

/// The counts the emulator sends for the first `frames` of the 8-channel study (interleaved),
/// and the stimuli among them.
pub fn expected_counts(frames: u64, cfg: &AmpConfig) -> (Vec<i32>, Vec<u64>) {
    let mut study = ncs_sim::StudySource::new(&scenario_8ch()).expect("study");
    assert!(study.total_frames() >= frames, "study must last 30 s");
    let ch = study.channel_count();
    let mut volts = vec![0f32; frames as usize * ch];
    assert_eq!(study.fill(&mut volts), frames as usize);
    let vpc = f64::from(cfg.volts_per_count);
    let counts = volts
        .iter()
        .map(|&v| quantise(f64::from(v), vpc, cfg.format))
        .collect();
    let stims = study
        .stimuli()
        .iter()
        .map(|s| s.sample_index)
        .filter(|&s| s < frames)
        .collect();
    (counts, stims)
}

/// What the host must deliver for the first `frames` of the 8-channel study: the emulator's
/// counts times the device's volts per count.
pub fn expected(frames: u64, cfg: &AmpConfig) -> (Vec<f32>, Vec<u64>) {
    let (counts, stims) = expected_counts(frames, cfg);
    let vpc = f64::from(cfg.volts_per_count);
    let volts = counts
        .iter()
        .map(|&c| (f64::from(c) * vpc) as f32)
        .collect();
    (volts, stims)
}

/// Sorted, merged intervals.
pub fn coalesce(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (f, c) in v {
        match out.last_mut() {
            Some((lf, lc)) if *lf + *lc >= f => *lc = (*lc).max(f + c - *lf),
            _ => out.push((f, c)),
        }
    }
    out
}

pub fn open_host(path: &std::path::Path, frames: u64) -> SerialSource {
    SerialSource::open(host_config(path, frames)).expect("host opens the amplifier")
}
