//! Anything that produces samples: the simulated amplifier, a serial amplifier, an audio
//! interface, a recorded session.

use ncs_block::Modality;

/// What a source delivers, fixed for its lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Channels per frame (including a trigger channel, if any).
    pub channels: usize,
    /// A name per channel.
    pub channel_names: Vec<String>,
    /// Time of sample 0 on the session clock (s).
    pub starting_time_s: f64,
    /// Human-readable description (device, file, scenario).
    pub description: String,
}

/// What is known about a stimulus besides its instant: where it was given and what records it.
/// Sources that know their stimuli in advance (a simulator, a recorded session) list these once
/// in [`Source::tags`]; marks refer to them by index so that marks stay `Copy` and the real-time
/// path never allocates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StimulusTag {
    /// Nerve (e.g. `median`).
    pub nerve: Option<String>,
    /// `left` or `right`.
    pub side: Option<String>,
    /// Stimulation site (e.g. `wrist`).
    pub site: Option<String>,
    /// Motor or sensory.
    pub modality: Option<Modality>,
    /// Site to active recording electrode along the nerve (mm).
    pub distance_mm: Option<f64>,
    /// Channel recording the response.
    pub channel: Option<usize>,
    /// Stimulus intensity (mA).
    pub intensity_ma: Option<f64>,
}

/// A stimulus instant inside a block of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StimulusMark {
    /// Absolute index of the stimulus sample (frame) since the start of the stream.
    pub sample_index: u64,
    /// Index into the source's [`Source::tags`], when the source knows what the stimulus was.
    pub tag: Option<u32>,
    /// Intensity of this stimulus (µA), when the source knows it for this stimulus alone (a
    /// stimulator it fired, an intensity the examiner entered); it takes precedence over the
    /// tag's intensity.
    pub intensity_ua: Option<u32>,
}

impl StimulusMark {
    /// A mark at `sample_index` referring to tag `tag`, with no intensity of its own.
    pub fn new(sample_index: u64, tag: Option<u32>) -> Self {
        StimulusMark {
            sample_index,
            tag,
            intensity_ua: None,
        }
    }

    /// The intensity in mA, when the mark carries one.
    pub fn intensity_ma(&self) -> Option<f64> {
        self.intensity_ua.map(|ua| f64::from(ua) / 1000.0)
    }
}

/// A request to fire the stimulator, for sources that can ([`Source::can_fire`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FireRequest<'a> {
    /// Intensity (mA).
    pub intensity_ma: f64,
    /// Pulse width (µs).
    pub pulse_width_us: u16,
    /// Where the examiner has placed the stimulating electrode, when known: a simulated
    /// patient responds from that nerve and site; hardware ignores it.
    pub placement: Option<&'a StimulusTag>,
}

/// Why a source could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The device or file failed; the message names it and the cause.
    #[error("{0}")]
    Failed(String),
}

/// What one [`Source::read`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many frames were written, starting at absolute frame `first_sample`.
    Frames {
        /// Absolute index of the first frame written.
        first_sample: u64,
        /// Frames written.
        frames: usize,
    },
    /// Samples were lost at the source (a gap in the device's sequence): `count` frames from
    /// `first_sample` will never arrive.
    Lost {
        /// First lost frame.
        first_sample: u64,
        /// Frames lost.
        count: u64,
    },
    /// The stream has ended.
    End,
}

/// A producer of interleaved sample frames in volts.
///
/// Timing contract: `read` may block until data is available (a hardware source paces itself),
/// but must return within about 100 ms so that a shutdown request is noticed.
pub trait Source: Send {
    /// Rate, channels and names.
    fn info(&self) -> &SourceInfo;

    /// Stimulus descriptions referred to by [`StimulusMark::tag`].
    fn tags(&self) -> &[StimulusTag] {
        &[]
    }

    /// Fills `frames` (interleaved, `info().channels` per frame) with up to
    /// `frames.len() / channels` frames and appends the stimulus marks that fall in them to
    /// `marks` (which the caller has reserved capacity for).
    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError>;

    /// Named texts that say what the source plays, beyond [`SourceInfo::description`] (a
    /// simulator's scenario as TOML), for a recorded session to keep with its samples.
    fn provenance(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether the source can fire a stimulator ([`Source::fire`]).
    fn can_fire(&self) -> bool {
        false
    }

    /// Fires the stimulator now; the stimulus instant comes back as a mark carrying the
    /// request's intensity in a later `read`. Called on the acquisition thread between reads:
    /// it must not block for long or allocate.
    fn fire(&mut self, request: &FireRequest<'_>) -> Result<(), SourceError> {
        let _ = request;
        Err(SourceError::Failed(format!(
            "{} cannot fire a stimulator",
            self.info().description
        )))
    }
}

/// A boxed source is a source, so a command can pick one at run time.
impl<S: Source + ?Sized> Source for Box<S> {
    fn info(&self) -> &SourceInfo {
        (**self).info()
    }

    fn tags(&self) -> &[StimulusTag] {
        (**self).tags()
    }

    fn provenance(&self) -> Vec<(String, String)> {
        (**self).provenance()
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        (**self).read(frames, marks)
    }

    fn can_fire(&self) -> bool {
        (**self).can_fire()
    }

    fn fire(&mut self, request: &FireRequest<'_>) -> Result<(), SourceError> {
        (**self).fire(request)
    }
}
