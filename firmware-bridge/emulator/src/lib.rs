#![doc = include_str!("../README.md")]

mod content;
mod faults;
mod hand;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use firmware_bridge::{
    encode_data_frame, encode_response, Command, DataHeader, Decoder, DeviceInfo, Frame, NackCode,
    Response, SampleFormat, MAX_FRAME_LEN, SERIAL_LEN,
};
use serialport::{SerialPort, TTYPort};

pub use content::{quantise, Content, PATIENT_SECONDS};
pub use faults::{read_fault_log, read_stimulus_log, FaultEvent, FaultPlan, FiredStimulus};
pub use hand::{Hand, Placement};

use content::Player;
use faults::{FaultLog, Rng};

/// Why the emulator could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum AmpError {
    /// A setting that cannot work.
    #[error("{what} {rule}, got {value}")]
    Config {
        /// The setting.
        what: &'static str,
        /// The rule it broke.
        rule: &'static str,
        /// The value given.
        value: String,
    },
    /// The pseudo-terminal or the device could not be opened or used.
    #[error("serial port {port}: {source}")]
    Port {
        /// Path, or `pty` for a new pair.
        port: String,
        /// The cause.
        source: serialport::Error,
    },
    /// A file (the link, the fault log) could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A fault-log line is not a fault.
    #[error("{path} line {line}: {message}")]
    FaultLog {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The simulated study could not be built.
    #[error("simulated study: {0}")]
    Sim(#[from] ncs_sim::SimError),
    /// The recorded session could not be read.
    #[error("recorded session: {0}")]
    Session(#[from] ncs_io::NwbError),
}

/// How the virtual amplifier behaves.
#[derive(Debug, Clone)]
pub struct AmpConfig {
    /// What it streams.
    pub content: Content,
    /// Pace relative to real time (2.0 = twice as fast); 0 streams as fast as the host reads.
    pub speed: f64,
    /// Sample-frames per data frame; 0 means one frame per millisecond of signal.
    pub samples_per_frame: u16,
    /// Sample format on the wire.
    pub format: SampleFormat,
    /// Volts at the electrodes per count.
    pub volts_per_count: f32,
    /// Gain reported in the device info (V/V).
    pub gain: f32,
    /// Serial number reported in the device info (at most 16 ASCII bytes).
    pub serial: String,
    /// Stable path (a symbolic link to the current pseudo-terminal) that survives emulated
    /// disconnections; required when the fault plan disconnects the link.
    pub link: Option<PathBuf>,
    /// Open this serial device instead of creating a pseudo-terminal.
    pub device: Option<PathBuf>,
    /// Faults to inject.
    pub faults: FaultPlan,
    /// JSON-lines file receiving every injected fault.
    pub fault_log: Option<PathBuf>,
    /// Stop streaming after this many sample-frames (the content's length otherwise).
    pub max_frames: Option<u64>,
    /// Return from [`Amp::run`] once the content has been streamed and read by the host.
    pub exit_at_end: bool,
    /// Told (first sample, sample-frames, instant) right after each data frame was written,
    /// for latency measurements.
    pub on_sent: Option<std::sync::mpsc::Sender<(u64, u64, Instant)>>,
    /// Whether the amplifier has a stimulator (said in the device information); without one
    /// it refuses FireStimulus as Unsupported, and an external stimulator's trigger is all
    /// that marks stimuli.
    pub stimulator: bool,
    /// The most the stimulator gives (µA); FireStimulus above it is refused as BadArgument.
    pub max_intensity_ua: u32,
}

/// What the stimulator gives when FireStimulus asks for intensity 0 ("device default"), µA.
pub const DEFAULT_INTENSITY_UA: u32 = 20_000;

impl AmpConfig {
    /// Real-time pace, one frame per millisecond, i24 at 20 nV per count, no faults.
    pub fn new(content: Content) -> Self {
        Self {
            content,
            speed: 1.0,
            samples_per_frame: 0,
            format: SampleFormat::I24,
            volts_per_count: 2e-8,
            gain: 1000.0,
            serial: "VAMP-0001".to_owned(),
            link: None,
            device: None,
            faults: FaultPlan::default(),
            fault_log: None,
            max_frames: None,
            exit_at_end: false,
            on_sent: None,
            stimulator: true,
            max_intensity_ua: 100_000,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Data frames sent (faults excluded).
    pub frames_sent: u64,
    /// Sample-frames the device produced since the last Start (sent or not).
    pub samples_produced: u64,
    /// Every fault injected, in order.
    pub faults: Vec<FaultEvent>,
    /// Every stimulus fired on command, in order.
    pub stimuli: Vec<FiredStimulus>,
    /// Commands answered.
    pub commands: u64,
}

/// The two ends of the link: a pseudo-terminal (master for the device, the slave kept open so
/// the terminal survives the host closing it) or a real device.
enum Port {
    Pty { master: TTYPort, slave: TTYPort },
    Device(TTYPort),
}

impl Port {
    fn device_end(&mut self) -> &mut TTYPort {
        match self {
            Self::Pty { master, .. } => master,
            Self::Device(d) => d,
        }
    }

    /// Waits (at most `limit`) until the host has read everything sent, so that a disconnect
    /// loses exactly the samples the fault log names.
    fn drain(&self, limit: Duration) {
        if let Self::Pty { slave, .. } = self {
            // The terminal moves bytes to the slave's queue in steps, so an empty queue only
            // counts once it has stayed empty for a while.
            let until = Instant::now() + limit;
            let mut empty_since = Instant::now();
            while Instant::now() < until {
                if slave.bytes_to_read().unwrap_or(0) > 0 {
                    empty_since = Instant::now();
                } else if empty_since.elapsed() >= Duration::from_millis(100) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

fn open_pty() -> Result<(Port, PathBuf), AmpError> {
    let port_err = |source| AmpError::Port {
        port: "pty".into(),
        source,
    };
    let (master, slave) = TTYPort::pair().map_err(port_err)?;
    let name = slave.name().ok_or_else(|| AmpError::Config {
        what: "pseudo-terminal",
        rule: "must have a slave path",
        value: "none".into(),
    })?;
    Ok((Port::Pty { master, slave }, PathBuf::from(name)))
}

/// Points `link` at `target` atomically (a new link renamed over the old one).
fn set_link(link: &Path, target: &Path) -> Result<(), AmpError> {
    let io = |source| AmpError::Io {
        path: link.to_owned(),
        source,
    };
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io)?;
    std::fs::rename(&tmp, link).map_err(io)
}

/// The virtual amplifier: create it (which opens the link), give its [`path`](Self::path) to
/// the host, then [`run`](Self::run) it.
pub struct Amp {
    cfg: AmpConfig,
    port: Option<Port>,
    path: PathBuf,
    slave_path: Option<PathBuf>,
    player: Player,
    log: FaultLog,
    rng: Rng,
    hand: Hand,
}

impl std::fmt::Debug for Amp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amp")
            .field("path", &self.path)
            .field("player", &self.player)
            .finish_non_exhaustive()
    }
}

impl Drop for Amp {
    fn drop(&mut self) {
        if let Some(link) = &self.cfg.link {
            let _ = std::fs::remove_file(link);
        }
    }
}

/// Per-run streaming state (reset by Start).
struct Stream {
    on: bool,
    sequence: u32,
    sample: u64,
    /// Frame count since the pace clock started, and when it started.
    paced: u64,
    t0: Instant,
    ended: bool,
}

impl Amp {
    /// Checks the configuration, loads the content and opens the link.
    pub fn new(cfg: AmpConfig) -> Result<Self, AmpError> {
        let mut cfg = cfg;
        cfg.faults = std::mem::take(&mut cfg.faults).validated()?;
        if !(cfg.speed.is_finite() && cfg.speed >= 0.0) {
            return Err(AmpError::Config {
                what: "speed",
                rule: "must be >= 0 (0: as fast as the host reads)",
                value: cfg.speed.to_string(),
            });
        }
        if !(cfg.volts_per_count.is_finite() && cfg.volts_per_count > 0.0) {
            return Err(AmpError::Config {
                what: "volts per count",
                rule: "must be > 0",
                value: cfg.volts_per_count.to_string(),
            });
        }
        if cfg.serial.len() > SERIAL_LEN || !cfg.serial.is_ascii() {
            return Err(AmpError::Config {
                what: "serial number",
                rule: "must be at most 16 ASCII bytes",
                value: cfg.serial.clone(),
            });
        }
        if cfg.faults.disconnects_link() && (cfg.link.is_none() || cfg.device.is_some()) {
            return Err(AmpError::Config {
                what: "disconnect faults",
                rule: "need a pseudo-terminal and a stable link path (--link)",
                value: format!("link {:?}, device {:?}", cfg.link, cfg.device),
            });
        }
        let player = Player::new(&cfg.content)?;
        let rate = player.rate_hz();
        if !(rate >= 1.0 && rate.fract() == 0.0 && rate <= f64::from(u32::MAX)) {
            return Err(AmpError::Config {
                what: "content sample rate",
                rule: "must be a whole number of Hz",
                value: rate.to_string(),
            });
        }
        if player.channels() == 0 || player.channels() > firmware_bridge::MAX_CHANNELS {
            return Err(AmpError::Config {
                what: "content channels",
                rule: "must be 1..=32",
                value: player.channels().to_string(),
            });
        }
        if cfg.samples_per_frame == 0 {
            cfg.samples_per_frame = ((rate / 1000.0).round() as u16).max(1);
        }
        let bytes = firmware_bridge::data_frame_len(
            player.channels(),
            usize::from(cfg.samples_per_frame),
            cfg.format,
            firmware_bridge::MAX_MARKS,
        );
        if bytes > MAX_FRAME_LEN {
            return Err(AmpError::Config {
                what: "samples per frame",
                rule: "must keep a data frame within 8204 bytes",
                value: cfg.samples_per_frame.to_string(),
            });
        }
        let (port, path, slave_path) = match &cfg.device {
            Some(dev) => {
                let d = serialport::new(dev.to_string_lossy(), 3_000_000)
                    .timeout(Duration::from_millis(100))
                    .open_native()
                    .map_err(|source| AmpError::Port {
                        port: dev.display().to_string(),
                        source,
                    })?;
                (Port::Device(d), dev.clone(), None)
            }
            None => {
                let (port, slave) = open_pty()?;
                let path = match &cfg.link {
                    Some(link) => {
                        set_link(link, &slave)?;
                        link.clone()
                    }
                    None => slave.clone(),
                };
                (port, path, Some(slave))
            }
        };
        let log = FaultLog::create(cfg.fault_log.as_deref())?;
        let rng = Rng::new(cfg.faults.seed);
        let hand = Hand::new(player.sites().to_vec());
        Ok(Self {
            cfg,
            port: Some(port),
            path,
            slave_path,
            player,
            log,
            rng,
            hand,
        })
    }

    /// The examiner's hand on the simulated patient ([`Content::Patient`]): moves the
    /// stimulating electrode from any thread while the amplifier runs. For other content it
    /// refuses every placement.
    pub fn hand(&self) -> Hand {
        self.hand.clone()
    }

    /// Where the host opens the amplifier: the link if one was asked for, else the
    /// pseudo-terminal's slave (or the device).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current pseudo-terminal slave (changes at each emulated reconnection).
    pub fn slave_path(&self) -> Option<&Path> {
        self.slave_path.as_deref()
    }

    fn device_info(&self, channels: u8) -> DeviceInfo {
        let mut serial = [0u8; SERIAL_LEN];
        serial[..self.cfg.serial.len()].copy_from_slice(self.cfg.serial.as_bytes());
        DeviceInfo {
            channels,
            max_channels: self.player.channels() as u8,
            format: self.cfg.format,
            sample_rate_hz: self.player.rate_hz() as u32,
            samples_per_frame: self.cfg.samples_per_frame,
            firmware_version: (0, 1, 0),
            gain: self.cfg.gain,
            volts_per_count: self.cfg.volts_per_count,
            serial,
            stimulator: self.cfg.stimulator,
        }
    }

    fn port_err(&self, source: std::io::Error) -> AmpError {
        AmpError::Port {
            port: self.path.display().to_string(),
            source: source.into(),
        }
    }

    /// Writes all of `bytes`, waiting while the host does not read (a full terminal buffer).
    fn send(&mut self, bytes: &[u8], stop: &AtomicBool) -> Result<(), AmpError> {
        let mut at = 0;
        while at < bytes.len() {
            let Some(port) = self.port.as_mut() else {
                return Ok(());
            };
            match port.device_end().write(&bytes[at..]) {
                Ok(n) => at += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(self.port_err(e)),
            }
        }
        Ok(())
    }

    /// Reads whatever the host sent and answers each command.
    fn serve_commands(
        &mut self,
        decoder: &mut Decoder,
        st: &mut Stream,
        channels: &mut u8,
        commands: &mut u64,
        stop: &AtomicBool,
    ) -> Result<(), AmpError> {
        let Some(port) = self.port.as_mut() else {
            return Ok(());
        };
        let dev = port.device_end();
        let waiting = dev.bytes_to_read().unwrap_or(0) as usize;
        if waiting == 0 {
            return Ok(());
        }
        let mut buf = [0u8; 1024];
        let want = waiting.min(buf.len());
        let n = match dev.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
            Err(e) => return Err(self.port_err(e)),
        };
        let mut got: Vec<(u16, Command)> = Vec::new();
        decoder.feed(&buf[..n], |item| {
            if let Ok(Frame::Command { tag, command }) = item {
                got.push((tag, command));
            }
        });
        for (tag, command) in got {
            *commands += 1;
            let code = command.frame_type() as u8;
            let nack = |code: NackCode, detail: u32| Response::Nack {
                command: command.frame_type() as u8,
                code,
                detail,
            };
            let response = match command {
                Command::Start => {
                    self.player.restart()?;
                    st.on = true;
                    st.ended = false;
                    st.sequence = 0;
                    st.sample = 0;
                    st.paced = 0;
                    st.t0 = Instant::now();
                    Response::Ack { command: code }
                }
                Command::Stop => {
                    st.on = false;
                    Response::Ack { command: code }
                }
                Command::SetSampleRate { hz } if st.on => nack(NackCode::WrongState, hz),
                Command::SetSampleRate { hz } => {
                    if f64::from(hz) == self.player.rate_hz() {
                        Response::Ack { command: code }
                    } else {
                        // Recorded content cannot be resampled: only its own rate is offered.
                        nack(NackCode::BadArgument, hz)
                    }
                }
                Command::SetChannels { count } if st.on => {
                    nack(NackCode::WrongState, u32::from(count))
                }
                Command::SetChannels { count } => {
                    if count >= 1 && usize::from(count) <= self.player.channels() {
                        *channels = count;
                        Response::Ack { command: code }
                    } else {
                        nack(NackCode::BadArgument, u32::from(count))
                    }
                }
                Command::FireStimulus { .. } if !self.cfg.stimulator => {
                    nack(NackCode::Unsupported, 0)
                }
                Command::FireStimulus { intensity_ua, .. }
                    if intensity_ua > self.cfg.max_intensity_ua =>
                {
                    nack(NackCode::BadArgument, intensity_ua)
                }
                Command::FireStimulus { .. } if !st.on => nack(NackCode::WrongState, 0),
                Command::FireStimulus { .. }
                    if self.player.fired_pending() >= firmware_bridge::MAX_MARKS =>
                {
                    nack(NackCode::Busy, 0)
                }
                Command::FireStimulus {
                    pulse_width_us,
                    intensity_ua,
                } => {
                    let intensity_ua = if intensity_ua == 0 {
                        DEFAULT_INTENSITY_UA
                    } else {
                        intensity_ua
                    };
                    let at = self.hand.current();
                    let sample_index = self
                        .player
                        .fire(f64::from(intensity_ua) / 1000.0, at.as_ref());
                    self.log.fired(FiredStimulus {
                        sample_index,
                        intensity_ua,
                        pulse_width_us,
                        placement: at.map(|s| s.named),
                    })?;
                    Response::Ack { command: code }
                }
                Command::Ping { token } => Response::Pong { token },
                Command::GetDeviceInfo => Response::DeviceInfo(self.device_info(*channels)),
            };
            let mut out = [0u8; 64];
            let n = encode_response(tag, &response, &mut out).map_err(|e| AmpError::Config {
                what: "response",
                rule: "must encode",
                value: e.to_string(),
            })?;
            self.send(&out[..n], stop)?;
        }
        Ok(())
    }

    /// Drops the link (as a pulled cable does) after the host has read what was sent.
    fn drop_link(&mut self) {
        if let Some(port) = self.port.take() {
            port.drain(Duration::from_secs(2));
        }
        if let Some(link) = &self.cfg.link {
            let _ = std::fs::remove_file(link);
        }
    }

    fn restore_link(&mut self) -> Result<(), AmpError> {
        let (port, slave) = open_pty()?;
        if let Some(link) = &self.cfg.link {
            set_link(link, &slave)?;
        }
        self.port = Some(port);
        self.slave_path = Some(slave);
        Ok(())
    }

    /// Streams until `stop` is set (or, with `exit_at_end`, until the content has been sent
    /// and read, or the device was unplugged). Answers commands throughout.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<RunSummary, AmpError> {
        let spf = usize::from(self.cfg.samples_per_frame);
        let rate = self.player.rate_hz();
        let vpc = f64::from(self.cfg.volts_per_count);
        let format = self.cfg.format;
        let period = (self.cfg.speed > 0.0)
            .then(|| Duration::from_secs_f64(spf as f64 / rate / self.cfg.speed));
        let faults = self.cfg.faults.clone();
        let mut drops = faults.drop_frames.iter().copied().peekable();
        let mut stalls = faults.stalls.iter().copied().peekable();
        let mut disconnects = faults.disconnects.iter().copied().peekable();
        let mut saturations = faults.saturations.iter().copied().peekable();
        let mut lead_offs = faults.lead_offs.iter().copied().peekable();
        // Data frames still to be sent with saturation / lead-off bits.
        let (mut saturating, mut leads_off) = (0u32, 0u32);
        let mut corrupt_in = self.rng.skip(faults.corrupt_rate);
        let mut altered = Vec::new();

        let mut channels = self.player.channels() as u8;
        let mut decoder = Decoder::new();
        let mut st = Stream {
            on: false,
            sequence: 0,
            sample: 0,
            paced: 0,
            t0: Instant::now(),
            ended: false,
        };
        let mut counts = Vec::new();
        let mut wire = vec![0u8; MAX_FRAME_LEN];
        let mut summary = RunSummary {
            frames_sent: 0,
            samples_produced: 0,
            faults: Vec::new(),
            stimuli: Vec::new(),
            commands: 0,
        };
        let limit = self.cfg.max_frames.unwrap_or(u64::MAX);

        while !stop.load(Ordering::Relaxed) {
            self.serve_commands(
                &mut decoder,
                &mut st,
                &mut channels,
                &mut summary.commands,
                stop,
            )?;
            if !st.on {
                if st.ended && self.cfg.exit_at_end {
                    if let Some(p) = &self.port {
                        p.drain(Duration::from_secs(5));
                    }
                    break;
                }
                std::thread::sleep(Duration::from_micros(500));
                continue;
            }
            if let Some(period) = period {
                let due = st.t0 + period.mul_f64(st.paced as f64);
                let now = Instant::now();
                if due > now {
                    // Wake up for commands at least every millisecond.
                    std::thread::sleep((due - now).min(Duration::from_millis(1)));
                    continue;
                }
            }
            let want = (spf as u64).min(limit.saturating_sub(st.sample)) as usize;
            let mut header = DataHeader::new(st.sequence, st.sample, channels, format);
            let n = self.player.next(
                want,
                usize::from(channels),
                vpc,
                format,
                &mut counts,
                &mut header.marks,
            )?;
            if n == 0 {
                st.on = false;
                st.ended = true;
                continue;
            }
            let first = st.sample;
            let sequence = st.sequence;
            st.sequence = st.sequence.wrapping_add(1);
            st.sample += n as u64;
            st.paced += 1;
            summary.samples_produced = st.sample;

            if faults.unplug_at.is_some_and(|u| first >= u) {
                self.drop_link();
                self.log.record(FaultEvent::Unplug {
                    first_sample: first,
                })?;
                break;
            }
            if disconnects.next_if(|&d| first >= d).is_some() {
                self.drop_link();
                let down = Duration::from_millis(faults.down_ms);
                // The device's sample clock runs on while the cable is out.
                let speed = if self.cfg.speed > 0.0 {
                    self.cfg.speed
                } else {
                    1.0
                };
                let lost_frames =
                    (down.as_secs_f64() * rate * speed / spf as f64).round() as u64 + 1;
                let mut lost = n as u64;
                for _ in 1..lost_frames {
                    let want = (spf as u64).min(limit.saturating_sub(st.sample)) as usize;
                    let mut marks = firmware_bridge::StimMarks::new();
                    let k = self.player.next(
                        want,
                        usize::from(channels),
                        vpc,
                        format,
                        &mut counts,
                        &mut marks,
                    )?;
                    if k == 0 {
                        break;
                    }
                    lost += k as u64;
                    st.sample += k as u64;
                    st.sequence = st.sequence.wrapping_add(1);
                }
                std::thread::sleep(down);
                self.restore_link()?;
                let back_unix_us = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_micros() as u64);
                self.log.record(FaultEvent::Disconnect {
                    first_sample: first,
                    frames: lost,
                    down_ms: faults.down_ms,
                    back_unix_us,
                })?;
                st.t0 = Instant::now();
                st.paced = 0;
                summary.samples_produced = st.sample;
                continue;
            }
            if drops.next_if(|&d| sequence >= d).is_some() {
                self.log.record(FaultEvent::Drop {
                    sequence,
                    first_sample: first,
                    frames: n as u64,
                })?;
                continue;
            }
            if stalls.next_if(|&s| first >= s).is_some() {
                std::thread::sleep(Duration::from_millis(faults.stall_ms));
                self.log.record(FaultEvent::Stall {
                    first_sample: first,
                    ms: faults.stall_ms,
                })?;
            }
            // Status bits go on frames that are sent; only channels the stream has can carry
            // them.
            let present = u32::MAX >> (32 - u32::from(channels));
            if saturations.next_if(|&s| first >= s).is_some() {
                saturating = faults.status_frames;
            }
            if lead_offs.next_if(|&s| first >= s).is_some() {
                leads_off = faults.status_frames;
            }
            if saturating > 0 && faults.status_channels & present != 0 {
                saturating -= 1;
                header.saturation = faults.status_channels & present;
                self.log.record(FaultEvent::Saturation {
                    sequence,
                    first_sample: first,
                    frames: n as u64,
                    channels: header.saturation,
                })?;
            }
            if leads_off > 0 && faults.status_channels & present != 0 {
                leads_off -= 1;
                header.lead_off = faults.status_channels & present;
                self.log.record(FaultEvent::LeadOff {
                    sequence,
                    first_sample: first,
                    frames: n as u64,
                    channels: header.lead_off,
                })?;
            }
            let len =
                encode_data_frame(&header, &counts, &mut wire).map_err(|e| AmpError::Config {
                    what: "data frame",
                    rule: "must encode",
                    value: e.to_string(),
                })?;
            let mut at = corrupt_in;
            while at < len as u64 {
                let mask = self.rng.mask();
                wire[at as usize] ^= mask;
                altered.push((at as u32, mask));
                at = at
                    .saturating_add(1)
                    .saturating_add(self.rng.skip(faults.corrupt_rate));
            }
            corrupt_in = at.saturating_sub(len as u64);
            if !altered.is_empty() {
                self.log.record(FaultEvent::Corrupt {
                    sequence,
                    first_sample: first,
                    frames: n as u64,
                    bytes: altered.len() as u32,
                    len: len as u32,
                    altered: std::mem::take(&mut altered),
                })?;
            }
            let frame = std::mem::take(&mut wire);
            let sent = self.send(&frame[..len], stop);
            wire = frame;
            sent?;
            if let Some(tx) = &self.cfg.on_sent {
                // The receiver may have gone; the stream does not depend on it.
                let _ = tx.send((first, n as u64, Instant::now()));
            }
            summary.frames_sent += 1;
        }
        (summary.faults, summary.stimuli) =
            std::mem::replace(&mut self.log, FaultLog::create(None)?).into_parts();
        Ok(summary)
    }
}
