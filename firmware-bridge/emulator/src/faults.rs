//! Fault plan, the fault and event log, and the pseudo-random source for byte corruption.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{AmpError, Placement};

/// Faults to inject. Sample indices are the device's (from Start, per channel).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultPlan {
    /// Probability that any one byte of a data frame is corrupted (0 = never).
    pub corrupt_rate: f64,
    /// Sequence numbers of data frames not sent.
    pub drop_frames: Vec<u32>,
    /// The device stalls before the first frame starting at or after each of these samples.
    pub stalls: Vec<u64>,
    /// Length of each stall (ms). Frames due meanwhile are sent late, none is lost.
    pub stall_ms: u64,
    /// The link drops before the first frame starting at or after each of these samples.
    pub disconnects: Vec<u64>,
    /// How long the link stays down (ms); the device's sample clock keeps running.
    pub down_ms: u64,
    /// The device is unplugged for good before the first frame at or after this sample.
    pub unplug_at: Option<u64>,
    /// Seed of the corruption positions and values.
    pub seed: u64,
    /// The first data frame starting at or after each of these samples, and the
    /// `status_frames − 1` frames sent after it, carry saturation bits.
    pub saturations: Vec<u64>,
    /// The same for lead-off bits.
    pub lead_offs: Vec<u64>,
    /// Data frames each saturation or lead-off lasts (0 is taken as 1).
    pub status_frames: u32,
    /// Channels named by the injected status bits (bit *c* = channel *c*; 0 is taken as
    /// channel 0). Bits of channels the stream does not have are left out.
    pub status_channels: u32,
}

impl FaultPlan {
    /// Checks the rate and sorts the schedules.
    pub(crate) fn validated(mut self) -> Result<Self, AmpError> {
        if !(self.corrupt_rate.is_finite() && (0.0..1.0).contains(&self.corrupt_rate)) {
            return Err(AmpError::Config {
                what: "corrupt rate",
                rule: "must be in [0, 1)",
                value: self.corrupt_rate.to_string(),
            });
        }
        self.drop_frames.sort_unstable();
        self.stalls.sort_unstable();
        self.disconnects.sort_unstable();
        self.saturations.sort_unstable();
        self.lead_offs.sort_unstable();
        self.status_frames = self.status_frames.max(1);
        if self.status_channels == 0 {
            self.status_channels = 1;
        }
        Ok(self)
    }

    /// True when the plan asks for the link to go away.
    pub fn disconnects_link(&self) -> bool {
        !self.disconnects.is_empty() || self.unplug_at.is_some()
    }
}

/// One injected fault: a line of the fault log (JSON, tagged by `fault`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultEvent {
    /// Bytes of one data frame were altered; the frame's samples must never be delivered.
    Corrupt {
        /// Sequence number of the frame.
        sequence: u32,
        /// Its first sample.
        first_sample: u64,
        /// Its sample-frames (instants).
        frames: u64,
        /// Bytes altered.
        bytes: u32,
        /// Length of the frame on the wire (bytes).
        len: u32,
        /// Each altered byte: its offset in the frame and the XOR mask applied (never 0), so
        /// a test can rebuild the exact bytes sent.
        altered: Vec<(u32, u8)>,
    },
    /// A data frame was not sent.
    Drop {
        /// Sequence number of the frame.
        sequence: u32,
        /// Its first sample.
        first_sample: u64,
        /// Its sample-frames (instants).
        frames: u64,
    },
    /// The device sent nothing for `ms` before the frame starting at `first_sample`.
    Stall {
        /// First sample of the frame sent after the stall.
        first_sample: u64,
        /// Length of the stall.
        ms: u64,
    },
    /// The link went down and came back: the samples produced meanwhile are lost.
    Disconnect {
        /// First sample not sent.
        first_sample: u64,
        /// Sample-frames lost while the link was down.
        frames: u64,
        /// How long the link was down.
        down_ms: u64,
        /// When the link came back (the new pseudo-terminal open and the stable path pointing
        /// at it), in µs since the Unix epoch, so a host's reconnection can be timed against it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_unix_us: Option<u64>,
    },
    /// The device went away for good; nothing from `first_sample` on was sent.
    Unplug {
        /// First sample not sent.
        first_sample: u64,
    },
    /// One data frame was sent with saturation bits set (its samples are unchanged).
    Saturation {
        /// Sequence number of the frame.
        sequence: u32,
        /// Its first sample.
        first_sample: u64,
        /// Its sample-frames (instants).
        frames: u64,
        /// The bits set (bit *c* = channel *c*).
        channels: u32,
    },
    /// One data frame was sent with lead-off bits set (its samples are unchanged).
    LeadOff {
        /// Sequence number of the frame.
        sequence: u32,
        /// Its first sample.
        first_sample: u64,
        /// Its sample-frames (instants).
        frames: u64,
        /// The bits set (bit *c* = channel *c*).
        channels: u32,
    },
}

impl FaultEvent {
    /// The samples this fault lost, as (first sample, count), if it lost any.
    pub fn lost(&self) -> Option<(u64, u64)> {
        match *self {
            Self::Corrupt {
                first_sample,
                frames,
                ..
            }
            | Self::Drop {
                first_sample,
                frames,
                ..
            }
            | Self::Disconnect {
                first_sample,
                frames,
                ..
            } => Some((first_sample, frames)),
            Self::Stall { .. }
            | Self::Unplug { .. }
            | Self::Saturation { .. }
            | Self::LeadOff { .. } => None,
        }
    }
}

/// One stimulus the device fired on a FireStimulus command: a line of the log, tagged
/// `"event":"stimulus"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredStimulus {
    /// Device sample index (since Start) of the instant marked in the data.
    pub sample_index: u64,
    /// Intensity given (µA): the commanded one, or the device default when 0 was commanded.
    pub intensity_ua: u32,
    /// Pulse width commanded (µs).
    pub pulse_width_us: u16,
    /// Where the stimulating electrode was (the patient's own names); `None` when it was on
    /// no nerve, or the content is not a patient.
    pub placement: Option<Placement>,
}

/// A line of the log that is not a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    Stimulus(FiredStimulus),
}

/// One line of the log.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Event(Event),
    Fault(FaultEvent),
}

fn read_log(path: &Path) -> Result<Vec<Line>, AmpError> {
    let io = |source| AmpError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut lines = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str(&line).map_err(|e| AmpError::FaultLog {
            path: path.to_owned(),
            line: i + 1,
            message: format!("not a fault nor an event: {e}"),
        })?;
        lines.push(parsed);
    }
    Ok(lines)
}

/// Reads the faults of a log written by the emulator (its event lines left out).
pub fn read_fault_log(path: &Path) -> Result<Vec<FaultEvent>, AmpError> {
    Ok(read_log(path)?
        .into_iter()
        .filter_map(|l| match l {
            Line::Fault(f) => Some(f),
            Line::Event(_) => None,
        })
        .collect())
}

/// Reads the stimuli fired on command from a log written by the emulator, in order.
pub fn read_stimulus_log(path: &Path) -> Result<Vec<FiredStimulus>, AmpError> {
    Ok(read_log(path)?
        .into_iter()
        .filter_map(|l| match l {
            Line::Event(Event::Stimulus(s)) => Some(s),
            Line::Fault(_) => None,
        })
        .collect())
}

/// Where injected faults and fired stimuli are recorded: in memory always, and in a
/// JSON-lines file if asked.
#[derive(Debug)]
pub(crate) struct FaultLog {
    events: Vec<FaultEvent>,
    stimuli: Vec<FiredStimulus>,
    file: Option<(std::path::PathBuf, BufWriter<File>)>,
    lines: usize,
}

impl FaultLog {
    pub(crate) fn create(path: Option<&Path>) -> Result<Self, AmpError> {
        let file = match path {
            Some(p) => {
                let f = File::create(p).map_err(|source| AmpError::Io {
                    path: p.to_owned(),
                    source,
                })?;
                Some((p.to_owned(), BufWriter::new(f)))
            }
            None => None,
        };
        Ok(Self {
            events: Vec::new(),
            stimuli: Vec::new(),
            file,
            lines: 0,
        })
    }

    /// Writes one line; the file is flushed at once so a reader sees it even if the emulator
    /// is killed afterwards.
    fn write(&mut self, value: &impl Serialize) -> Result<(), AmpError> {
        self.lines += 1;
        if let Some((path, w)) = &mut self.file {
            let io = |source| AmpError::Io {
                path: path.clone(),
                source,
            };
            let line = serde_json::to_string(value).map_err(|e| AmpError::FaultLog {
                path: path.clone(),
                line: self.lines,
                message: e.to_string(),
            })?;
            writeln!(w, "{line}").map_err(io)?;
            w.flush().map_err(io)?;
        }
        Ok(())
    }

    /// Records one fault.
    pub(crate) fn record(&mut self, event: FaultEvent) -> Result<(), AmpError> {
        self.write(&event)?;
        self.events.push(event);
        Ok(())
    }

    /// Records one stimulus fired on command.
    pub(crate) fn fired(&mut self, stimulus: FiredStimulus) -> Result<(), AmpError> {
        let event = Event::Stimulus(stimulus);
        self.write(&event)?;
        let Event::Stimulus(stimulus) = event;
        self.stimuli.push(stimulus);
        Ok(())
    }

    /// The faults and the stimuli, in order.
    pub(crate) fn into_parts(self) -> (Vec<FaultEvent>, Vec<FiredStimulus>) {
        (self.events, self.stimuli)
    }
}

/// SplitMix64: small, fast, good enough to place corrupted bytes.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Bytes until the next corrupted one when each byte is corrupted with probability `p`
    /// (geometric), so the cost is per corruption, not per byte.
    pub(crate) fn skip(&mut self, p: f64) -> u64 {
        if p <= 0.0 {
            return u64::MAX;
        }
        let k = self.unit().ln() / (-p).ln_1p();
        if k >= u64::MAX as f64 {
            u64::MAX
        } else {
            k as u64
        }
    }

    /// A non-zero XOR mask, so a "corrupted" byte always changes.
    pub(crate) fn mask(&mut self) -> u8 {
        (self.next_u64() % 255) as u8 + 1
    }
}
