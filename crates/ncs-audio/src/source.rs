//! [`AudioSource`]: an audio input through cpal as an ncs source.

use std::str::FromStr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{SampleFormat, SupportedStreamConfigRange};
use ncs_dsp::{Edge, TriggerConfig, TriggerDetector, TriggerState};
use ncs_runtime::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark};

use crate::capture::{capture_ring, AudioStats, CaptureReader, LiveStats, Popped};
use crate::devices::{channels_text, find_input, rates_text};
use crate::AudioError;

/// Default volts at ±1 full scale: 1 V, about the full scale of a line input with nothing in
/// front of it. With an EMG front end the right value is its input range (the line input's
/// full scale divided by the front end's gain), and amplitudes are only as right as it is.
pub const DEFAULT_VOLTS_FULL_SCALE: f64 = 1.0;

/// How long `read` waits for samples before returning none (the source contract allows
/// about 100 ms).
const READ_WAIT: Duration = Duration::from_millis(50);

/// Poll interval of `read` while the ring is empty. The audio callback does not wake the
/// reader (that would be a system call on the audio thread), so `read` looks again this often.
const POLL: Duration = Duration::from_millis(1);

/// Trigger channel samples examined per detector call (the scratch buffer allocated at open).
const TRIGGER_CHUNK: usize = 4096;

/// Stimulus detection on a channel carrying the stimulator's trigger pulse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerSettings {
    /// The channel (0-based). It stays in the stream as a channel of its own.
    pub channel: usize,
    /// Level whose crossing marks the stimulus, as a fraction of full scale (±1).
    pub arm_level: f64,
    /// Level the trigger must return past before the next stimulus (hysteresis), as a fraction
    /// of full scale: below `arm_level` for a rising edge, above it for a falling one.
    pub disarm_level: f64,
    /// Which edge marks the stimulus.
    pub edge: Edge,
    /// Crossings sooner than this after a stimulus are ignored (ms).
    pub refractory_ms: f64,
}

impl TriggerSettings {
    /// A rising pulse on `channel`: stimulus at the first sample at or above half full scale,
    /// re-armed below a quarter, 5 ms refractory period.
    pub fn on_channel(channel: usize) -> Self {
        Self {
            channel,
            arm_level: 0.5,
            disarm_level: 0.25,
            edge: Edge::Rising,
            refractory_ms: 5.0,
        }
    }
}

/// Which input to open and how.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioConfig {
    /// Input name, exact or a part of one (ignoring case); the default input when `None`.
    pub device: Option<String>,
    /// Sample rate (Hz); the device's default when `None`.
    pub sample_rate_hz: Option<u32>,
    /// Channels; the device's default when `None`.
    pub channels: Option<u16>,
    /// Sample format to ask the device for; when `None`, the most precise one it offers
    /// (f32, i32, i24, i16, ...). Every format is converted to f32.
    pub sample_format: Option<SampleFormat>,
    /// Volts at ±1 full scale ([`DEFAULT_VOLTS_FULL_SCALE`] by default): volts = sample × this.
    pub volts_full_scale: f64,
    /// Stimuli from a trigger channel, if one is wired.
    pub trigger: Option<TriggerSettings>,
    /// Ring between the audio thread and `read` (s of audio). The reader may fall behind by
    /// this much before samples are lost.
    pub ring_s: f64,
    /// End the stream after this many frames (delivered or lost).
    pub stop_after: Option<u64>,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            device: None,
            sample_rate_hz: None,
            channels: None,
            sample_format: None,
            volts_full_scale: DEFAULT_VOLTS_FULL_SCALE,
            trigger: None,
            ring_s: 2.0,
            stop_after: None,
        }
    }
}

/// Options of [`AudioConfig`]'s text form, for messages.
pub const AUDIO_OPTIONS: &str = "rate=HZ, channels=N, format=i16|i32|f32|..., trigger=CHANNEL, \
trigger_level=FRACTION, trigger_edge=rising|falling, refractory_ms=MS, volts_full_scale=V, \
ring_s=S, stop_after=FRAMES";

impl FromStr for AudioConfig {
    type Err = AudioError;

    /// `[NAME][,KEY=VALUE]...`: an input name (empty for the default input), then options:
    /// `rate`, `channels`, `format`, `trigger` (channel), `trigger_level` (fraction of full
    /// scale; re-arms at half of it), `trigger_edge`, `refractory_ms`, `volts_full_scale`,
    /// `ring_s`, `stop_after` (frames). A name cannot contain a comma: give a part of it.
    fn from_str(s: &str) -> Result<Self, AudioError> {
        let mut cfg = AudioConfig::default();
        let mut parts = s.split(',');
        let first = parts.next().unwrap_or("");
        let mut options: Vec<&str> = parts.collect();
        if first.contains('=') {
            options.insert(0, first);
        } else if !first.is_empty() {
            cfg.device = Some(first.to_string());
        }
        let mut trigger_level = None;
        let mut trigger_edge = None;
        let mut refractory = None;
        for opt in options {
            let bad = |rule| AudioError::Config {
                what: "audio option",
                rule,
                value: opt.to_string(),
            };
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| bad("must be KEY=VALUE"))?;
            let num = |rule| value.parse::<f64>().map_err(|_| bad(rule));
            match key {
                "rate" => {
                    cfg.sample_rate_hz = Some(
                        value
                            .parse()
                            .map_err(|_| bad("rate must be a whole number of Hz"))?,
                    )
                }
                "channels" => {
                    cfg.channels = Some(
                        value
                            .parse()
                            .map_err(|_| bad("channels must be a whole number"))?,
                    )
                }
                "format" => cfg.sample_format = Some(parse_format(value).ok_or_else(|| {
                    bad("format must be one of i8, i16, i24, i32, i64, u8, u16, u32, u64, f32, f64")
                })?),
                "trigger" => {
                    let ch = value
                        .parse()
                        .map_err(|_| bad("trigger must be a channel number (0-based)"))?;
                    cfg.trigger = Some(TriggerSettings::on_channel(ch));
                }
                "trigger_level" => trigger_level = Some(num("trigger_level must be a number")?),
                "trigger_edge" => {
                    trigger_edge = Some(match value {
                        "rising" => Edge::Rising,
                        "falling" => Edge::Falling,
                        _ => return Err(bad("trigger_edge must be rising or falling")),
                    })
                }
                "refractory_ms" => refractory = Some(num("refractory_ms must be a number")?),
                "volts_full_scale" => cfg.volts_full_scale = num("volts_full_scale must be a number")?,
                "ring_s" => cfg.ring_s = num("ring_s must be a number")?,
                "stop_after" => {
                    cfg.stop_after = Some(
                        value
                            .parse()
                            .map_err(|_| bad("stop_after must be a whole number of frames"))?,
                    )
                }
                _ => return Err(bad("must be one of the audio options (rate, channels, format, trigger, trigger_level, trigger_edge, refractory_ms, volts_full_scale, ring_s, stop_after)")),
            }
        }
        if trigger_level.is_some() || trigger_edge.is_some() || refractory.is_some() {
            let t = cfg.trigger.as_mut().ok_or(AudioError::Config {
                what: "trigger_level, trigger_edge and refractory_ms",
                rule: "need trigger=CHANNEL",
                value: s.to_string(),
            })?;
            if let Some(e) = trigger_edge {
                t.edge = e;
                if e == Edge::Falling {
                    t.arm_level = -t.arm_level;
                    t.disarm_level = -t.disarm_level;
                }
            }
            if let Some(l) = trigger_level {
                t.arm_level = l;
                t.disarm_level = l / 2.0;
            }
            if let Some(r) = refractory {
                t.refractory_ms = r;
            }
        }
        Ok(cfg)
    }
}

fn parse_format(s: &str) -> Option<SampleFormat> {
    Some(match s {
        "i8" => SampleFormat::I8,
        "i16" => SampleFormat::I16,
        "i24" => SampleFormat::I24,
        "i32" => SampleFormat::I32,
        "i64" => SampleFormat::I64,
        "u8" => SampleFormat::U8,
        "u16" => SampleFormat::U16,
        "u32" => SampleFormat::U32,
        "u64" => SampleFormat::U64,
        "f32" => SampleFormat::F32,
        "f64" => SampleFormat::F64,
        _ => return None,
    })
}

/// Formats in the order chosen when none is asked for: the most precise first.
const FORMAT_PREFERENCE: [SampleFormat; 11] = [
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::F64,
    SampleFormat::I16,
    SampleFormat::U32,
    SampleFormat::U16,
    SampleFormat::I64,
    SampleFormat::U64,
    SampleFormat::I8,
    SampleFormat::U8,
];

/// The configuration chosen for the device, checked against what it supports.
#[derive(Debug, Clone)]
struct Chosen {
    device: String,
    channels: u16,
    rate: u32,
    format: SampleFormat,
}

fn choose(
    device: &str,
    ranges: &[SupportedStreamConfigRange],
    default: Option<&cpal::SupportedStreamConfig>,
    cfg: &AudioConfig,
) -> Result<Chosen, AudioError> {
    let mut all_channels: Vec<u16> = ranges.iter().map(|r| r.channels()).collect();
    all_channels.sort_unstable();
    all_channels.dedup();
    let channels = match cfg.channels.or(default.map(|d| d.channels())) {
        Some(c) => c,
        None => *all_channels.first().ok_or_else(|| AudioError::Channels {
            device: device.into(),
            asked: 0,
            supported: "none".into(),
        })?,
    };
    if !all_channels.contains(&channels) {
        return Err(AudioError::Channels {
            device: device.into(),
            asked: channels,
            supported: channels_text(&all_channels),
        });
    }
    let with_ch: Vec<&SupportedStreamConfigRange> =
        ranges.iter().filter(|r| r.channels() == channels).collect();
    let covers = |r: &SupportedStreamConfigRange, hz: u32| {
        r.min_sample_rate().0 <= hz && hz <= r.max_sample_rate().0
    };
    let rate = match cfg.sample_rate_hz {
        Some(hz) => hz,
        None => default
            .map(|d| d.sample_rate().0)
            .filter(|&hz| with_ch.iter().any(|r| covers(r, hz)))
            .or_else(|| with_ch.iter().map(|r| r.max_sample_rate().0).max())
            .unwrap_or(0),
    };
    let mut rates: Vec<(u32, u32)> = with_ch
        .iter()
        .map(|r| (r.min_sample_rate().0, r.max_sample_rate().0))
        .collect();
    rates.sort_unstable();
    rates.dedup();
    if rate == 0 || !with_ch.iter().any(|r| covers(r, rate)) {
        return Err(AudioError::Rate {
            device: device.into(),
            asked: rate,
            channels,
            supported: rates_text(&rates),
        });
    }
    let mut formats: Vec<SampleFormat> = with_ch
        .iter()
        .filter(|r| covers(r, rate))
        .map(|r| r.sample_format())
        .collect();
    formats.sort_unstable();
    formats.dedup();
    let format = match cfg.sample_format {
        Some(f) if formats.contains(&f) => f,
        asked => {
            let pick = FORMAT_PREFERENCE.iter().find(|f| formats.contains(f));
            match (asked, pick) {
                (None, Some(&f)) => f,
                _ => {
                    return Err(AudioError::Format {
                        device: device.into(),
                        asked: asked.map_or_else(|| "any known".into(), |f| f.to_string()),
                        rate,
                        channels,
                        supported: formats
                            .iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
    };
    Ok(Chosen {
        device: device.into(),
        channels,
        rate,
        format,
    })
}

/// What the stream thread hands back once the stream runs.
struct Started {
    chosen: Chosen,
    reader: CaptureReader,
}

/// Finds the device, checks the configuration, builds and starts the stream. Runs on the
/// thread that owns the stream (a cpal stream may not move between threads).
fn start_stream(cfg: &AudioConfig) -> Result<(cpal::Stream, Started), AudioError> {
    let host = cpal::default_host();
    let (device, name) = find_input(&host, cfg.device.as_deref())?;
    let dev_err = |what, cause: String| AudioError::Device {
        device: name.clone(),
        what,
        cause,
    };
    let ranges: Vec<SupportedStreamConfigRange> = device
        .supported_input_configs()
        .map_err(|e| dev_err("listing its configurations", e.to_string()))?
        .collect();
    let default = device.default_input_config().ok();
    let chosen = choose(&name, &ranges, default.as_ref(), cfg)?;
    let frames = (cfg.ring_s * f64::from(chosen.rate)).ceil() as usize;
    let (mut writer, reader) =
        capture_ring(usize::from(chosen.channels), frames.max(1), cfg.stop_after);
    let live = writer.live_stats();
    let stream_cfg = cpal::StreamConfig {
        channels: chosen.channels,
        sample_rate: cpal::SampleRate(chosen.rate),
        buffer_size: cpal::BufferSize::Default,
    };
    let stream = device
        .build_input_stream_raw(
            &stream_cfg,
            chosen.format,
            move |data: &cpal::Data, _: &cpal::InputCallbackInfo| {
                // The audio thread: convert and push, nothing else (no allocation, no lock).
                writer.push_data(data);
            },
            move |e| live.stream_error(&e),
            None,
        )
        .map_err(|e| dev_err("opening the capture stream", e.to_string()))?;
    stream
        .play()
        .map_err(|e| dev_err("starting the capture stream", e.to_string()))?;
    Ok((stream, Started { chosen, reader }))
}

/// An audio input (any device cpal reaches: ALSA, PulseAudio/PipeWire through ALSA, JACK,
/// CoreAudio, WASAPI) as an ncs source.
///
/// The audio callback converts the device's samples to f32 and pushes them into a ring sized
/// at open; `read` takes them out, scales them to volts (`sample × volts_full_scale`), finds
/// stimuli on the trigger channel if one is set, and reports frames the ring had to drop as
/// [`ReadOutcome::Lost`] with their exact indices. The device paces the stream.
pub struct AudioSource {
    info: SourceInfo,
    chosen: Chosen,
    reader: CaptureReader,
    live: Arc<LiveStats>,
    scale: f32,
    trigger: Option<(TriggerDetector, TriggerState, usize)>,
    trigger_buf: Vec<f64>,
    /// Frames lost so far: the trigger detector sees delivered frames only, so its indices
    /// are shifted by this much.
    lost_before: u64,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl AudioSource {
    /// Opens and starts the input `cfg` names.
    pub fn open(cfg: AudioConfig) -> Result<Self, AudioError> {
        if !(cfg.volts_full_scale.is_finite() && cfg.volts_full_scale > 0.0) {
            return Err(AudioError::Config {
                what: "volts_full_scale",
                rule: "must be a number of volts > 0",
                value: cfg.volts_full_scale.to_string(),
            });
        }
        if !(cfg.ring_s.is_finite() && cfg.ring_s > 0.0) {
            return Err(AudioError::Config {
                what: "ring_s",
                rule: "must be a number of seconds > 0",
                value: cfg.ring_s.to_string(),
            });
        }
        if cfg.stop_after == Some(0) {
            return Err(AudioError::Config {
                what: "stop_after",
                rule: "must be a number of frames > 0",
                value: "0".into(),
            });
        }
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread_cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("ncs-audio-stream".into())
            .spawn(move || match start_stream(&thread_cfg) {
                Ok((stream, started)) => {
                    let _ = ready_tx.send(Ok(started));
                    // Holds the stream until the source stops (the sender is dropped).
                    let _ = stop_rx.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| AudioError::Host(format!("cannot start the stream thread: {e}")))?;
        let started = ready_rx
            .recv()
            .map_err(|_| AudioError::Host("the stream thread ended before starting".into()))?;
        let Started { chosen, reader } = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = thread.join();
                return Err(e);
            }
        };
        let channels = usize::from(chosen.channels);
        let trigger = match cfg.trigger {
            Some(t) => {
                if t.channel >= channels {
                    return Err(AudioError::Config {
                        what: "trigger channel",
                        rule: "must be one of the captured channels (0-based)",
                        value: format!("{} of {channels}", t.channel),
                    });
                }
                let d = TriggerConfig {
                    sample_rate_hz: f64::from(chosen.rate),
                    arm_level: t.arm_level,
                    disarm_level: t.disarm_level,
                    edge: t.edge,
                    refractory_ms: t.refractory_ms,
                }
                .build()?;
                let s = d.new_state();
                Some((d, s, t.channel))
            }
            None => None,
        };
        let trigger_channel = trigger.as_ref().map(|t| t.2);
        let info = SourceInfo {
            sample_rate_hz: f64::from(chosen.rate),
            channels,
            channel_names: (0..channels)
                .map(|c| {
                    if Some(c) == trigger_channel {
                        "trigger".to_string()
                    } else {
                        format!("ch{c}")
                    }
                })
                .collect(),
            starting_time_s: 0.0,
            description: format!(
                "audio input {:?} ({} ch × {} Hz, {}; full scale {} V{})",
                chosen.device,
                chosen.channels,
                chosen.rate,
                chosen.format,
                cfg.volts_full_scale,
                if cfg.volts_full_scale == DEFAULT_VOLTS_FULL_SCALE {
                    ", the default: amplitudes are only right if it is the front end's"
                } else {
                    ""
                }
            ),
        };
        let live = reader.live_stats();
        Ok(AudioSource {
            info,
            chosen,
            reader,
            live,
            scale: cfg.volts_full_scale as f32,
            trigger_buf: if trigger.is_some() {
                Vec::with_capacity(TRIGGER_CHUNK)
            } else {
                Vec::new()
            },
            trigger,
            lost_before: 0,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        &self.chosen.device
    }

    /// The sample format the device delivers.
    pub fn sample_format(&self) -> SampleFormat {
        self.chosen.format
    }

    /// Frames the ring holds.
    pub fn ring_frames(&self) -> usize {
        self.reader.capacity_frames()
    }

    /// Counts so far.
    pub fn stats(&self) -> AudioStats {
        self.live.snapshot()
    }

    /// The counts, shared for reading from another thread.
    pub fn live_stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// Stops the device. What was captured until then can still be read, then `read` returns
    /// [`ReadOutcome::End`].
    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Scales to volts and finds the stimuli in frames just read (`block`, interleaved).
    fn finish_block(&mut self, block: &mut [f32], marks: &mut Vec<StimulusMark>) {
        let ch = self.info.channels;
        if let Some((det, state, tc)) = &mut self.trigger {
            let (mut found, mut dropped) = (0u64, 0u64);
            let shift = self.lost_before;
            for chunk in block.chunks(TRIGGER_CHUNK * ch) {
                self.trigger_buf.clear();
                self.trigger_buf
                    .extend(chunk.chunks_exact(ch).map(|f| f64::from(f[*tc])));
                det.process(state, &self.trigger_buf, |i| {
                    found += 1;
                    // The caller reserved room for the marks; past it, count rather than
                    // allocate.
                    if marks.len() < marks.capacity() {
                        marks.push(StimulusMark::new(i + shift, None));
                    } else {
                        dropped += 1;
                    }
                });
            }
            self.live.add_stimuli(found, dropped);
        }
        if self.scale != 1.0 {
            for s in block.iter_mut() {
                *s *= self.scale;
            }
        }
    }
}

impl Drop for AudioSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Source for AudioSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        let ch = self.info.channels;
        let deadline = Instant::now() + READ_WAIT;
        loop {
            match self.reader.pop(frames) {
                Popped::Frames {
                    first_sample,
                    frames: n,
                } => {
                    self.finish_block(&mut frames[..n * ch], marks);
                    return Ok(ReadOutcome::Frames {
                        first_sample,
                        frames: n,
                    });
                }
                Popped::Lost {
                    first_sample,
                    count,
                } => {
                    self.lost_before += count;
                    return Ok(ReadOutcome::Lost {
                        first_sample,
                        count,
                    });
                }
                Popped::End => return Ok(ReadOutcome::End),
                Popped::Empty => {
                    let s = self.live.snapshot();
                    if s.stream_errors > 0 {
                        return Err(SourceError::Failed(format!(
                            "audio input {:?}: the stream failed after {} frames ({} error(s), first: {})",
                            self.chosen.device,
                            self.reader.position(),
                            s.stream_errors,
                            self.live.first_error().unwrap_or_default()
                        )));
                    }
                    if frames.len() < ch || Instant::now() >= deadline {
                        return Ok(ReadOutcome::Frames {
                            first_sample: self.reader.position(),
                            frames: 0,
                        });
                    }
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_text_sets_every_option() {
        let c: AudioConfig = "USB Audio,rate=48000,channels=2,format=i16,trigger=1,trigger_level=0.3,refractory_ms=8,volts_full_scale=0.01,ring_s=4,stop_after=96000"
            .parse()
            .unwrap();
        assert_eq!(c.device.as_deref(), Some("USB Audio"));
        assert_eq!(c.sample_rate_hz, Some(48000));
        assert_eq!(c.channels, Some(2));
        assert_eq!(c.sample_format, Some(SampleFormat::I16));
        let t = c.trigger.unwrap();
        assert_eq!((t.channel, t.arm_level, t.disarm_level), (1, 0.3, 0.15));
        assert_eq!(t.refractory_ms, 8.0);
        assert_eq!(c.volts_full_scale, 0.01);
        assert_eq!(c.ring_s, 4.0);
        assert_eq!(c.stop_after, Some(96000));

        let d: AudioConfig = "".parse().unwrap();
        assert_eq!(d, AudioConfig::default());
        let o: AudioConfig = "rate=8000".parse().unwrap();
        assert_eq!((o.device, o.sample_rate_hz), (None, Some(8000)));
        let f: AudioConfig = "x,trigger=0,trigger_edge=falling".parse().unwrap();
        let t = f.trigger.unwrap();
        assert_eq!(
            (t.edge, t.arm_level, t.disarm_level),
            (Edge::Falling, -0.5, -0.25)
        );
    }

    #[test]
    fn bad_spec_text_is_refused_with_the_rule() {
        for (spec, words) in [
            ("x,rate=fast", "rate must be a whole number"),
            ("x,format=s24", "format must be one of"),
            ("x,colour=red", "must be one of the audio options"),
            ("x,loud", "must be KEY=VALUE"),
            ("x,trigger_level=0.2", "need trigger=CHANNEL"),
        ] {
            let e = spec.parse::<AudioConfig>().unwrap_err().to_string();
            assert!(e.contains(words), "{spec}: {e}");
        }
    }

    fn range(ch: u16, lo: u32, hi: u32, f: SampleFormat) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(
            ch,
            cpal::SampleRate(lo),
            cpal::SampleRate(hi),
            cpal::SupportedBufferSize::Unknown,
            f,
        )
    }

    #[test]
    fn configuration_is_checked_against_the_device() {
        let ranges = [
            range(1, 8000, 48000, SampleFormat::I16),
            range(2, 44100, 44100, SampleFormat::I16),
            range(2, 48000, 48000, SampleFormat::I16),
            range(2, 48000, 48000, SampleFormat::F32),
        ];
        let ask = |rate, ch, f| AudioConfig {
            sample_rate_hz: rate,
            channels: ch,
            sample_format: f,
            ..AudioConfig::default()
        };
        let c = choose("Card", &ranges, None, &ask(Some(48000), Some(2), None)).unwrap();
        assert_eq!(
            (c.channels, c.rate, c.format),
            (2, 48000, SampleFormat::F32)
        );
        let e = choose("Card", &ranges, None, &ask(Some(48000), Some(4), None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "audio input \"Card\" cannot capture 4 channel(s); it supports 1, 2"
        );
        let e = choose("Card", &ranges, None, &ask(Some(20000), Some(2), None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "audio input \"Card\" cannot capture at 20000 Hz with 2 channel(s); it supports 44100, 48000 Hz"
        );
        let e = choose(
            "Card",
            &ranges,
            None,
            &ask(Some(44100), Some(2), Some(SampleFormat::F32)),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "audio input \"Card\" cannot deliver f32 samples at 44100 Hz × 2 ch; it supports i16"
        );
        let c = choose("Card", &ranges, None, &ask(Some(20000), Some(1), None)).unwrap();
        assert_eq!(
            (c.channels, c.rate, c.format),
            (1, 20000, SampleFormat::I16)
        );
    }
}
