//! [`SerialSource`]: an ncs-protocol amplifier on a serial port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use firmware_bridge::{
    encode_command, Command, Decoder, DeviceInfo, Frame, Response, Stats as DecoderStats,
};
use ncs_runtime::{FireRequest, ReadOutcome, Source, SourceError, SourceInfo, StimulusMark};
use serde::Serialize;
use serialport::SerialPort;

use crate::ports::open_port;
use crate::queue::Queue;
use crate::{PortSpec, SerialError};

/// How to reach and drive the amplifier.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialConfig {
    /// The port.
    pub port: PortSpec,
    /// Baud rate (ignored by USB CDC devices and pseudo-terminals).
    pub baud: u32,
    /// Sample rate to ask for before starting (the device's own otherwise).
    pub sample_rate_hz: Option<u32>,
    /// Channels to ask for before starting (the device's own otherwise).
    pub channels: Option<u8>,
    /// Time a command's answer may take.
    pub command_timeout: Duration,
    /// Attempts per command.
    pub command_attempts: u32,
    /// Silence longer than this while streaming counts as a stall.
    pub stall_after: Duration,
    /// Silence longer than this while streaming is taken as a dead link (reconnect).
    pub dead_after: Duration,
    /// First wait between reconnection attempts; doubled after each failure.
    pub backoff_first: Duration,
    /// Longest wait between reconnection attempts.
    pub backoff_max: Duration,
    /// Give up (the source fails) when the device has been gone this long.
    pub give_up_after: Duration,
    /// After reconnecting, wait this long for data before concluding the device restarted
    /// (and sending Start again).
    pub resume_wait: Duration,
    /// End the stream after this many sample-frames (delivered or lost).
    pub stop_after: Option<u64>,
}

impl SerialConfig {
    /// Defaults for `port`: 100 ms command timeout × 3, stall at 100 ms of silence, dead link at
    /// 2 s, reconnection backoff 20 ms doubling to 250 ms, giving up after 10 s.
    pub fn new(port: PortSpec) -> Self {
        Self {
            port,
            baud: 3_000_000,
            sample_rate_hz: None,
            channels: None,
            command_timeout: Duration::from_millis(100),
            command_attempts: 3,
            stall_after: Duration::from_millis(100),
            dead_after: Duration::from_secs(2),
            backoff_first: Duration::from_millis(20),
            backoff_max: Duration::from_millis(250),
            give_up_after: Duration::from_secs(10),
            resume_wait: Duration::from_millis(300),
            stop_after: None,
        }
    }
}

/// Link and decoding counts of a [`SerialSource`], cumulative over reconnections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SerialStats {
    /// Bytes received.
    pub bytes_received: u64,
    /// Data frames accepted.
    pub data_frames: u64,
    /// Sample-frames delivered.
    pub samples_delivered: u64,
    /// Header and frame CRC failures.
    pub crc_failures: u64,
    /// Times the decoder skipped bytes to find the next frame.
    pub resyncs: u64,
    /// Bytes skipped while resynchronising.
    pub bytes_skipped: u64,
    /// Intact frames rejected for their content.
    pub malformed: u64,
    /// Gaps in the device's sample index (each reported as a `Lost` outcome).
    pub sequence_gaps: u64,
    /// Data frames missing, from sequence numbers.
    pub lost_frames: u64,
    /// Sample-frames lost, from sample indices.
    pub lost_samples: u64,
    /// Successful reconnections.
    pub reconnects: u64,
    /// Silences longer than `stall_after` while streaming.
    pub stalls: u64,
    /// Times the device came back with its counters restarted (gap estimated from the clock).
    pub restarts: u64,
    /// Commands the device refused.
    pub nacks: u64,
    /// Data frames delivered with a saturation bit set (a channel reached an ADC rail).
    pub saturated_frames: u64,
    /// Data frames delivered with a lead-off bit set (an electrode was off).
    pub lead_off_frames: u64,
}

/// Number of counters in [`SerialStats`].
const COUNTERS: usize = 16;

/// Saturation and lead-off ranges readable from other threads; later ones are counted in
/// [`SerialStats`] and listed by [`SerialSource::events`] only.
pub const LIVE_STATUS_RANGES: usize = 32;

/// Events kept by [`SerialSource::events`] (reserved when the source opens, so that noting
/// one never allocates on the acquisition thread); later ones are only counted.
pub const MAX_EVENTS: usize = 4096;

/// One status range as three words: first sample, sample-frames, kind << 32 | channel bits.
#[derive(Debug, Default)]
struct StatusSlot {
    first: AtomicU64,
    count: AtomicU64,
    meta: AtomicU64,
}

/// Which status bit a range is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusKind {
    Saturation = 0,
    LeadOff = 1,
}

impl StatusKind {
    fn event(self, first_sample: u64, count: u64, channels: u32) -> LinkEvent {
        match self {
            Self::Saturation => LinkEvent::Saturation {
                first_sample,
                count,
                channels,
            },
            Self::LeadOff => LinkEvent::LeadOff {
                first_sample,
                count,
                channels,
            },
        }
    }
}

/// The same counts, readable from another thread while the source runs (`ncs acquire` shows
/// them live), with the first [`LIVE_STATUS_RANGES`] saturation and lead-off ranges. Counts
/// are updated at the end of every `read`, ranges as frames are decoded; a single writer
/// (the source) and atomics, so neither side ever waits.
#[derive(Debug, Default)]
pub struct LiveStats {
    fields: [AtomicU64; COUNTERS],
    status: [StatusSlot; LIVE_STATUS_RANGES],
    /// Slots published (written before this is raised).
    status_len: AtomicU64,
}

/// What [`LiveStats::report`] gives: the counts and the status ranges, as stored in a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    /// The counts.
    #[serde(flatten)]
    pub stats: SerialStats,
    /// Saturation and lead-off ranges (the first [`LIVE_STATUS_RANGES`]), in order.
    pub status: Vec<LinkEvent>,
}

impl LiveStats {
    fn store(&self, s: &SerialStats) {
        for (f, v) in self.fields.iter().zip(stats_array(s)) {
            f.store(v, Ordering::Relaxed);
        }
    }

    /// Publishes a new range; returns its slot, or `None` when all are taken.
    fn open_status(
        &self,
        kind: StatusKind,
        first: u64,
        count: u64,
        channels: u32,
    ) -> Option<usize> {
        let i = self.status_len.load(Ordering::Relaxed) as usize;
        let slot = self.status.get(i)?;
        slot.first.store(first, Ordering::Relaxed);
        slot.count.store(count, Ordering::Relaxed);
        slot.meta
            .store((kind as u64) << 32 | u64::from(channels), Ordering::Relaxed);
        self.status_len.store(i as u64 + 1, Ordering::Release);
        Some(i)
    }

    /// Extends a published range (a reader may see the count before the channels: both only
    /// grow).
    fn extend_status(&self, i: usize, count: u64, channels: u32) {
        if let Some(slot) = self.status.get(i) {
            slot.count.store(count, Ordering::Relaxed);
            let kind = slot.meta.load(Ordering::Relaxed) >> 32;
            slot.meta
                .store(kind << 32 | u64::from(channels), Ordering::Relaxed);
        }
    }

    /// The saturation and lead-off ranges published so far, as [`LinkEvent`]s.
    pub fn status_ranges(&self) -> Vec<LinkEvent> {
        let n = self.status_len.load(Ordering::Acquire) as usize;
        self.status[..n.min(LIVE_STATUS_RANGES)]
            .iter()
            .map(|slot| {
                let meta = slot.meta.load(Ordering::Relaxed);
                let kind = if meta >> 32 == StatusKind::LeadOff as u64 {
                    StatusKind::LeadOff
                } else {
                    StatusKind::Saturation
                };
                kind.event(
                    slot.first.load(Ordering::Relaxed),
                    slot.count.load(Ordering::Relaxed),
                    meta as u32,
                )
            })
            .collect()
    }

    /// Counts and status ranges together (what `ncs acquire` shows and stores).
    pub fn report(&self) -> LinkReport {
        LinkReport {
            stats: self.snapshot(),
            status: self.status_ranges(),
        }
    }

    /// The counts as of the last `read`.
    pub fn snapshot(&self) -> SerialStats {
        let v: [u64; COUNTERS] = std::array::from_fn(|i| self.fields[i].load(Ordering::Relaxed));
        SerialStats {
            bytes_received: v[0],
            data_frames: v[1],
            samples_delivered: v[2],
            crc_failures: v[3],
            resyncs: v[4],
            bytes_skipped: v[5],
            malformed: v[6],
            sequence_gaps: v[7],
            lost_frames: v[8],
            lost_samples: v[9],
            reconnects: v[10],
            stalls: v[11],
            restarts: v[12],
            nacks: v[13],
            saturated_frames: v[14],
            lead_off_frames: v[15],
        }
    }
}

fn stats_array(s: &SerialStats) -> [u64; COUNTERS] {
    [
        s.bytes_received,
        s.data_frames,
        s.samples_delivered,
        s.crc_failures,
        s.resyncs,
        s.bytes_skipped,
        s.malformed,
        s.sequence_gaps,
        s.lost_frames,
        s.lost_samples,
        s.reconnects,
        s.stalls,
        s.restarts,
        s.nacks,
        s.saturated_frames,
        s.lead_off_frames,
    ]
}

/// Something that happened on the link, in session sample indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LinkEvent {
    /// Samples that will never arrive.
    Gap {
        /// First lost sample.
        first_sample: u64,
        /// Sample-frames lost.
        count: u64,
        /// Why: `sequence gap`, `device restarted`.
        reason: &'static str,
    },
    /// The device was silent, then went on.
    Stall {
        /// Next sample expected when the silence began.
        sample: u64,
    },
    /// The link failed and was re-established.
    Reconnect {
        /// Next sample expected when the link failed.
        sample: u64,
        /// Time from the failure to the device answering again (ms).
        down_ms: u64,
        /// When the device answered again (wall clock, µs since the Unix epoch), to compare
        /// with when the device came back.
        at_unix_us: u64,
    },
    /// Frames with saturation bits: a channel reached an ADC rail in these samples.
    Saturation {
        /// First sample of the first such frame.
        first_sample: u64,
        /// Sample-frames covered (consecutive frames make one range).
        count: u64,
        /// Channels named (bit *c* = channel *c*), over the whole range.
        channels: u32,
    },
    /// Frames with lead-off bits: an electrode was off during these samples.
    LeadOff {
        /// First sample of the first such frame.
        first_sample: u64,
        /// Sample-frames covered (consecutive frames make one range).
        count: u64,
        /// Channels named (bit *c* = channel *c*), over the whole range.
        channels: u32,
    },
}

/// A status range still growing: where its event and its live slot are, and where it ends.
#[derive(Debug, Clone, Copy)]
struct OpenStatus {
    event: Option<usize>,
    slot: Option<usize>,
    end: u64,
    count: u64,
    channels: u32,
}

/// Decoded data waiting for `read`, and the stream bookkeeping; apart from the decoder so the
/// decoder's callback can fill it.
struct Sink {
    channels: usize,
    volts_per_count: f64,
    accept: bool,
    /// Next device sample index expected, and the device sequence expected.
    expect: Option<(u64, u32)>,
    /// Session index = device index + offset (changes only when the device restarts).
    offset: u64,
    stop_after: u64,
    queue: Queue,
    answer: Option<(u16, Response)>,
    counts: Vec<i32>,
    stats: SerialStats,
    events: Vec<LinkEvent>,
    got_data: bool,
    live: Arc<LiveStats>,
    /// The saturation and lead-off ranges that the next frame may extend.
    open_status: [Option<OpenStatus>; 2],
}

impl Sink {
    /// Session index of the next sample expected.
    fn next_session(&self) -> u64 {
        self.offset + self.expect.map_or(0, |(e, _)| e)
    }

    /// Notes an event if there is room left (the list never grows past its reservation).
    fn event(&mut self, e: LinkEvent) -> Option<usize> {
        (self.events.len() < MAX_EVENTS).then(|| {
            self.events.push(e);
            self.events.len() - 1
        })
    }

    fn lost(&mut self, first: u64, count: u64, reason: &'static str) {
        let count = count.min(self.stop_after.saturating_sub(first));
        if count == 0 {
            return;
        }
        self.stats.sequence_gaps += 1;
        self.stats.lost_samples += count;
        self.queue.push_lost(first, count);
        self.event(LinkEvent::Gap {
            first_sample: first,
            count,
            reason,
        });
    }

    /// A delivered frame of `count` samples from session index `first` carried status bits
    /// `channels` of `kind`: counted, and added to the range it continues or a new one.
    fn status(&mut self, kind: StatusKind, first: u64, count: u64, channels: u32) {
        match kind {
            StatusKind::Saturation => self.stats.saturated_frames += 1,
            StatusKind::LeadOff => self.stats.lead_off_frames += 1,
        }
        let open = &mut self.open_status[kind as usize];
        if let Some(o) = open.as_mut().filter(|o| o.end == first) {
            o.end += count;
            o.count += count;
            o.channels |= channels;
            let o = *o;
            if let Some(i) = o.event {
                self.events[i] = kind.event(o.end - o.count, o.count, o.channels);
            }
            if let Some(i) = o.slot {
                self.live.extend_status(i, o.count, o.channels);
            }
            return;
        }
        let slot = self.live.open_status(kind, first, count, channels);
        let event = self.event(kind.event(first, count, channels));
        self.open_status[kind as usize] = Some(OpenStatus {
            event,
            slot,
            end: first + count,
            count,
            channels,
        });
    }

    fn on_item(&mut self, item: Result<Frame<'_>, firmware_bridge::DecodeError>) {
        match item {
            Ok(Frame::Response { tag, response }) => {
                if matches!(response, Response::Nack { .. }) {
                    self.stats.nacks += 1;
                }
                self.answer = Some((tag, response));
            }
            Ok(Frame::Data(frame)) if self.accept => {
                let h = *frame.header();
                if usize::from(h.channels) != self.channels {
                    self.stats.malformed += 1;
                    return;
                }
                self.got_data = true;
                self.stats.data_frames += 1;
                let n = frame.sample_frames() as u64;
                let (e, seq) = self.expect.unwrap_or((h.first_sample, h.sequence));
                if h.first_sample > e {
                    self.stats.lost_frames += u64::from(h.sequence.wrapping_sub(seq));
                    self.lost(self.offset + e, h.first_sample - e, "sequence gap");
                } else if h.first_sample < e {
                    // The device restarted its counters: keep the session clock going.
                    self.offset += e - h.first_sample;
                    self.stats.restarts += 1;
                }
                self.expect = Some((h.first_sample + n, h.sequence.wrapping_add(1)));
                let first = self.offset + h.first_sample;
                let keep = n.min(self.stop_after.saturating_sub(first));
                if keep == 0 {
                    return;
                }
                self.counts.resize(frame.len(), 0);
                if frame.samples_into(&mut self.counts).is_err() {
                    return;
                }
                if h.saturation != 0 {
                    self.status(StatusKind::Saturation, first, keep, h.saturation);
                }
                if h.lead_off != 0 {
                    self.status(StatusKind::LeadOff, first, keep, h.lead_off);
                }
                let vpc = self.volts_per_count;
                let take = keep as usize * self.channels;
                self.queue.push_frames(
                    first,
                    self.counts[..take]
                        .iter()
                        .map(|&c| (f64::from(c) * vpc) as f32),
                );
                for &m in h.marks.as_slice() {
                    if u64::from(m) < keep {
                        self.queue
                            .push_mark(StimulusMark::new(first + u64::from(m), None));
                    }
                }
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }
}

/// An amplifier speaking the ncs wire protocol (`firmware-bridge`) on a serial port.
///
/// [`open`](Self::open) handshakes (device info), configures (rate, channels), starts the stream
/// and returns; [`Source::read`] then delivers volts and stimulus marks. When the port fails the
/// source reconnects with backoff (each `read` returns within about 100 ms meanwhile), checks
/// the device still describes the same stream, and resumes: the samples missed are reported as
/// one [`ReadOutcome::Lost`], from the device's sample indices.
pub struct SerialSource {
    cfg: SerialConfig,
    port: Option<Box<dyn SerialPort>>,
    path: PathBuf,
    decoder: Decoder,
    /// Decoder counts from previous connections.
    decoded_before: DecoderStats,
    sink: Sink,
    device: DeviceInfo,
    info: SourceInfo,
    tag: u16,
    buf: Vec<u8>,
    last_data: Instant,
    stalled: bool,
    frame_period: Duration,
    /// Set while the device is away: when it went, and the next attempt.
    away: Option<(Instant, Instant, Duration)>,
    /// After a reconnection: until when to wait for data before restarting the device.
    resuming: Option<Instant>,
    ended: bool,
    live: Arc<LiveStats>,
}

impl std::fmt::Debug for SerialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialSource")
            .field("path", &self.path)
            .field("device", &self.device)
            .field("stats", &self.sink.stats)
            .finish_non_exhaustive()
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Start => "Start",
        Command::Stop => "Stop",
        Command::SetSampleRate { .. } => "SetSampleRate",
        Command::SetChannels { .. } => "SetChannels",
        Command::FireStimulus { .. } => "FireStimulus",
        Command::Ping { .. } => "Ping",
        Command::GetDeviceInfo => "GetDeviceInfo",
    }
}

/// Port read timeout: short, so `read` honours its 100 ms contract.
const READ_TIMEOUT: Duration = Duration::from_millis(20);

impl SerialSource {
    /// Opens the port, stops any stream in progress, reads the device info, applies the
    /// requested rate and channels, and starts streaming.
    pub fn open(cfg: SerialConfig) -> Result<Self, SerialError> {
        if cfg.command_attempts == 0 {
            return Err(SerialError::Config {
                what: "command attempts",
                rule: "must be >= 1",
                value: "0".into(),
            });
        }
        let path = cfg.port.resolve()?;
        let port = open_port(&path, cfg.baud, READ_TIMEOUT)?;
        let live = Arc::new(LiveStats::default());
        let placeholder = DeviceInfo {
            channels: 1,
            max_channels: 1,
            format: firmware_bridge::SampleFormat::I24,
            sample_rate_hz: 1,
            samples_per_frame: 1,
            firmware_version: (0, 0, 0),
            gain: 1.0,
            volts_per_count: 1.0,
            serial: [0; firmware_bridge::SERIAL_LEN],
            stimulator: false,
        };
        let mut s = Self {
            port: Some(port),
            path,
            decoder: Decoder::new(),
            decoded_before: DecoderStats::default(),
            sink: Sink {
                channels: 1,
                volts_per_count: 1.0,
                accept: false,
                expect: None,
                offset: 0,
                stop_after: cfg.stop_after.unwrap_or(u64::MAX),
                queue: Queue::new(1),
                answer: None,
                counts: Vec::new(),
                stats: SerialStats::default(),
                events: Vec::with_capacity(MAX_EVENTS),
                got_data: false,
                live: Arc::clone(&live),
                open_status: [None; 2],
            },
            device: placeholder,
            info: SourceInfo {
                sample_rate_hz: 1.0,
                channels: 1,
                channel_names: Vec::new(),
                starting_time_s: 0.0,
                description: String::new(),
            },
            tag: 0,
            buf: vec![0; 16 * 1024],
            last_data: Instant::now(),
            stalled: false,
            frame_period: Duration::from_millis(1),
            away: None,
            resuming: None,
            ended: false,
            live,
            cfg,
        };
        // A device left streaming by an earlier session must be quiet before it is configured.
        s.command(Command::Stop)?;
        let mut info = s.device_info()?;
        if let Some(hz) = s.cfg.sample_rate_hz {
            if hz != info.sample_rate_hz {
                s.command(Command::SetSampleRate { hz })?;
            }
        }
        if let Some(count) = s.cfg.channels {
            if count != info.channels {
                s.command(Command::SetChannels { count })?;
            }
        }
        if s.cfg.sample_rate_hz.is_some() || s.cfg.channels.is_some() {
            info = s.device_info()?;
        }
        s.adopt(info);
        s.start()?;
        Ok(s)
    }

    fn adopt(&mut self, info: DeviceInfo) {
        let serial = String::from_utf8_lossy(info.serial_bytes()).into_owned();
        self.device = info;
        self.sink.channels = usize::from(info.channels);
        self.sink.queue.set_channels(usize::from(info.channels));
        self.sink.volts_per_count = f64::from(info.volts_per_count);
        self.frame_period = Duration::from_secs_f64(
            f64::from(info.samples_per_frame) / f64::from(info.sample_rate_hz.max(1)),
        );
        self.info = SourceInfo {
            sample_rate_hz: f64::from(info.sample_rate_hz),
            channels: usize::from(info.channels),
            channel_names: (0..info.channels).map(|c| format!("ch{c}")).collect(),
            starting_time_s: 0.0,
            description: format!(
                "ncs amplifier {serial} on {} (firmware {}.{}.{}, {} ch × {} Hz, {:?})",
                self.path.display(),
                info.firmware_version.0,
                info.firmware_version.1,
                info.firmware_version.2,
                info.channels,
                info.sample_rate_hz,
                info.format
            ),
        };
    }

    fn start(&mut self) -> Result<(), SerialError> {
        // The device restarts its index at 0; the session clock goes on from where it was.
        // Set before sending: the first frames may arrive in the same read as the Ack.
        self.sink.offset = self.sink.next_session();
        self.sink.expect = Some((0, 0));
        self.sink.accept = true;
        self.decoder.reset_sequence();
        self.command(Command::Start)?;
        self.last_data = Instant::now();
        Ok(())
    }

    fn device_info(&mut self) -> Result<DeviceInfo, SerialError> {
        match self.command(Command::GetDeviceInfo)? {
            Response::DeviceInfo(d) => Ok(d),
            other => Err(SerialError::Unexpected {
                port: self.path.display().to_string(),
                command: "GetDeviceInfo",
                expected: "DeviceInfo",
                got: format!("{other:?}"),
            }),
        }
    }

    /// What the device said about itself.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// Counts so far.
    pub fn stats(&self) -> SerialStats {
        self.sink.stats
    }

    /// The counts, shared for reading from another thread.
    pub fn live_stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// Gaps, stalls, reconnections and saturation / lead-off ranges so far, in order (the
    /// first [`MAX_EVENTS`]).
    pub fn events(&self) -> &[LinkEvent] {
        &self.sink.events
    }

    /// Asks the device to fire its stimulator; the instant comes back as a mark in the data.
    /// Does not wait for the answer (a refusal is counted in [`SerialStats::nacks`]).
    pub fn fire_stimulus(
        &mut self,
        pulse_width_us: u16,
        intensity_ua: u32,
    ) -> Result<(), SerialError> {
        let tag = self.next_tag();
        self.send(
            tag,
            &Command::FireStimulus {
                pulse_width_us,
                intensity_ua,
            },
        )
    }

    fn next_tag(&mut self) -> u16 {
        // Tag 0 is what unasked answers carry.
        self.tag = self.tag.wrapping_add(1).max(1);
        self.tag
    }

    /// Writes one command. Allocates nothing unless it fails (the error names the port), so
    /// the acquisition thread may call it ([`Source::fire`]).
    fn send(&mut self, tag: u16, c: &Command) -> Result<(), SerialError> {
        let mut out = [0u8; 32];
        let n = encode_command(tag, c, &mut out).map_err(|e| SerialError::Config {
            what: "command",
            rule: "must encode",
            value: e.to_string(),
        })?;
        let written = match self.port.as_mut() {
            Some(port) => port.write_all(&out[..n]).and_then(|()| port.flush()),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        };
        written.map_err(|source| SerialError::Io {
            port: self.path.display().to_string(),
            source,
        })
    }

    /// Sends `c` and waits for its answer, retrying with a new tag; data frames that arrive
    /// meanwhile are kept.
    fn command(&mut self, c: Command) -> Result<Response, SerialError> {
        let name = command_name(&c);
        for _ in 0..self.cfg.command_attempts {
            let tag = self.next_tag();
            self.send(tag, &c)?;
            let deadline = Instant::now() + self.cfg.command_timeout;
            while Instant::now() < deadline {
                self.pump()?;
                if let Some((t, r)) = self.sink.answer.take() {
                    if t != tag {
                        continue;
                    }
                    return match r {
                        Response::Nack { code, detail, .. } => Err(SerialError::Refused {
                            port: self.path.display().to_string(),
                            command: name,
                            code: format!("{code:?}"),
                            detail,
                        }),
                        r => Ok(r),
                    };
                }
            }
        }
        Err(SerialError::Timeout {
            port: self.path.display().to_string(),
            command: name,
            timeout_ms: self.cfg.command_timeout.as_millis() as u64,
            attempts: self.cfg.command_attempts,
        })
    }

    /// One read from the port into the decoder. Returns the bytes read (0 on timeout).
    fn pump(&mut self) -> Result<usize, SerialError> {
        let port_name = self.path.display().to_string();
        let Some(port) = self.port.as_mut() else {
            return Ok(0);
        };
        match port.read(&mut self.buf) {
            Ok(0) => Err(SerialError::Io {
                port: port_name,
                source: std::io::ErrorKind::UnexpectedEof.into(),
            }),
            Ok(n) => {
                self.sink.stats.bytes_received += n as u64;
                let sink = &mut self.sink;
                self.decoder.feed(&self.buf[..n], |item| sink.on_item(item));
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(source) => Err(SerialError::Io {
                port: port_name,
                source,
            }),
        }
    }

    fn sync_stats(&mut self) {
        let d = self.decoder.stats();
        let b = &self.decoded_before;
        let s = &mut self.sink.stats;
        s.crc_failures = b.crc_failures() + d.crc_failures();
        s.resyncs = b.resyncs + d.resyncs;
        s.bytes_skipped = b.bytes_skipped + d.bytes_skipped;
        s.malformed = s.malformed.max(b.malformed + d.malformed);
        self.live.store(s);
    }

    /// The link failed: forget the port and the partial frame, start reconnecting.
    fn lose_link(&mut self) {
        self.port = None;
        let d = *self.decoder.stats();
        let b = &mut self.decoded_before;
        b.header_crc_errors += d.header_crc_errors;
        b.frame_crc_errors += d.frame_crc_errors;
        b.resyncs += d.resyncs;
        b.bytes_skipped += d.bytes_skipped;
        b.malformed += d.malformed;
        self.decoder.reset();
        let now = Instant::now();
        self.away = Some((now, now, self.cfg.backoff_first));
        self.resuming = None;
    }

    /// One reconnection attempt if one is due; fails once the device has been gone too long.
    fn try_reconnect(&mut self) -> Result<(), SerialError> {
        let Some((since, next, backoff)) = self.away else {
            return Ok(());
        };
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
            return Ok(());
        }
        if now - since > self.cfg.give_up_after {
            return Err(SerialError::Gone {
                port: self.cfg.port.to_string(),
                waited_ms: (now - since).as_millis() as u64,
            });
        }
        let attempt = self
            .cfg
            .port
            .resolve()
            .and_then(|p| {
                self.path = p;
                open_port(&self.path, self.cfg.baud, READ_TIMEOUT)
            })
            .and_then(|port| {
                self.port = Some(port);
                self.device_info()
            });
        match attempt {
            Ok(info) => {
                let before = self.device;
                let port = self.path.display().to_string();
                let changed = |what, b: String, a: String| SerialError::DeviceChanged {
                    port: port.clone(),
                    what,
                    before: b,
                    after: a,
                };
                if info.channels != before.channels {
                    return Err(changed(
                        "channels",
                        before.channels.to_string(),
                        info.channels.to_string(),
                    ));
                }
                if info.sample_rate_hz != before.sample_rate_hz {
                    return Err(changed(
                        "sample rate",
                        before.sample_rate_hz.to_string(),
                        info.sample_rate_hz.to_string(),
                    ));
                }
                if info.volts_per_count != before.volts_per_count {
                    return Err(changed(
                        "volts per count",
                        before.volts_per_count.to_string(),
                        info.volts_per_count.to_string(),
                    ));
                }
                self.away = None;
                self.sink.stats.reconnects += 1;
                let at_unix_us = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64);
                let sample = self.sink.next_session();
                self.sink.event(LinkEvent::Reconnect {
                    sample,
                    down_ms: since.elapsed().as_millis() as u64,
                    at_unix_us,
                });
                self.last_data = Instant::now();
                self.stalled = false;
                self.sink.got_data = false;
                self.resuming = Some(Instant::now() + self.cfg.resume_wait);
                Ok(())
            }
            Err(_) => {
                self.port = None;
                let backoff2 = (backoff * 2).min(self.cfg.backoff_max);
                self.away = Some((since, now + backoff, backoff2));
                Ok(())
            }
        }
    }

    /// The device came back idle (it lost power): restart it and record the gap from the
    /// time it was away.
    fn restart_device(&mut self, since_last_data: Duration) -> Result<(), SerialError> {
        let next = self.sink.next_session();
        let missed = (since_last_data.as_secs_f64() * self.info.sample_rate_hz).round() as u64;
        self.sink.stats.restarts += 1;
        self.sink.lost(next, missed, "device restarted");
        self.sink.offset += missed;
        self.start()
    }

    fn deliver(&mut self, out: &mut [f32], marks: &mut Vec<StimulusMark>) -> Option<ReadOutcome> {
        let o = self.sink.queue.deliver(out, marks)?;
        if let ReadOutcome::Frames { frames, .. } = o {
            self.sink.stats.samples_delivered += frames as u64;
        }
        Some(o)
    }

    fn read_inner(
        &mut self,
        out: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SerialError> {
        if let Some(o) = self.deliver(out, marks) {
            return Ok(o);
        }
        if self.ended || self.sink.next_session() >= self.sink.stop_after {
            if !self.ended {
                self.ended = true;
                // Best effort: a device that misses it stops when the port closes.
                let tag = self.next_tag();
                let _ = self.send(tag, &Command::Stop);
            }
            return Ok(ReadOutcome::End);
        }
        if self.port.is_none() {
            self.try_reconnect()?;
        } else {
            match self.pump() {
                Ok(0) => {
                    let idle = self.last_data.elapsed();
                    if idle > 2 * self.frame_period {
                        self.decoder.abandon_partial();
                    }
                    if let Some(until) = self.resuming {
                        if Instant::now() >= until && !self.sink.got_data {
                            self.resuming = None;
                            self.restart_device(idle)?;
                        }
                    } else if idle > self.cfg.dead_after {
                        self.lose_link();
                    } else if idle > self.cfg.stall_after && !self.stalled {
                        self.stalled = true;
                        self.sink.stats.stalls += 1;
                        let sample = self.sink.next_session();
                        self.sink.event(LinkEvent::Stall { sample });
                    }
                }
                Ok(_) => {
                    if self.sink.got_data {
                        self.sink.got_data = false;
                        self.last_data = Instant::now();
                        self.stalled = false;
                        self.resuming = None;
                    }
                }
                Err(_) => self.lose_link(),
            }
        }
        Ok(self.deliver(out, marks).unwrap_or(ReadOutcome::Frames {
            first_sample: self.sink.next_session(),
            frames: 0,
        }))
    }
}

impl Source for SerialSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// What the device information says (its no-stimulator flag clear).
    fn can_fire(&self) -> bool {
        self.device.stimulator
    }

    /// Sends FireStimulus at the request's intensity (mA, rounded to the µA the protocol
    /// carries) and pulse width, and returns without waiting for the answer: the device marks
    /// the instant in the data (a mark in a later `read`), or refuses, which is counted in
    /// [`SerialStats::nacks`]. The placement is the examiner's business, not the device's.
    /// Writes one 20-byte command and allocates nothing unless it fails.
    fn fire(&mut self, request: &FireRequest<'_>) -> Result<(), SourceError> {
        if !self.device.stimulator {
            return Err(SourceError::Failed(format!(
                "{}: the device has no stimulator (its device information says so)",
                self.path.display()
            )));
        }
        let ua = (request.intensity_ma * 1000.0).round();
        // 0 µA would ask the device for its default intensity, which is not what was asked.
        if !(1.0..=f64::from(u32::MAX)).contains(&ua) {
            return Err(SourceError::Failed(format!(
                "stimulus intensity must be a number of mA from 0.001 to {}, got {}",
                u32::MAX / 1000,
                request.intensity_ma
            )));
        }
        self.fire_stimulus(request.pulse_width_us, ua as u32)
            .map_err(|e| SourceError::Failed(e.to_string()))
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        let r = self.read_inner(frames, marks);
        self.sync_stats();
        Ok(r?)
    }
}
