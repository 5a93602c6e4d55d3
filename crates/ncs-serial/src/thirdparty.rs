//! Amplifiers that cannot speak the ncs protocol: Backyard Brains boards and sketches that print
//! lines of integers. Neither format has checksums, sequence numbers or a sample clock, so the
//! sample rate is stated by the user, and a frame the decoder rejects counts as one lost frame.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use firmware_bridge::byb::{BybConfig, BybDecoder, BybItem};
use firmware_bridge::text::{TextConfig, TextDecoder};
use ncs_runtime::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark};
use serialport::SerialPort;

use crate::ports::open_port;
use crate::queue::Queue;
use crate::{PortSpec, SerialError};

/// Counts of a third-party source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ThirdPartyStats {
    /// Bytes received.
    pub bytes_received: u64,
    /// Frames delivered.
    pub frames: u64,
    /// Frames rejected by the decoder (short, out of range, unparsable line), reported lost.
    pub rejected: u64,
    /// Event markers received.
    pub events: u64,
}

/// The same counts, readable from another thread while the source runs (`ncs acquire` shows
/// them live and stores them in the session). Updated at the end of every `read`.
#[derive(Debug, Default)]
pub struct ThirdPartyLive {
    fields: [AtomicU64; 4],
}

impl ThirdPartyLive {
    fn store(&self, s: &ThirdPartyStats) {
        let v = [s.bytes_received, s.frames, s.rejected, s.events];
        for (f, v) in self.fields.iter().zip(v) {
            f.store(v, Ordering::Relaxed);
        }
    }

    /// The counts as of the last `read`.
    pub fn snapshot(&self) -> ThirdPartyStats {
        let v: [u64; 4] = std::array::from_fn(|i| self.fields[i].load(Ordering::Relaxed));
        ThirdPartyStats {
            bytes_received: v[0],
            frames: v[1],
            rejected: v[2],
            events: v[3],
        }
    }
}

/// What both third-party sources share: the decoded frames waiting and the frame clock.
struct Pending {
    queue: Queue,
    /// Session index of the next frame decoded.
    next: u64,
    stats: ThirdPartyStats,
    live: Arc<ThirdPartyLive>,
}

impl Pending {
    fn new(channels: usize) -> Self {
        Self {
            queue: Queue::new(channels),
            next: 0,
            stats: ThirdPartyStats::default(),
            live: Arc::default(),
        }
    }

    fn publish(&self) {
        self.live.store(&self.stats);
    }

    fn push_frame(&mut self, volts: impl Iterator<Item = f32>) {
        self.queue.push_frames(self.next, volts);
        self.next += 1;
        self.stats.frames += 1;
    }

    /// A rejected frame still took a sample period: it is lost, the next one comes after it.
    fn reject(&mut self) {
        self.queue.push_lost(self.next, 1);
        self.next += 1;
        self.stats.rejected += 1;
    }

    fn mark_next(&mut self) {
        self.stats.events += 1;
        self.queue.push_mark(StimulusMark::new(self.next, None));
    }

    fn deliver(&mut self, out: &mut [f32], marks: &mut Vec<StimulusMark>) -> Option<ReadOutcome> {
        self.queue.deliver(out, marks)
    }
}

fn read_port(
    port: &mut dyn SerialPort,
    path: &std::path::Path,
    buf: &mut [u8],
) -> Result<usize, SerialError> {
    match port.read(buf) {
        Ok(0) => Err(SerialError::Io {
            port: path.display().to_string(),
            source: std::io::ErrorKind::UnexpectedEof.into(),
        }),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
        Err(source) => Err(SerialError::Io {
            port: path.display().to_string(),
            source,
        }),
    }
}

fn check_rate(rate: f64) -> Result<(), SerialError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(SerialError::Config {
            what: "sample rate",
            rule: "must be > 0 Hz",
            value: rate.to_string(),
        })
    }
}

fn info(channels: usize, rate: f64, description: String) -> SourceInfo {
    SourceInfo {
        sample_rate_hz: rate,
        channels,
        channel_names: (0..channels).map(|c| format!("ch{c}")).collect(),
        starting_time_s: 0.0,
        description,
    }
}

/// A Backyard Brains SpikerBox / Muscle SpikerShield on a serial port. `EVNT:n;` messages
/// become stimulus marks at the next frame.
pub struct BybSource {
    port: Box<dyn SerialPort>,
    path: PathBuf,
    decoder: BybDecoder,
    pending: Pending,
    info: SourceInfo,
    buf: Vec<u8>,
}

impl std::fmt::Debug for BybSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybSource")
            .field("path", &self.path)
            .field("stats", &self.pending.stats)
            .finish_non_exhaustive()
    }
}

impl BybSource {
    /// Opens `port` at `baud` (boards use 222222 or 500000) for a board described by `cfg`
    /// sampling at `sample_rate_hz` per channel.
    pub fn open(
        port: &PortSpec,
        baud: u32,
        cfg: BybConfig,
        sample_rate_hz: f64,
    ) -> Result<Self, SerialError> {
        check_rate(sample_rate_hz)?;
        let decoder = cfg.build()?;
        let path = port.resolve()?;
        let p = open_port(&path, baud, Duration::from_millis(20))?;
        Ok(Self {
            port: p,
            info: info(
                cfg.channels,
                sample_rate_hz,
                format!(
                    "Backyard Brains board on {} ({} ch, {}-bit, {} V/count)",
                    path.display(),
                    cfg.channels,
                    cfg.bits,
                    cfg.volts_per_count
                ),
            ),
            path,
            decoder,
            pending: Pending::new(cfg.channels),
            buf: vec![0; 4096],
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> ThirdPartyStats {
        self.pending.stats
    }

    /// The counts, shared for reading from another thread.
    pub fn live_stats(&self) -> Arc<ThirdPartyLive> {
        Arc::clone(&self.pending.live)
    }
}

impl Source for BybSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        if let Some(o) = self.pending.deliver(frames, marks) {
            return Ok(o);
        }
        let n = read_port(self.port.as_mut(), &self.path, &mut self.buf)?;
        self.pending.stats.bytes_received += n as u64;
        let scale = self.decoder.scale();
        let pending = &mut self.pending;
        self.decoder.feed(&self.buf[..n], |item| match item {
            BybItem::Frame { samples, .. } => {
                pending.push_frame(samples.iter().map(|&c| scale.to_volts(c) as f32))
            }
            BybItem::Event { .. } => pending.mark_next(),
            BybItem::Message { .. } => {}
            BybItem::Error(firmware_bridge::byb::BybError::Stray { .. }) => {}
            BybItem::Error(_) => pending.reject(),
        });
        self.pending.publish();
        Ok(self
            .pending
            .deliver(frames, marks)
            .unwrap_or(ReadOutcome::Frames {
                first_sample: self.pending.next,
                frames: 0,
            }))
    }
}

/// Lines of integers on a serial port (one frame per line, as Arduino sketches print), with a
/// stated scale: `volts = (count − offset_counts) × volts_per_count`.
pub struct TextLineSource {
    port: Box<dyn SerialPort>,
    path: PathBuf,
    decoder: TextDecoder,
    pending: Pending,
    info: SourceInfo,
    buf: Vec<u8>,
    /// The first line may be cut (the port opened mid-line): it is not counted as lost.
    started: bool,
}

impl std::fmt::Debug for TextLineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextLineSource")
            .field("path", &self.path)
            .field("stats", &self.pending.stats)
            .finish_non_exhaustive()
    }
}

impl TextLineSource {
    /// Opens `port` at `baud` for lines of `channels` integers at `sample_rate_hz`, scaled by
    /// `volts_per_count` around `offset_counts`.
    pub fn open(
        port: &PortSpec,
        baud: u32,
        channels: usize,
        volts_per_count: f64,
        offset_counts: f64,
        sample_rate_hz: f64,
    ) -> Result<Self, SerialError> {
        check_rate(sample_rate_hz)?;
        let decoder = TextConfig {
            channels: Some(channels),
            volts_per_count,
            offset_counts,
        }
        .build()?;
        let path = port.resolve()?;
        let p = open_port(&path, baud, Duration::from_millis(20))?;
        Ok(Self {
            port: p,
            info: info(
                channels,
                sample_rate_hz,
                format!(
                    "text lines on {} ({channels} ch, (count - {offset_counts}) x {volts_per_count} V)",
                    path.display()
                ),
            ),
            path,
            decoder,
            pending: Pending::new(channels),
            buf: vec![0; 4096],
            started: false,
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> ThirdPartyStats {
        self.pending.stats
    }

    /// The counts, shared for reading from another thread.
    pub fn live_stats(&self) -> Arc<ThirdPartyLive> {
        Arc::clone(&self.pending.live)
    }
}

impl Source for TextLineSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        if let Some(o) = self.pending.deliver(frames, marks) {
            return Ok(o);
        }
        let n = read_port(self.port.as_mut(), &self.path, &mut self.buf)?;
        self.pending.stats.bytes_received += n as u64;
        let scale = self.decoder.scale();
        let pending = &mut self.pending;
        let started = &mut self.started;
        self.decoder.feed(&self.buf[..n], |item| match item {
            Ok(line) => {
                *started = true;
                pending.push_frame(line.counts.iter().map(|&c| scale.to_volts(c) as f32));
            }
            Err(_) if !*started => {}
            Err(_) => pending.reject(),
        });
        self.pending.publish();
        Ok(self
            .pending
            .deliver(frames, marks)
            .unwrap_or(ReadOutcome::Frames {
                first_sample: self.pending.next,
                frames: 0,
            }))
    }
}
