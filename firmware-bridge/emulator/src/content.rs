//! What the virtual amplifier plays: a simulated study, a simulated patient stimulated on
//! demand, or a recorded session, as counts.

use std::collections::VecDeque;
use std::path::PathBuf;

use firmware_bridge::{SampleFormat, StimMarks};
use ncs_io::Session;
use ncs_sim::{Scenario, StudySource};

use crate::hand::{sites, Site};
use crate::AmpError;

/// How long a simulated patient lasts (s of signal) unless `max_frames` ends it sooner.
pub const PATIENT_SECONDS: f64 = 3600.0;

/// The signal the amplifier streams.
#[derive(Debug, Clone)]
pub enum Content {
    /// A simulated study (every channel of the stream, the trigger channel included).
    Study(Box<Scenario>),
    /// A simulated patient with the scenario's nerves, noise and impairments but none of its
    /// planned stimuli: each FireStimulus stimulates the nerve and site where the electrode is
    /// placed ([`crate::Hand`]) at the commanded intensity, so the response recruits as that
    /// nerve does ([`PATIENT_SECONDS`] long).
    Patient(Box<Scenario>),
    /// A recorded NWB session, played from its first sample; its stimuli become marks.
    Session(PathBuf),
}

/// Volts to counts as the amplifier's ADC does: nearest count, clipped to the format's rails.
pub fn quantise(volts: f64, volts_per_count: f64, format: SampleFormat) -> i32 {
    let c = (volts / volts_per_count).round();
    c.clamp(f64::from(format.min()), f64::from(format.max())) as i32
}

enum Kind {
    Study {
        scenario: Box<Scenario>,
        source: Box<StudySource>,
        block: Vec<f32>,
        /// Stimulated on demand only (a patient), `frames` long.
        patient: Option<u64>,
    },
    Session {
        session: Box<Session>,
        block: Vec<f64>,
    },
}

/// Plays content block by block, as counts, with the stimulus marks that fall in each block.
pub(crate) struct Player {
    kind: Kind,
    rate_hz: f64,
    channels: usize,
    total: u64,
    pos: u64,
    stimuli: Vec<u64>,
    next_stim: usize,
    /// Instants of the stimuli fired on command and not yet marked, in order.
    fired: VecDeque<u64>,
    /// The patient's sites (empty for other content).
    sites: Vec<Site>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("rate_hz", &self.rate_hz)
            .field("channels", &self.channels)
            .field("total", &self.total)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Player {
    pub(crate) fn new(content: &Content) -> Result<Self, AmpError> {
        match content {
            Content::Study(scenario) => {
                let source = StudySource::new(scenario)?;
                let stimuli = source.stimuli().iter().map(|s| s.sample_index).collect();
                Ok(Self {
                    rate_hz: source.sample_rate_hz(),
                    channels: source.channel_count(),
                    total: source.total_frames(),
                    pos: 0,
                    stimuli,
                    next_stim: 0,
                    fired: VecDeque::new(),
                    sites: Vec::new(),
                    kind: Kind::Study {
                        scenario: scenario.clone(),
                        source: Box::new(source),
                        block: Vec::new(),
                        patient: None,
                    },
                })
            }
            Content::Patient(scenario) => {
                let frames = (PATIENT_SECONDS * scenario.sample_rate_hz).round() as u64;
                let source = StudySource::on_demand(scenario, frames)?;
                Ok(Self {
                    rate_hz: source.sample_rate_hz(),
                    channels: source.channel_count(),
                    total: source.total_frames(),
                    pos: 0,
                    stimuli: Vec::new(),
                    next_stim: 0,
                    fired: VecDeque::new(),
                    sites: sites(scenario),
                    kind: Kind::Study {
                        scenario: scenario.clone(),
                        source: Box::new(source),
                        block: Vec::new(),
                        patient: Some(frames),
                    },
                })
            }
            Content::Session(path) => {
                let session = Session::open(path, None)?;
                let info = session.info().clone();
                let mut stimuli: Vec<u64> = session
                    .stimuli()?
                    .map(|t| {
                        t.rows
                            .iter()
                            .map(|s| {
                                ((s.time_s - info.starting_time) * info.sample_rate_hz).round()
                            })
                            .filter(|&i| i >= 0.0)
                            .map(|i| i as u64)
                            .collect()
                    })
                    .unwrap_or_default();
                stimuli.sort_unstable();
                Ok(Self {
                    rate_hz: info.sample_rate_hz,
                    channels: info.channels,
                    total: info.n_samples,
                    pos: 0,
                    stimuli,
                    next_stim: 0,
                    fired: VecDeque::new(),
                    sites: Vec::new(),
                    kind: Kind::Session {
                        session: Box::new(session),
                        block: Vec::new(),
                    },
                })
            }
        }
    }

    /// Back to the first sample (the device's Start).
    pub(crate) fn restart(&mut self) -> Result<(), AmpError> {
        if let Kind::Study {
            scenario,
            source,
            patient,
            ..
        } = &mut self.kind
        {
            **source = match patient {
                Some(frames) => StudySource::on_demand(scenario, *frames)?,
                None => StudySource::new(scenario)?,
            };
        }
        self.pos = 0;
        self.next_stim = 0;
        self.fired.clear();
        Ok(())
    }

    /// The patient's sites (none unless the content is a patient).
    pub(crate) fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Stimuli fired and not yet marked in a data frame.
    pub(crate) fn fired_pending(&self) -> usize {
        self.fired.len()
    }

    /// Fires the stimulator at the next instant to be produced and returns that instant. A
    /// patient responds from `at` (the electrode's site; `None`: no nerve, only the
    /// artefact) at `intensity_ma`; other content only marks the instant.
    pub(crate) fn fire(&mut self, intensity_ma: f64, at: Option<&Site>) -> u64 {
        let mut instant = self.pos;
        if let Kind::Study {
            source,
            patient: Some(_),
            ..
        } = &mut self.kind
        {
            // The simulator needs one pre-stimulus window of stream before a stimulus; it
            // moves an earlier one there, and the mark goes where the stimulus went.
            instant = instant.max(source.window_frames().0 as u64);
            source.fire_at(
                instant,
                at.map(|s| s.index),
                at.map_or(0, |s| s.channel),
                intensity_ma,
            );
        }
        self.fired.push_back(instant);
        instant
    }

    pub(crate) fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    pub(crate) fn channels(&self) -> usize {
        self.channels
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.total - self.pos
    }

    /// Up to `frames` instants of the first `channels` channels as counts (interleaved) into
    /// `out`, and the stimuli among them into `marks`; returns the instants written (0 at the
    /// end).
    pub(crate) fn next(
        &mut self,
        frames: usize,
        channels: usize,
        volts_per_count: f64,
        format: SampleFormat,
        out: &mut Vec<i32>,
        marks: &mut StimMarks,
    ) -> Result<usize, AmpError> {
        let n = (frames as u64).min(self.remaining()) as usize;
        out.clear();
        if n == 0 {
            return Ok(0);
        }
        let all = self.channels;
        match &mut self.kind {
            Kind::Study { source, block, .. } => {
                block.resize(n * all, 0.0);
                let got = source.fill(block);
                debug_assert_eq!(got, n);
                for frame in block.chunks_exact(all) {
                    out.extend(
                        frame[..channels]
                            .iter()
                            .map(|&v| quantise(f64::from(v), volts_per_count, format)),
                    );
                }
            }
            Kind::Session { session, block } => {
                block.resize(n * all, 0.0);
                session.read_frames(self.pos, n, block)?;
                for frame in block.chunks_exact(all) {
                    out.extend(
                        frame[..channels]
                            .iter()
                            .map(|&v| quantise(v, volts_per_count, format)),
                    );
                }
            }
        }
        let end = self.pos + n as u64;
        // The content's own stimuli and those fired on command, merged in time order.
        loop {
            let planned = self
                .stimuli
                .get(self.next_stim)
                .copied()
                .filter(|&s| s < end);
            let fired = self.fired.front().copied().filter(|&s| s < end);
            let s = match (planned, fired) {
                (Some(p), Some(f)) if f < p => {
                    self.fired.pop_front();
                    f
                }
                (Some(p), _) => {
                    self.next_stim += 1;
                    p
                }
                (None, Some(f)) => {
                    self.fired.pop_front();
                    f
                }
                (None, None) => break,
            };
            if s >= self.pos {
                // More than MAX_MARKS stimuli in one frame cannot happen at study rates (and
                // a FireStimulus beyond them is refused as Busy); a device would shorten its
                // frames. Extra marks are dropped, not misplaced.
                let _ = marks.push((s - self.pos) as u16);
            }
        }
        self.pos = end;
        Ok(n)
    }
}
