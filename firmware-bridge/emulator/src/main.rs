//! `ncs-virtual-amp`: a virtual ncs amplifier on a pseudo-terminal.
//!
//! The first line on stdout is the path the host opens (the `--link` if given, else the
//! pseudo-terminal's slave); it is flushed before streaming starts. With `--patient`, each
//! line on stdin moves the stimulating electrode (`place median right elbow`, `lift`, or the
//! same as JSON) and is answered by one JSON line on stdout.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use clap::Parser;
use firmware_bridge::SampleFormat;
use ncs_virtual_amp::{Amp, AmpConfig, Content, FaultPlan, Hand};

/// A virtual ncs amplifier: streams a simulated study or a recorded session in the ncs wire
/// protocol over a pseudo-terminal, answers commands and injects faults on request.
#[derive(Debug, Parser)]
#[command(name = "ncs-virtual-amp", version)]
struct Args {
    /// Built-in ncs-sim scenario to stream.
    #[arg(long, default_value = "mmn", conflicts_with_all = ["scenario_file", "session"])]
    scenario: String,
    /// Scenario TOML file to stream.
    #[arg(long, conflicts_with = "session")]
    scenario_file: Option<PathBuf>,
    /// Recorded NWB session to stream instead of a simulation.
    #[arg(long)]
    session: Option<PathBuf>,
    /// Play the scenario as a patient: none of its planned stimuli; each FireStimulus
    /// stimulates where the electrode is placed (lines on stdin).
    #[arg(long, conflicts_with = "session")]
    patient: bool,
    /// The amplifier has no stimulator: FireStimulus is refused (an external stimulator's
    /// trigger, the content's own stimuli, marks the data).
    #[arg(long)]
    no_stimulator: bool,
    /// The most the stimulator gives (mA); FireStimulus above it is refused.
    #[arg(long, default_value_t = 100.0)]
    max_intensity_ma: f64,
    /// Override the scenario's recording channels.
    #[arg(long)]
    channels: Option<usize>,
    /// Drop the scenario's trigger channel (marks in the frames still carry the stimuli).
    #[arg(long)]
    no_trigger_channel: bool,
    /// Override the scenario's sample rate (Hz).
    #[arg(long)]
    rate: Option<f64>,
    /// Pace relative to real time; 0 streams as fast as the host reads.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Sample-frames per data frame (default: 1 ms worth).
    #[arg(long, default_value_t = 0)]
    samples_per_frame: u16,
    /// Sample format on the wire.
    #[arg(long, value_parser = ["i24", "i16"], default_value = "i24")]
    format: String,
    /// Volts at the electrodes per count.
    #[arg(long, default_value_t = 2e-8)]
    volts_per_count: f32,
    /// Stable symlink to the current pseudo-terminal (needed for disconnect faults).
    #[arg(long)]
    link: Option<PathBuf>,
    /// Open this serial device instead of creating a pseudo-terminal.
    #[arg(long)]
    device: Option<PathBuf>,
    /// Stop streaming after this many sample-frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Exit once the content has been streamed (and read).
    #[arg(long)]
    exit_at_end: bool,
    /// Probability of corrupting each byte of a data frame.
    #[arg(long, default_value_t = 0.0)]
    corrupt_rate: f64,
    /// Sequence numbers of data frames to drop (comma-separated).
    #[arg(long, value_delimiter = ',')]
    drop_frames: Vec<u32>,
    /// Stall before the frame at these sample indices (comma-separated).
    #[arg(long, value_delimiter = ',')]
    stall_at: Vec<u64>,
    /// Length of each stall (ms).
    #[arg(long, default_value_t = 300)]
    stall_ms: u64,
    /// Drop the link at these sample indices (comma-separated); it comes back after --down-ms.
    #[arg(long, value_delimiter = ',')]
    disconnect_at: Vec<u64>,
    /// How long the link stays down at each disconnect (ms).
    #[arg(long, default_value_t = 200)]
    down_ms: u64,
    /// Unplug for good at this sample index.
    #[arg(long)]
    unplug_at: Option<u64>,
    /// Seed of the byte corruption.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Set saturation bits on the frame at these sample indices (comma-separated).
    #[arg(long, value_delimiter = ',')]
    saturate_at: Vec<u64>,
    /// Set lead-off bits on the frame at these sample indices (comma-separated).
    #[arg(long, value_delimiter = ',')]
    lead_off_at: Vec<u64>,
    /// Data frames each saturation or lead-off lasts.
    #[arg(long, default_value_t = 1)]
    status_frames: u32,
    /// Channels the status bits name, as a bit mask (1 = channel 0, 5 = channels 0 and 2).
    #[arg(long, default_value_t = 1)]
    status_channels: u32,
    /// JSON-lines file receiving every injected fault.
    #[arg(long)]
    fault_log: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let content = match (&args.session, &args.scenario_file) {
        (Some(path), _) => Content::Session(path.clone()),
        (None, file) => {
            let mut sc = match file {
                Some(f) => {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?;
                    ncs_sim::Scenario::from_toml_str(&text)?
                }
                None => ncs_sim::scenario(&args.scenario)?,
            };
            if let Some(c) = args.channels {
                sc.channels = c;
            }
            if let Some(r) = args.rate {
                sc.sample_rate_hz = r;
            }
            if args.no_trigger_channel {
                sc.trigger_channel = false;
            }
            if args.patient {
                Content::Patient(Box::new(sc))
            } else {
                Content::Study(Box::new(sc))
            }
        }
    };
    if args.session.is_some() && (args.channels.is_some() || args.rate.is_some()) {
        bail!("--channels and --rate apply to simulated studies, not to --session");
    }
    let mut cfg = AmpConfig::new(content);
    cfg.speed = args.speed;
    cfg.samples_per_frame = args.samples_per_frame;
    cfg.format = if args.format == "i16" {
        SampleFormat::I16
    } else {
        SampleFormat::I24
    };
    cfg.volts_per_count = args.volts_per_count;
    cfg.link = args.link;
    cfg.device = args.device;
    cfg.max_frames = args.frames;
    cfg.exit_at_end = args.exit_at_end;
    cfg.fault_log = args.fault_log;
    cfg.stimulator = !args.no_stimulator;
    if !(args.max_intensity_ma.is_finite() && args.max_intensity_ma >= 0.0) {
        bail!(
            "--max-intensity-ma must be a number of mA >= 0, got {}",
            args.max_intensity_ma
        );
    }
    cfg.max_intensity_ua = (args.max_intensity_ma * 1000.0)
        .round()
        .min(f64::from(u32::MAX)) as u32;
    cfg.faults = FaultPlan {
        corrupt_rate: args.corrupt_rate,
        drop_frames: args.drop_frames,
        stalls: args.stall_at,
        stall_ms: args.stall_ms,
        disconnects: args.disconnect_at,
        down_ms: args.down_ms,
        unplug_at: args.unplug_at,
        seed: args.seed,
        saturations: args.saturate_at,
        lead_offs: args.lead_off_at,
        status_frames: args.status_frames,
        status_channels: args.status_channels,
    };
    let mut amp = Amp::new(cfg)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", amp.path().display())?;
    out.flush()?;
    drop(out);
    if args.patient {
        let hand = amp.hand();
        std::thread::Builder::new()
            .name("placement".into())
            .spawn(move || follow_stdin(&hand))
            .context("cannot start the placement thread")?;
    }
    let stop = AtomicBool::new(false);
    let summary = amp.run(&stop)?;
    eprintln!(
        "ncs-virtual-amp: {} frames sent, {} samples produced, {} faults, {} stimuli fired, {} commands",
        summary.frames_sent,
        summary.samples_produced,
        summary.faults.len(),
        summary.stimuli.len(),
        summary.commands
    );
    Ok(())
}

/// Moves the electrode by each line of stdin and answers each on stdout:
/// `{"placed":{"nerve":…,"side":…,"site":…}}`, `{"placed":null}` (lifted) or `{"error":…}`
/// (the electrode stays where it was). Ends at the end of stdin; the amplifier goes on.
fn follow_stdin(hand: &Hand) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match hand.apply_line(&line) {
            Ok(p) => serde_json::json!({ "placed": p }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}
