//! Reading an NWB 2 session: [`Session`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group, H5Type, OpenMode, SliceOrIndex};

use crate::error::{NwbError, Result};
use crate::h5::{self, attr_f64, attr_string, has_attr, is_string, read_strings, Ctx};
use crate::model::{Column, ColumnData, Gap, Modality, Stimulus, StimulusTable, Table};
use crate::write::{rows_sel, GAP_TABLE, MODULE, TEXT_TABLE, VERSION_KEY};

/// Values per hyperslab read: large enough to amortise HDF5's per-call cost, small enough
/// that a 96 M-sample session is never held twice.
const BLOCK_VALUES: usize = 1 << 20;
/// Timestamp differences from the start from which the step is estimated.
const STEP_WINDOW: usize = 4096;

/// Volts per unit for the voltage units a series may state (`volts`, `V`, `mV`, `uV`, `µV`,
/// spelled out or not, any case); `None` for anything else (then the data are taken as volts,
/// see [`SessionInfo::unit_assumption`]).
pub fn volts_per_unit(unit: &str) -> Option<f64> {
    let u = unit.trim().to_lowercase();
    match u.as_str() {
        "v" | "volt" | "volts" => Some(1.0),
        "mv" | "millivolt" | "millivolts" => Some(1e-3),
        "uv" | "µv" | "μv" | "microvolt" | "microvolts" => Some(1e-6),
        "nv" | "nanovolt" | "nanovolts" => Some(1e-9),
        _ => None,
    }
}

/// What a session holds, as read from its acquisition series.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// File path.
    pub path: PathBuf,
    /// Series name under `/acquisition`.
    pub series: String,
    /// `TimeSeries`, `ElectricalSeries`, ...
    pub neurodata_type: String,
    /// Sample rate, Hz (from `rate`, or derived from regular `timestamps`).
    pub sample_rate_hz: f64,
    /// Channels (1 for (samples,) data).
    pub channels: usize,
    /// Frames (samples per channel).
    pub n_samples: u64,
    /// `n_samples / sample_rate_hz`, s.
    pub duration_s: f64,
    /// Time of the first sample on the session clock, s.
    pub starting_time: f64,
    /// `unit` attribute of the data (NWB requires volts for ElectricalSeries).
    pub unit: String,
    /// Stored sample type: `int16`, `int32`, `float32` or `float64`.
    pub dtype: &'static str,
    /// True when timing came from a `timestamps` array.
    pub from_timestamps: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    I16,
    I32,
    F32,
    F64,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }
}

/// Samples that convert to f64.
trait Sample: H5Type + Copy {
    const FLOAT: bool;
    fn f64(self) -> f64;
}
impl Sample for i16 {
    const FLOAT: bool = false;
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl Sample for i32 {
    const FLOAT: bool = false;
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl Sample for f32 {
    const FLOAT: bool = true;
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl Sample for f64 {
    const FLOAT: bool = true;
    fn f64(self) -> f64 {
        self
    }
}

/// An open NWB session: one acquisition series, read in chunks, plus its tables.
#[derive(Debug)]
pub struct Session {
    ctx: Ctx,
    file: File,
    data: Dataset,
    data_path: String,
    dtype: Dtype,
    two_d: bool,
    /// Volts per stored unit, per channel (`conversion` × `channel_conversion`).
    scale: Vec<f64>,
    offset: f64,
    info: SessionInfo,
}

fn is_hdf5_signature(path: &Path) -> Result<bool> {
    const SIG: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let io = |source| NwbError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    // The superblock sits at 0 or after a user block of 512 × 2^k bytes.
    let mut at = 0u64;
    let mut buf = [0u8; 8];
    while at + 8 <= len {
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(at)).map_err(io)?;
        f.read_exact(&mut buf).map_err(io)?;
        if &buf == SIG {
            return Ok(true);
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
    Ok(false)
}

impl SessionInfo {
    /// What was assumed of the data's unit, when it is not a voltage unit
    /// ([`volts_per_unit`]), or was converted from one other than volts.
    pub fn unit_assumption(&self) -> Option<String> {
        match volts_per_unit(&self.unit) {
            Some(1.0) => None,
            Some(v) => Some(format!(
                "data unit {:?}: samples × conversion scaled by {v:e} to volts",
                self.unit
            )),
            None => Some(format!(
                "data unit {:?} is not a voltage unit: samples × conversion taken as volts",
                self.unit
            )),
        }
    }
}

impl Session {
    /// Opens `path` and selects the acquisition series `series` (needed when there are several).
    pub fn open(path: impl AsRef<Path>, series: Option<&str>) -> Result<Self> {
        Self::open_mode(path.as_ref(), series, OpenMode::Read)
    }

    /// Opens a file that a [`SessionWriter`](crate::SessionWriter) may still be recording
    /// (SWMR read); call [`refresh`](Self::refresh) to see new samples.
    pub fn open_swmr(path: impl AsRef<Path>, series: Option<&str>) -> Result<Self> {
        Self::open_mode(path.as_ref(), series, OpenMode::ReadSWMR)
    }

    fn open_mode(path: &Path, series: Option<&str>, mode: OpenMode) -> Result<Self> {
        h5::silence();
        let ctx = Ctx::new(path);
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NwbError::NotFound {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(NwbError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
            Ok(_) => {}
        }
        if !is_hdf5_signature(path)? {
            return Err(NwbError::NotHdf5 {
                path: path.to_owned(),
            });
        }
        // A file whose SWMR writer is still running, or was killed, carries the "open for
        // write" superblock flag; a plain open refuses it but an SWMR read is safe.
        let file = match File::open_as(path, mode) {
            Err(e)
                if mode == OpenMode::Read && e.to_string().contains("already open for write") =>
            {
                File::open_as(path, OpenMode::ReadSWMR)
            }
            other => other,
        };
        let file = file.map_err(|e| NwbError::Truncated {
            path: path.to_owned(),
            len: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            detail: e.to_string(),
        })?;
        match attr_string(&file, "neurodata_type").map_err(ctx.h5("/"))? {
            Some(t) if t == "NWBFile" => {}
            other => {
                return Err(NwbError::NotNwb {
                    path: path.to_owned(),
                    rule: format!(
                        "root attribute neurodata_type must be \"NWBFile\", got {other:?}"
                    ),
                })
            }
        }
        let names = Self::series_names_in(&file);
        if names.is_empty() {
            return Err(NwbError::NoAcquisition {
                path: path.to_owned(),
            });
        }
        let name = match series {
            Some(s) if names.iter().any(|n| n == s) => s.to_owned(),
            Some(s) => {
                return Err(NwbError::UnknownSeries {
                    path: path.to_owned(),
                    name: s.to_owned(),
                    available: names,
                })
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(NwbError::AmbiguousSeries {
                    path: path.to_owned(),
                    names,
                })
            }
        };
        let gpath = format!("/acquisition/{name}");
        let g = file.group(&gpath).map_err(ctx.h5(&gpath))?;
        let data_path = format!("{gpath}/data");
        let data = g.dataset("data").map_err(ctx.h5(&data_path))?;
        let shape = data.shape();
        let (n, channels, two_d) = match shape.as_slice() {
            [n] => (*n, 1, false),
            [n, c] if *c >= 1 => (*n, *c, true),
            _ => {
                return Err(NwbError::WrongDimensions {
                    path: path.to_owned(),
                    object: data_path,
                    shape,
                })
            }
        };
        let td = data
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(ctx.h5(&data_path))?;
        use hdf5::types::{FloatSize, IntSize};
        let dtype = match td {
            TypeDescriptor::Integer(IntSize::U2) => Dtype::I16,
            TypeDescriptor::Integer(IntSize::U4) => Dtype::I32,
            TypeDescriptor::Float(FloatSize::U4) => Dtype::F32,
            TypeDescriptor::Float(FloatSize::U8) => Dtype::F64,
            other => {
                return Err(NwbError::UnsupportedDtype {
                    path: path.to_owned(),
                    object: data_path,
                    dtype: other.to_string(),
                })
            }
        };
        let conversion = attr_f64(&data, "conversion")
            .map_err(ctx.h5(&data_path))?
            .unwrap_or(1.0);
        let offset = attr_f64(&data, "offset")
            .map_err(ctx.h5(&data_path))?
            .unwrap_or(0.0);
        if !conversion.is_finite() || !offset.is_finite() {
            return Err(ctx.invalid(
                &data_path,
                format!("conversion and offset must be finite, got {conversion} and {offset}"),
            ));
        }
        let unit = attr_string(&data, "unit")
            .map_err(ctx.h5(&data_path))?
            .unwrap_or_else(|| "unknown".into());
        // NWB stores volts; files written by other tools may say millivolts or microvolts.
        let mut scale = vec![conversion * volts_per_unit(&unit).unwrap_or(1.0); channels];
        if g.link_exists("channel_conversion") {
            let cc_path = format!("{gpath}/channel_conversion");
            let cc: Vec<f64> = g
                .dataset("channel_conversion")
                .and_then(|d| d.read_raw::<f64>())
                .map_err(ctx.h5(&cc_path))?;
            if cc.len() != channels || cc.iter().any(|x| !x.is_finite()) {
                return Err(ctx.invalid(
                    &cc_path,
                    format!("channel_conversion must hold {channels} finite factors, got {cc:?}"),
                ));
            }
            for (s, c) in scale.iter_mut().zip(&cc) {
                *s *= c;
            }
        }
        let neurodata_type = attr_string(&g, "neurodata_type")
            .map_err(ctx.h5(&gpath))?
            .unwrap_or_else(|| "unknown".into());
        let (starting_time, rate, from_timestamps) = Self::timing(&ctx, &g, &gpath, n)?;
        let info = SessionInfo {
            path: path.to_owned(),
            series: name,
            neurodata_type,
            sample_rate_hz: rate,
            channels,
            n_samples: n as u64,
            duration_s: n as f64 / rate,
            starting_time,
            unit,
            dtype: dtype.name(),
            from_timestamps,
        };
        Ok(Self {
            ctx,
            file,
            data,
            data_path,
            dtype,
            two_d,
            scale,
            offset,
            info,
        })
    }

    /// Names of the acquisition series (groups under `/acquisition` holding `data`).
    fn series_names_in(file: &File) -> Vec<String> {
        let Ok(acq) = file.group("acquisition") else {
            return Vec::new();
        };
        let mut names: Vec<String> = acq
            .member_names()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| acq.group(n).map(|g| g.link_exists("data")).unwrap_or(false))
            .collect();
        names.sort();
        names
    }

    /// Names of all acquisition series in the file.
    pub fn series_names(&self) -> Vec<String> {
        Self::series_names_in(&self.file)
    }

    fn timing(ctx: &Ctx, g: &Group, gpath: &str, n: usize) -> Result<(f64, f64, bool)> {
        if g.link_exists("starting_time") {
            let st_path = format!("{gpath}/starting_time");
            let st = g.dataset("starting_time").map_err(ctx.h5(&st_path))?;
            let t0: f64 = st.read_scalar().map_err(ctx.h5(&st_path))?;
            let rate = attr_f64(&st, "rate")
                .map_err(ctx.h5(&st_path))?
                .ok_or_else(|| NwbError::MissingTiming {
                    path: ctx.path.clone(),
                    object: gpath.to_owned(),
                })?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(NwbError::InvalidRate {
                    path: ctx.path.clone(),
                    object: st_path,
                    rate,
                });
            }
            return Ok((t0, rate, false));
        }
        if !g.link_exists("timestamps") {
            return Err(NwbError::MissingTiming {
                path: ctx.path.clone(),
                object: gpath.to_owned(),
            });
        }
        let ts_path = format!("{gpath}/timestamps");
        let ts = g.dataset("timestamps").map_err(ctx.h5(&ts_path))?;
        let len = ts.shape();
        if len.as_slice() != [n] {
            return Err(ctx.invalid(
                &ts_path,
                format!(
                    "timestamps must be 1-D with one entry per sample ({n}), got shape {len:?}"
                ),
            ));
        }
        if n < 2 {
            return Err(ctx.invalid(
                &ts_path,
                format!("at least 2 timestamps are needed to derive a rate, got {n}"),
            ));
        }
        // The step: the median of the first differences, then refined over the longest run of
        // them from the start without a gap, so that timestamps stored rounded (to 1 µs, say,
        // at 44.1 kHz) or as float32 give the true rate rather than one rounded difference.
        let m = (n - 1).min(STEP_WINDOW);
        let head: Vec<f64> = ts
            .read_slice_1d(0..m + 1)
            .map_err(ctx.h5(&ts_path))?
            .to_vec();
        let t0 = head[0];
        let mut diffs: Vec<f64> = head.windows(2).map(|w| w[1] - w[0]).collect();
        let bad_step = |index: usize, step: f64| NwbError::IrregularTimestamps {
            path: ctx.path.clone(),
            object: ts_path.clone(),
            index,
            prev: head[index - 1],
            next: head[index],
            step,
        };
        if let Some(k) = diffs.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(bad_step(k + 1, diffs[k]));
        }
        let median = {
            let mid = diffs.len() / 2;
            *diffs.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let clean = head
            .windows(2)
            .position(|w| !((w[1] - w[0]) > 0.5 * median && (w[1] - w[0]) < 1.5 * median))
            .unwrap_or(m);
        let step = if clean > 0 {
            (head[clean] - t0) / clean as f64
        } else {
            median
        };
        // Each timestamp must lie within half a step of t0 + i·step (a gap, a repeat or a jump
        // moves it a whole step), and each difference within half a step of the step.
        let mut prev = t0;
        let mut i0 = 1;
        while i0 < n {
            let i1 = (i0 + BLOCK_VALUES).min(n);
            let block: Vec<f64> = ts.read_slice_1d(i0..i1).map_err(ctx.h5(&ts_path))?.to_vec();
            for (k, &t) in block.iter().enumerate() {
                let i = i0 + k;
                let d = t - prev;
                let drift = t - (t0 + i as f64 * step);
                if !((d - step).abs() <= 0.5 * step && drift.abs() <= 0.5 * step) {
                    return Err(NwbError::IrregularTimestamps {
                        path: ctx.path.clone(),
                        object: ts_path,
                        index: i,
                        prev,
                        next: t,
                        step,
                    });
                }
                prev = t;
            }
            i0 = i1;
        }
        let rate = (n - 1) as f64 / (prev - t0);
        Ok((t0, rate, true))
    }

    /// What the session holds.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// For integer-stored data, the volts that the storage type's lowest and highest values
    /// stand for on `channel` (lower first): a converter that saturates writes values there.
    /// `None` for floating-point data or a channel out of range.
    pub fn full_scale_volts(&self, channel: usize) -> Option<(f64, f64)> {
        let (lo, hi) = match self.dtype {
            Dtype::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
            Dtype::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
            Dtype::F32 | Dtype::F64 => return None,
        };
        let k = *self.scale.get(channel)?;
        let (a, b) = (lo * k + self.offset, hi * k + self.offset);
        Some((a.min(b), a.max(b)))
    }

    /// Re-reads the series length (for a file still being recorded, opened with
    /// [`open_swmr`](Self::open_swmr)); returns the new frame count.
    pub fn refresh(&mut self) -> Result<u64> {
        self.data.refresh().map_err(self.ctx.h5(&self.data_path))?;
        let n = self.data.shape().first().copied().unwrap_or(0) as u64;
        self.info.n_samples = n;
        self.info.duration_s = n as f64 / self.info.sample_rate_hz;
        Ok(n)
    }

    fn check_range(&self, start: u64, count: usize) -> Result<()> {
        let end = start.saturating_add(count as u64);
        if end > self.info.n_samples {
            return Err(NwbError::RangeOutOfBounds {
                path: self.ctx.path.clone(),
                object: self.data_path.clone(),
                start,
                end,
                n_samples: self.info.n_samples,
            });
        }
        Ok(())
    }

    /// Reads `count` frames from frame `start` into `out`, interleaved
    /// (`out[i * channels + c]`), in volts. NaN or infinite samples are an error naming the
    /// first one.
    pub fn read_frames(&self, start: u64, count: usize, out: &mut [f64]) -> Result<()> {
        self.check_range(start, count)?;
        let ch = self.info.channels;
        let needed = count * ch;
        if out.len() < needed {
            return Err(NwbError::BufferTooSmall {
                needed,
                got: out.len(),
            });
        }
        let per_block = (BLOCK_VALUES / ch).max(1);
        let mut done = 0usize;
        while done < count {
            let k = per_block.min(count - done);
            let f0 = start as usize + done;
            let dst = &mut out[done * ch..(done + k) * ch];
            match self.dtype {
                Dtype::I16 => self.block::<i16>(f0, k, None, dst)?,
                Dtype::I32 => self.block::<i32>(f0, k, None, dst)?,
                Dtype::F32 => self.block::<f32>(f0, k, None, dst)?,
                Dtype::F64 => self.block::<f64>(f0, k, None, dst)?,
            }
            done += k;
        }
        Ok(())
    }

    /// Reads `count` frames of one channel from frame `start` into `out`, in volts.
    pub fn read_channel(
        &self,
        channel: usize,
        start: u64,
        count: usize,
        out: &mut [f64],
    ) -> Result<()> {
        if channel >= self.info.channels {
            return Err(NwbError::ChannelOutOfRange {
                path: self.ctx.path.clone(),
                object: self.data_path.clone(),
                channel: channel as i64,
                channels: self.info.channels,
            });
        }
        self.check_range(start, count)?;
        if out.len() < count {
            return Err(NwbError::BufferTooSmall {
                needed: count,
                got: out.len(),
            });
        }
        let mut done = 0usize;
        while done < count {
            let k = BLOCK_VALUES.min(count - done);
            let f0 = start as usize + done;
            let dst = &mut out[done..done + k];
            match self.dtype {
                Dtype::I16 => self.block::<i16>(f0, k, Some(channel), dst)?,
                Dtype::I32 => self.block::<i32>(f0, k, Some(channel), dst)?,
                Dtype::F32 => self.block::<f32>(f0, k, Some(channel), dst)?,
                Dtype::F64 => self.block::<f64>(f0, k, Some(channel), dst)?,
            }
            done += k;
        }
        Ok(())
    }

    /// Convenience: reads a frame range into a new interleaved vector.
    pub fn read_frames_vec(&self, start: u64, count: usize) -> Result<Vec<f64>> {
        let mut v = vec![0.0; count * self.info.channels];
        self.read_frames(start, count, &mut v)?;
        Ok(v)
    }

    /// One hyperslab in the stored type, converted in place into `dst`.
    fn block<T: Sample>(
        &self,
        f0: usize,
        k: usize,
        channel: Option<usize>,
        dst: &mut [f64],
    ) -> Result<()> {
        let raw: Vec<T> = if self.two_d {
            let cols = channel.map_or(SliceOrIndex::from(..), SliceOrIndex::from);
            self.data
                .read_slice::<T, _, ndarray::IxDyn>(rows_sel(f0..f0 + k, cols))
        } else {
            self.data.read_slice::<T, _, ndarray::IxDyn>(f0..f0 + k)
        }
        .map_err(self.ctx.h5(&self.data_path))?
        .into_raw_vec_and_offset()
        .0;
        let ch = if channel.is_some() {
            1
        } else {
            self.info.channels
        };
        let off = self.offset;
        if ch == 1 {
            let s = self.scale[channel.unwrap_or(0)];
            for (d, v) in dst.iter_mut().zip(&raw) {
                *d = v.f64() * s + off;
            }
        } else {
            for (df, vf) in dst.chunks_exact_mut(ch).zip(raw.chunks_exact(ch)) {
                for ((d, v), s) in df.iter_mut().zip(vf).zip(&self.scale) {
                    *d = v.f64() * s + off;
                }
            }
        }
        // `v·0` is 0 for a finite `v` and NaN otherwise: one branch-free pass over the
        // converted block, and the offending sample looked for only when there is one.
        if T::FLOAT && !all_finite(dst) {
            if let Some(i) = raw.iter().position(|v| !v.f64().is_finite()) {
                let (frame, c) = match channel {
                    Some(c) => (i, c),
                    None => (i / ch, i % ch),
                };
                return Err(NwbError::NonFinite {
                    path: self.ctx.path.clone(),
                    object: self.data_path.clone(),
                    sample: (f0 + frame) as u64,
                    channel: c,
                    value: raw[i].f64(),
                });
            }
        }
        Ok(())
    }

    /// The stimuli table `/intervals/stimuli`, or `None` when the file has none.
    ///
    /// Each stimulus must fall within the recording and name an existing channel.
    pub fn stimuli(&self) -> Result<Option<StimulusTable>> {
        let tpath = "/intervals/stimuli";
        if !self.file.link_exists("intervals") || !self.file.link_exists("intervals/stimuli") {
            return Ok(None);
        }
        let g = self.file.group(tpath).map_err(self.ctx.h5(tpath))?;
        if !g.link_exists("start_time") {
            return Err(self.ctx.invalid(
                tpath,
                "a stimuli table must have a start_time column".into(),
            ));
        }
        let times = self.f64_col(&g, tpath, "start_time")?;
        let n = times.len();
        let mut assumptions = Vec::new();
        let mut rows: Vec<Stimulus> = times
            .iter()
            .map(|&t| Stimulus {
                time_s: t,
                ..Stimulus::default()
            })
            .collect();
        let (t_start, t_end) = (
            self.info.starting_time,
            self.info.starting_time + self.info.duration_s,
        );
        for (row, &t) in times.iter().enumerate() {
            if !(t.is_finite() && t >= t_start && t <= t_end) {
                return Err(NwbError::StimulusOutsideRecording {
                    path: self.ctx.path.clone(),
                    object: tpath.into(),
                    row,
                    time_s: t,
                    start_s: t_start,
                    end_s: t_end,
                });
            }
        }
        let check_len = |name: &str, len: usize| -> Result<()> {
            if len != n {
                return Err(self.ctx.invalid(
                    &format!("{tpath}/{name}"),
                    format!("every column must have one value per row ({n}), got {len}"),
                ));
            }
            Ok(())
        };
        let missing = |name: &str, what: &str, a: &mut Vec<String>| {
            a.push(format!("no `{name}` column: {what}"))
        };
        for (name, what) in [
            ("nerve", "nerve unknown"),
            ("side", "side unknown"),
            ("site", "all stimuli taken as one site"),
        ] {
            if g.link_exists(name) {
                let v = self.str_col(&g, tpath, name)?;
                check_len(name, v.len())?;
                for (r, s) in rows.iter_mut().zip(v) {
                    let s = if s.trim().is_empty() { None } else { Some(s) };
                    match name {
                        "nerve" => r.nerve = s,
                        "side" => r.side = s,
                        _ => r.site = s,
                    }
                }
            } else {
                missing(name, what, &mut assumptions);
            }
        }
        if g.link_exists("modality") {
            let v = self.str_col(&g, tpath, "modality")?;
            check_len("modality", v.len())?;
            for (i, (r, s)) in rows.iter_mut().zip(v).enumerate() {
                if s.trim().is_empty() {
                    continue;
                }
                r.modality = Some(Modality::parse(&s).ok_or_else(|| {
                    self.ctx.invalid(
                        &format!("{tpath}/modality"),
                        format!("modality must be motor or sensory, got {s:?} in row {i}"),
                    )
                })?);
            }
        } else {
            missing("modality", "motor assumed", &mut assumptions);
        }
        for name in ["distance_mm", "intensity_ma"] {
            if g.link_exists(name) {
                let v = self.f64_col(&g, tpath, name)?;
                check_len(name, v.len())?;
                for (r, x) in rows.iter_mut().zip(v) {
                    let x = x.is_finite().then_some(x);
                    if name == "distance_mm" {
                        r.distance_mm = x;
                    } else {
                        r.intensity_ma = x;
                    }
                }
            } else if name == "distance_mm" {
                missing(
                    name,
                    "distances unknown, no conduction velocity",
                    &mut assumptions,
                );
            } else {
                missing(name, "intensities unknown", &mut assumptions);
            }
        }
        if g.link_exists("channel") {
            let cpath = format!("{tpath}/channel");
            let v = self.f64_col(&g, tpath, "channel")?;
            check_len("channel", v.len())?;
            for (i, (r, x)) in rows.iter_mut().zip(v).enumerate() {
                // Negative or NaN marks "unknown" (the writer stores -1 for None).
                if !x.is_finite() || x < 0.0 {
                    continue;
                }
                if x.fract() != 0.0 || x >= self.info.channels as f64 {
                    return Err(NwbError::ChannelOutOfRange {
                        path: self.ctx.path.clone(),
                        object: format!("{cpath} row {i}"),
                        channel: x as i64,
                        channels: self.info.channels,
                    });
                }
                r.channel = Some(x as usize);
            }
        } else {
            missing("channel", "channel 0 assumed", &mut assumptions);
        }
        for (name, count) in [
            (
                "channel",
                rows.iter().filter(|r| r.channel.is_none()).count(),
            ),
            (
                "distance_mm",
                rows.iter().filter(|r| r.distance_mm.is_none()).count(),
            ),
        ] {
            if count > 0 && g.link_exists(name) {
                assumptions.push(format!("{count} of {n} rows have no `{name}` value"));
            }
        }
        if g.link_exists("rejected") {
            let p = format!("{tpath}/rejected");
            let v = g
                .dataset("rejected")
                .and_then(|d| d.read_raw::<bool>())
                .map_err(self.ctx.h5(&p))?;
            check_len("rejected", v.len())?;
            let before = rows.len();
            let mut keep = v.iter().map(|r| !r);
            rows.retain(|_| keep.next().unwrap_or(true));
            let left_out = before - rows.len();
            if left_out > 0 {
                assumptions.push(format!(
                    "{left_out} stimulus row(s) rejected by the examiner (`rejected` column) are left out"
                ));
            }
        }
        Ok(Some(StimulusTable { rows, assumptions }))
    }

    /// A numeric column, or a string column parsed as numbers (blank → NaN).
    fn f64_col(&self, g: &Group, tpath: &str, name: &str) -> Result<Vec<f64>> {
        let p = format!("{tpath}/{name}");
        let ds = g.dataset(name).map_err(self.ctx.h5(&p))?;
        let td = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(self.ctx.h5(&p))?;
        match td {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_) => {
                ds.read_raw::<f64>().map_err(self.ctx.h5(&p))
            }
            t if is_string(&t) => read_strings(&ds)
                .map_err(self.ctx.h5(&p))?
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = s.trim();
                    if s.is_empty() || s.eq_ignore_ascii_case("nan") {
                        return Ok(f64::NAN);
                    }
                    s.parse::<f64>().map_err(|_| {
                        self.ctx
                            .invalid(&p, format!("row {i} must hold a number, got {s:?}"))
                    })
                })
                .collect(),
            other => Err(self
                .ctx
                .invalid(&p, format!("column must be numeric or text, got {other}"))),
        }
    }

    /// A string column, or a numeric one formatted.
    fn str_col(&self, g: &Group, tpath: &str, name: &str) -> Result<Vec<String>> {
        let p = format!("{tpath}/{name}");
        let ds = g.dataset(name).map_err(self.ctx.h5(&p))?;
        let td = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(self.ctx.h5(&p))?;
        if is_string(&td) {
            return read_strings(&ds).map_err(self.ctx.h5(&p));
        }
        Ok(self
            .f64_col(g, tpath, name)?
            .iter()
            .map(|x| x.to_string())
            .collect())
    }

    /// Names of the tables under `/processing/ncs` (empty when the file has none).
    pub fn table_names(&self) -> Vec<String> {
        self.file
            .group(&format!("/processing/{MODULE}"))
            .and_then(|g| g.member_names())
            .unwrap_or_default()
    }

    /// The table `/processing/ncs/<name>`, or `None` when absent.
    pub fn table(&self, name: &str) -> Result<Option<Table>> {
        let tpath = format!("/processing/{MODULE}/{name}");
        if !self.file.link_exists("processing")
            || !self.file.link_exists(&format!("processing/{MODULE}"))
            || !self.file.link_exists(&tpath)
        {
            return Ok(None);
        }
        let g = self.file.group(&tpath).map_err(self.ctx.h5(&tpath))?;
        let description = attr_string(&g, "description")
            .map_err(self.ctx.h5(&tpath))?
            .unwrap_or_default();
        let colnames = if has_attr(&g, "colnames") {
            let a = g.attr("colnames").map_err(self.ctx.h5(&tpath))?;
            let td = a
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(self.ctx.h5(&tpath))?;
            match td {
                TypeDescriptor::VarLenUnicode => a
                    .read_raw::<VarLenUnicode>()
                    .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
                TypeDescriptor::VarLenAscii => a
                    .read_raw::<VarLenAscii>()
                    .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
                other => {
                    return Err(self.ctx.invalid(
                        &tpath,
                        format!("colnames must be variable-length strings, got {other}"),
                    ))
                }
            }
            .map_err(self.ctx.h5(&tpath))?
        } else {
            Vec::new()
        };
        let mut columns = Vec::with_capacity(colnames.len());
        for c in colnames {
            let p = format!("{tpath}/{c}");
            let ds = g.dataset(&c).map_err(self.ctx.h5(&p))?;
            let td = ds
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(self.ctx.h5(&p))?;
            let data = match td {
                TypeDescriptor::Float(_) => {
                    ColumnData::F64(ds.read_raw().map_err(self.ctx.h5(&p))?)
                }
                TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
                    ColumnData::I64(ds.read_raw().map_err(self.ctx.h5(&p))?)
                }
                TypeDescriptor::Boolean => {
                    ColumnData::Bool(ds.read_raw().map_err(self.ctx.h5(&p))?)
                }
                TypeDescriptor::Enum(_) => ColumnData::Bool(
                    ds.read_raw::<i8>()
                        .map_err(self.ctx.h5(&p))?
                        .into_iter()
                        .map(|x| x != 0)
                        .collect(),
                ),
                t if is_string(&t) => ColumnData::Str(read_strings(&ds).map_err(self.ctx.h5(&p))?),
                other => {
                    return Err(self
                        .ctx
                        .invalid(&p, format!("unsupported column type {other}")))
                }
            };
            let description = attr_string(&ds, "description")
                .map_err(self.ctx.h5(&p))?
                .unwrap_or_default();
            columns.push(Column {
                name: c,
                description,
                data,
            });
        }
        Ok(Some(Table {
            name: name.to_owned(),
            description,
            columns,
        }))
    }

    /// Named texts written by ncs (protocol, configuration, version); the last row of a name wins.
    pub fn texts(&self) -> Result<BTreeMap<String, String>> {
        let Some(t) = self.table(TEXT_TABLE)? else {
            return Ok(BTreeMap::new());
        };
        match (
            t.column("key").map(|c| &c.data),
            t.column("text").map(|c| &c.data),
        ) {
            (Some(ColumnData::Str(n)), Some(ColumnData::Str(v))) => {
                Ok(n.iter().cloned().zip(v.iter().cloned()).collect())
            }
            _ => Err(self.ctx.invalid(
                &format!("/processing/{MODULE}/{TEXT_TABLE}"),
                "the text table must have string columns key and text".into(),
            )),
        }
    }

    /// Version of ncs that wrote the file, if ncs did.
    pub fn ncs_version(&self) -> Result<Option<String>> {
        Ok(self.texts()?.remove(VERSION_KEY))
    }

    /// The data-loss record (empty when absent).
    pub fn gaps(&self) -> Result<Vec<Gap>> {
        let Some(t) = self.table(GAP_TABLE)? else {
            return Ok(Vec::new());
        };
        let col = |n: &str| t.column(n).map(|c| &c.data);
        match (col("first_sample"), col("sample_count"), col("reason")) {
            (Some(ColumnData::I64(f)), Some(ColumnData::I64(c)), Some(ColumnData::Str(r))) => Ok(f
                .iter()
                .zip(c)
                .zip(r)
                .map(|((f, c), r)| Gap {
                    first_sample: (*f).max(0) as u64,
                    sample_count: (*c).max(0) as u64,
                    reason: r.clone(),
                })
                .collect()),
            _ => Err(self.ctx.invalid(
                &format!("/processing/{MODULE}/{GAP_TABLE}"),
                "the gap table must have integer first_sample, sample_count and string reason"
                    .into(),
            )),
        }
    }
}

/// Whether every value is finite: `v·0` is 0 for a finite `v` and NaN otherwise, summed in
/// independent lanes without a branch per value.
fn all_finite(x: &[f64]) -> bool {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            acc[l] += c[l] * 0.0;
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        acc[l] += v * 0.0;
    }
    acc.iter().sum::<f64>() == 0.0
}
