//! Recording an NWB 2 session: [`SessionWriter`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdf5::types::{VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, FileBuilder, Group, H5Type, ObjectReference1};
use hdf5::{Hyperslab, Selection, SliceOrIndex};
use ndarray::ArrayView2;

use crate::error::{NwbError, Result};
use crate::h5::{self, h5w, set_attr_f64, set_attr_str, set_attr_strs, set_type, vla, vlu};
use crate::model::{ColumnSpec, ColumnType, Gap, SampleStorage, SessionMeta, Stimulus, Value};

/// NWB version written in the root `nwb_version` attribute.
pub const NWB_VERSION: &str = "2.9.0";
/// Processing module holding ncs's own tables.
pub const MODULE: &str = "ncs";
/// Table of free texts (protocol, configuration, version) in the module.
pub const TEXT_TABLE: &str = "ncs_text";
/// Table of data-loss gaps in the module.
pub const GAP_TABLE: &str = "data_loss";
/// Row name of the ncs version in [`TEXT_TABLE`].
pub const VERSION_KEY: &str = "ncs_version";

/// Rows per chunk of table columns (tables grow by a few rows per second at most).
const TABLE_CHUNK: usize = 256;

struct ColWriter {
    ds: Dataset,
    ty: ColumnType,
    name: String,
}

/// A DynamicTable whose columns all grow by one element per row.
struct TableWriter {
    name: String,
    id: Dataset,
    cols: Vec<ColWriter>,
    rows: usize,
}

impl TableWriter {
    fn create(
        parent: &Group,
        name: &str,
        description: &str,
        (ns, ty): (&str, &str),
        columns: &[ColumnSpec],
    ) -> Result<Self> {
        let g = parent
            .create_group(name)
            .map_err(|e| h5w(parent, name, e))?;
        set_type(&g, ns, ty)?;
        set_attr_str(&g, "description", description)?;
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        set_attr_strs(&g, "colnames", &names)?;
        let id = grow_1d::<i64>(&g, "id")?;
        set_type(&id, "hdmf-common", "ElementIdentifiers")?;
        let mut cols = Vec::with_capacity(columns.len());
        for c in columns {
            let ds = match c.ty {
                ColumnType::F64 => grow_1d::<f64>(&g, &c.name)?,
                ColumnType::I64 => grow_1d::<i64>(&g, &c.name)?,
                ColumnType::Bool => grow_1d::<bool>(&g, &c.name)?,
                ColumnType::Str => grow_1d::<VarLenUnicode>(&g, &c.name)?,
            };
            set_attr_str(&ds, "description", &c.description)?;
            set_type(&ds, "hdmf-common", "VectorData")?;
            cols.push(ColWriter {
                ds,
                ty: c.ty,
                name: c.name.clone(),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            cols,
            rows: 0,
        })
    }

    fn column(&self, name: &str) -> Result<&Dataset> {
        self.cols
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.ds)
            .ok_or_else(|| NwbError::InvalidInput {
                what: format!("table {:?}", self.name),
                rule: format!("has no column {name:?}"),
            })
    }

    fn append(&mut self, values: &[Value]) -> Result<()> {
        if values.len() != self.cols.len() {
            return Err(NwbError::InvalidInput {
                what: format!("row of table {:?}", self.name),
                rule: format!(
                    "a row must hold one value per column ({}), got {}",
                    self.cols.len(),
                    values.len()
                ),
            });
        }
        for (c, v) in self.cols.iter().zip(values) {
            if c.ty != v.ty() {
                return Err(NwbError::InvalidInput {
                    what: format!("column {:?} of table {:?}", c.name, self.name),
                    rule: format!("value must be {:?}, got {v:?}", c.ty),
                });
            }
        }
        // Convert strings before touching the file so a bad string leaves the table whole.
        let strs: Vec<Option<VarLenUnicode>> = values
            .iter()
            .map(|v| match v {
                Value::Str(s) => vlu(s).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let r = self.rows;
        for ((c, v), st) in self.cols.iter().zip(values).zip(&strs) {
            match (v, st) {
                (Value::F64(x), _) => put(&c.ds, r, *x)?,
                (Value::I64(x), _) => put(&c.ds, r, *x)?,
                (Value::Bool(x), _) => put(&c.ds, r, *x)?,
                (Value::Str(_), Some(s)) => put(&c.ds, r, s.clone())?,
                (Value::Str(_), None) => unreachable_str()?,
            }
        }
        put(&self.id, r, r as i64)?;
        self.rows += 1;
        Ok(())
    }
}

fn unreachable_str() -> Result<()> {
    Err(NwbError::InvalidInput {
        what: "string cell".into(),
        rule: "was not converted".into(),
    })
}

/// A 1-D chunked dataset that starts empty and grows without bound.
fn grow_1d<T: H5Type>(g: &Group, name: &str) -> Result<Dataset> {
    g.new_dataset::<T>()
        .chunk(TABLE_CHUNK)
        .shape(0..)
        .create(name)
        .map_err(|e| h5w(g, name, e))
}

/// Overwrites the existing element `r` of a 1-D dataset.
fn overwrite<T: H5Type>(ds: &Dataset, r: usize, v: T) -> Result<()> {
    ds.write_slice(std::slice::from_ref(&v), r..r + 1)
        .map_err(|source| NwbError::Hdf5 {
            path: PathBuf::from(ds.filename()),
            object: ds.name(),
            source,
        })
}

/// Writes `v` at index `r` of a growable 1-D dataset.
fn put<T: H5Type>(ds: &Dataset, r: usize, v: T) -> Result<()> {
    let name = ds.name();
    let err = |e| NwbError::Hdf5 {
        path: PathBuf::from(ds.filename()),
        object: name.clone(),
        source: e,
    };
    ds.resize(r + 1).map_err(err)?;
    ds.write_slice(std::slice::from_ref(&v), r..r + 1)
        .map_err(err)
}

fn scalar_str(g: &Group, name: &str, value: &str) -> Result<()> {
    let v = vlu(value)?;
    let ds = g
        .new_dataset::<VarLenUnicode>()
        .create(name)
        .map_err(|e| h5w(g, name, e))?;
    ds.write_scalar(&v).map_err(|e| h5w(g, name, e))
}

fn scalar_ascii(g: &Group, name: &str, value: &str) -> Result<()> {
    let v = vla(value)?;
    let ds = g
        .new_dataset::<VarLenAscii>()
        .create(name)
        .map_err(|e| h5w(g, name, e))?;
    ds.write_scalar(&v).map_err(|e| h5w(g, name, e))
}

fn group(parent: &Group, name: &str) -> Result<Group> {
    parent.create_group(name).map_err(|e| h5w(parent, name, e))
}

/// Typed sample buffer in the stored type.
enum Block {
    F32(Vec<f32>),
    I16(Vec<i16>),
    I32(Vec<i32>),
}

/// Records one session into an NWB 2 file while samples arrive.
///
/// Every group, dataset and attribute is created in [`SessionWriter::create`]; afterwards only
/// datasets grow, so the file can be in SWMR mode and a reader can follow it live. Data reach
/// the disk at [`flush`](Self::flush) (or the automatic flush in `append_*`); a recorder that
/// is killed leaves a file holding everything up to its last flush.
pub struct SessionWriter {
    path: PathBuf,
    file: File,
    data: Dataset,
    channels: usize,
    storage: SampleStorage,
    chunk_frames: usize,
    pending: Vec<f32>,
    written_frames: u64,
    flushed_frames: u64,
    stimuli: TableWriter,
    /// The stimuli as written (the examiner's later edits applied), for those edits.
    stimulus_rows: Vec<Stimulus>,
    /// Distances the examiner entered per (nerve, side, site): applied to the rows written
    /// and to the rows to come.
    site_distances: Vec<((String, String, String), f64)>,
    gaps: TableWriter,
    texts: TableWriter,
    tables: Vec<TableWriter>,
    flush_interval: Option<Duration>,
    last_flush: Instant,
    finished: bool,
}

impl std::fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWriter")
            .field("path", &self.path)
            .field("channels", &self.channels)
            .field("frames", &self.frames())
            .field("flushed_frames", &self.flushed_frames)
            .finish_non_exhaustive()
    }
}

/// Stimuli table columns after `start_time`, `stop_time` (fixed by this profile).
fn stimulus_columns() -> Vec<ColumnSpec> {
    use ColumnType::*;
    vec![
        ColumnSpec::new("start_time", "stimulus instant, s", F64),
        ColumnSpec::new(
            "stop_time",
            "end of the stimulus interval, s (= start_time)",
            F64,
        ),
        ColumnSpec::new("nerve", "nerve stimulated", Str),
        ColumnSpec::new("side", "left or right", Str),
        ColumnSpec::new("site", "stimulation site", Str),
        ColumnSpec::new("modality", "motor or sensory", Str),
        ColumnSpec::new(
            "distance_mm",
            "site to active recording electrode, mm (NaN: unknown)",
            F64,
        ),
        ColumnSpec::new(
            "channel",
            "column of the acquisition data (-1: unknown)",
            I64,
        ),
        ColumnSpec::new("intensity_ma", "stimulus intensity, mA (NaN: unknown)", F64),
        ColumnSpec::new(
            "rejected",
            "the examiner rejected this sweep: it is not measured or used",
            Bool,
        ),
    ]
}

fn validate(meta: &SessionMeta) -> Result<()> {
    let bad = |field: &str, rule: &str, value: String| {
        Err(NwbError::InvalidMeta {
            field: field.into(),
            rule: rule.into(),
            value,
        })
    };
    if meta.identifier.trim().is_empty() {
        return bad(
            "identifier",
            "must not be empty",
            format!("{:?}", meta.identifier),
        );
    }
    if !(meta.sample_rate_hz.is_finite() && meta.sample_rate_hz > 0.0) {
        return bad(
            "sample_rate_hz",
            "must be finite and > 0",
            meta.sample_rate_hz.to_string(),
        );
    }
    if meta.channel_names.is_empty() {
        return bad(
            "channel_names",
            "must name at least one channel",
            "none".into(),
        );
    }
    if !is_iso8601_with_offset(&meta.start_time) {
        return bad(
            "start_time",
            "must be ISO-8601 with a UTC offset (YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm))",
            format!("{:?}", meta.start_time),
        );
    }
    if let SampleStorage::I16 { conversion } | SampleStorage::I32 { conversion } = meta.storage {
        if !(conversion.is_finite() && conversion > 0.0) {
            return bad(
                "storage.conversion",
                "must be finite and > 0 volts per count",
                conversion.to_string(),
            );
        }
    }
    if meta.chunk_frames == 0 {
        return bad("chunk_frames", "must be >= 1", "0".into());
    }
    if !valid_name(&meta.series_name) {
        return bad(
            "series_name",
            "must be a non-empty name without '/' or '.'",
            format!("{:?}", meta.series_name),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for t in &meta.tables {
        if !valid_name(&t.name)
            || t.name == TEXT_TABLE
            || t.name == GAP_TABLE
            || !seen.insert(&t.name)
        {
            return bad(
                "tables",
                "table names must be unique names without '/' or '.', other than ncs_text and data_loss",
                format!("{:?}", t.name),
            );
        }
        let mut cols = std::collections::HashSet::new();
        for c in &t.columns {
            if !valid_name(&c.name) || c.name == "id" || !cols.insert(&c.name) {
                return bad(
                    "tables.columns",
                    "column names must be unique names without '/' or '.', other than id",
                    format!("{:?} in table {:?}", c.name, t.name),
                );
            }
        }
    }
    Ok(())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && s != "." && s != ".."
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
pub(crate) fn is_iso8601_with_offset(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] => true,
        [sign, ..] if (*sign == b'+' || *sign == b'-') && b.len() == i + 6 => {
            digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        _ => false,
    }
}

/// Current UTC time as ISO-8601 with offset.
fn now_iso() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant), valid for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        d.subsec_micros()
    )
}

impl SessionWriter {
    /// Creates the file (overwriting one that exists) with every object the session will need,
    /// then switches to SWMR mode if `meta.swmr`.
    pub fn create(path: impl AsRef<Path>, meta: &SessionMeta) -> Result<Self> {
        h5::silence();
        validate(meta)?;
        let path = path.as_ref().to_owned();
        let file = FileBuilder::new()
            .with_fapl(|p| p.libver_v110())
            .create(&path)
            .map_err(|source| NwbError::Hdf5 {
                path: path.clone(),
                object: "/".into(),
                source,
            })?;
        let root: &Group = &file;
        set_type(root, "core", "NWBFile")?;
        set_attr_str(root, "nwb_version", NWB_VERSION)?;
        scalar_str(root, "identifier", &meta.identifier)?;
        scalar_str(root, "session_description", &meta.description)?;
        scalar_ascii(root, "session_start_time", &meta.start_time)?;
        scalar_ascii(root, "timestamps_reference_time", &meta.start_time)?;
        let created = [vla(&now_iso())?];
        root.new_dataset_builder()
            .with_data(&created[..])
            .create("file_create_date")
            .map_err(|e| h5w(root, "file_create_date", e))?;
        let acquisition = group(root, "acquisition")?;
        group(root, "analysis")?;
        let processing = group(root, "processing")?;
        let stimulus = group(root, "stimulus")?;
        group(&stimulus, "presentation")?;
        group(&stimulus, "templates")?;
        let intervals = group(root, "intervals")?;
        let general = group(root, "general")?;

        let subject = group(&general, "subject")?;
        set_type(&subject, "core", "Subject")?;
        scalar_str(&subject, "subject_id", &meta.subject.subject_id)?;
        scalar_str(&subject, "species", &meta.subject.species)?;
        scalar_str(&subject, "sex", &meta.subject.sex)?;
        if let Some(age) = &meta.subject.age {
            scalar_str(&subject, "age", age)?;
        }

        // Electrodes: one device, one group, one row per channel (ElectricalSeries needs them).
        let devices = group(&general, "devices")?;
        let device = group(&devices, "amplifier")?;
        set_type(&device, "core", "Device")?;
        set_attr_str(&device, "description", "EMG amplifier")?;
        let ephys = group(&general, "extracellular_ephys")?;
        let egroup = group(&ephys, "emg")?;
        set_type(&egroup, "core", "ElectrodeGroup")?;
        set_attr_str(&egroup, "description", "surface EMG electrodes")?;
        set_attr_str(&egroup, "location", &meta.electrode_location)?;
        // pynwb only follows a *soft* link here.
        egroup
            .link_soft("/general/devices/amplifier", "device")
            .map_err(|e| h5w(&egroup, "device", e))?;
        let n = meta.channels();
        let etable = group(&ephys, "electrodes")?;
        set_type(&etable, "core", "ElectrodesTable")?;
        set_attr_str(&etable, "description", "one row per recording channel")?;
        let cols: Vec<String> = ["location", "group", "group_name", "channel_name"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        set_attr_strs(&etable, "colnames", &cols)?;
        let ids: Vec<i64> = (0..n as i64).collect();
        let id = etable
            .new_dataset_builder()
            .with_data(ids.as_slice())
            .create("id")
            .map_err(|e| h5w(&etable, "id", e))?;
        set_type(&id, "hdmf-common", "ElementIdentifiers")?;
        let gref: ObjectReference1 = file
            .reference("/general/extracellular_ephys/emg")
            .map_err(|e| h5w(&ephys, "emg", e))?;
        let str_col = |name: &str, desc: &str, vals: Vec<String>| -> Result<()> {
            let v = vals.iter().map(|s| vlu(s)).collect::<Result<Vec<_>>>()?;
            let ds = etable
                .new_dataset_builder()
                .with_data(v.as_slice())
                .create(name)
                .map_err(|e| h5w(&etable, name, e))?;
            set_attr_str(&ds, "description", desc)?;
            set_type(&ds, "hdmf-common", "VectorData")
        };
        str_col(
            "location",
            "electrode location",
            vec![meta.electrode_location.clone(); n],
        )?;
        let grefs = vec![gref; n];
        let gds = etable
            .new_dataset_builder()
            .with_data(grefs.as_slice())
            .create("group")
            .map_err(|e| h5w(&etable, "group", e))?;
        set_attr_str(&gds, "description", "electrode group of each channel")?;
        set_type(&gds, "hdmf-common", "VectorData")?;
        str_col(
            "group_name",
            "name of the electrode group",
            vec!["emg".to_owned(); n],
        )?;
        str_col(
            "channel_name",
            "channel name on the amplifier",
            meta.channel_names.clone(),
        )?;

        // The series.
        let series = group(&acquisition, &meta.series_name)?;
        set_type(&series, "core", "ElectricalSeries")?;
        set_attr_str(&series, "description", &meta.description)?;
        set_attr_str(&series, "comments", "recorded by ncs")?;
        let chunk = (meta.chunk_frames, n);
        let ext: &[(usize, Option<usize>)] = &[(0, None), (n, Some(n))];
        let b = series.new_dataset_builder();
        let b = match meta.storage {
            SampleStorage::F32 => b.empty::<f32>(),
            SampleStorage::I16 { .. } => b.empty::<i16>(),
            SampleStorage::I32 { .. } => b.empty::<i32>(),
        };
        let data = b
            .chunk(chunk)
            .shape(ext)
            .create("data")
            .map_err(|e| h5w(&series, "data", e))?;
        let conversion = match meta.storage {
            SampleStorage::F32 => 1.0,
            SampleStorage::I16 { conversion } | SampleStorage::I32 { conversion } => conversion,
        };
        set_attr_str(&data, "unit", "volts")?;
        set_attr_f64(&data, "conversion", conversion)?;
        set_attr_f64(&data, "offset", 0.0)?;
        set_attr_f64(&data, "resolution", -1.0)?;
        let st = series
            .new_dataset::<f64>()
            .create("starting_time")
            .map_err(|e| h5w(&series, "starting_time", e))?;
        st.write_scalar(&0.0)
            .map_err(|e| h5w(&series, "starting_time", e))?;
        // `rate` must be a float for pynwb.
        set_attr_f64(&st, "rate", meta.sample_rate_hz)?;
        set_attr_str(&st, "unit", "seconds")?;
        let region = series
            .new_dataset_builder()
            .with_data(ids.as_slice())
            .create("electrodes")
            .map_err(|e| h5w(&series, "electrodes", e))?;
        set_attr_str(&region, "description", "recording channels")?;
        set_type(&region, "hdmf-common", "DynamicTableRegion")?;
        let tref: ObjectReference1 = file
            .reference("/general/extracellular_ephys/electrodes")
            .map_err(|e| h5w(&ephys, "electrodes", e))?;
        region
            .new_attr::<ObjectReference1>()
            .create("table")
            .and_then(|a| a.write_scalar(&tref))
            .map_err(|e| h5w(&region, "table", e))?;

        let stimuli = TableWriter::create(
            &intervals,
            "stimuli",
            "stimuli, one row per stimulus; start_time is the stimulus instant",
            ("core", "TimeIntervals"),
            &stimulus_columns(),
        )?;

        let module = group(&processing, MODULE)?;
        set_type(&module, "core", "ProcessingModule")?;
        set_attr_str(
            &module,
            "description",
            "ncs results, texts and data-loss record",
        )?;
        let mut texts = TableWriter::create(
            &module,
            TEXT_TABLE,
            "named texts: study protocol, pipeline configuration, ncs version",
            ("hdmf-common", "DynamicTable"),
            &[
                ColumnSpec::new("key", "what the text is", ColumnType::Str),
                ColumnSpec::new("text", "the text (TOML, JSON or plain)", ColumnType::Str),
            ],
        )?;
        let gaps = TableWriter::create(
            &module,
            GAP_TABLE,
            "samples lost while recording",
            ("hdmf-common", "DynamicTable"),
            &[
                ColumnSpec::new(
                    "first_sample",
                    "first lost frame on the sample clock",
                    ColumnType::I64,
                ),
                ColumnSpec::new("sample_count", "frames lost", ColumnType::I64),
                ColumnSpec::new("reason", "why", ColumnType::Str),
            ],
        )?;
        let mut tables = Vec::with_capacity(meta.tables.len());
        for t in &meta.tables {
            tables.push(TableWriter::create(
                &module,
                &t.name,
                &t.description,
                ("hdmf-common", "DynamicTable"),
                &t.columns,
            )?);
        }
        texts.append(&[
            Value::Str(VERSION_KEY.into()),
            Value::Str(env!("CARGO_PKG_VERSION").into()),
        ])?;

        file.flush().map_err(|e| h5w(root, "", e))?;
        if meta.swmr {
            file.start_swmr().map_err(|e| h5w(root, "", e))?;
        }
        Ok(Self {
            path,
            file,
            data,
            channels: n,
            storage: meta.storage,
            chunk_frames: meta.chunk_frames,
            pending: Vec::with_capacity(meta.chunk_frames * n),
            written_frames: 0,
            flushed_frames: 0,
            stimuli,
            stimulus_rows: Vec::new(),
            site_distances: Vec::new(),
            gaps,
            texts,
            tables,
            flush_interval: meta.flush_interval,
            last_flush: Instant::now(),
            finished: false,
        })
    }

    /// File being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames appended so far (written or pending).
    pub fn frames(&self) -> u64 {
        self.written_frames + (self.pending.len() / self.channels) as u64
    }

    /// Frames known to be on disk (as of the last flush).
    pub fn flushed_frames(&self) -> u64 {
        self.flushed_frames
    }

    /// Appends interleaved frames in volts (`channels` values per frame).
    ///
    /// Integer storage rounds to the nearest count and saturates at the type's range.
    /// Data is buffered up to one chunk, then written; call [`flush`](Self::flush) to make it
    /// durable (or rely on the automatic flush).
    pub fn append_frames(&mut self, frames: &[f32]) -> Result<()> {
        if frames.len() % self.channels != 0 {
            return Err(NwbError::InvalidInput {
                what: "append_frames".into(),
                rule: format!(
                    "block length must be a multiple of the channel count {}, got {}",
                    self.channels,
                    frames.len()
                ),
            });
        }
        if let Some(i) = frames.iter().position(|v| !v.is_finite()) {
            return Err(NwbError::InvalidInput {
                what: "append_frames".into(),
                rule: format!(
                    "samples must be finite, frame {} channel {} is {}",
                    self.frames() + (i / self.channels) as u64,
                    i % self.channels,
                    frames[i]
                ),
            });
        }
        self.pending.extend_from_slice(frames);
        if self.pending.len() >= self.chunk_frames * self.channels {
            self.write_pending()?;
        }
        self.maybe_flush()
    }

    fn write_pending(&mut self) -> Result<()> {
        let k = self.pending.len() / self.channels;
        if k == 0 {
            return Ok(());
        }
        let n0 = self.written_frames as usize;
        let ch = self.channels;
        let err = |source| NwbError::Hdf5 {
            path: self.path.clone(),
            object: self.data.name(),
            source,
        };
        self.data.resize((n0 + k, ch)).map_err(err)?;
        let sel = rows_sel(n0..n0 + k, SliceOrIndex::from(..));
        let res = match quantize(&self.pending, self.storage) {
            Block::F32(v) => write2(&self.data, &v, k, ch, sel),
            Block::I16(v) => write2(&self.data, &v, k, ch, sel),
            Block::I32(v) => write2(&self.data, &v, k, ch, sel),
        };
        res.map_err(|source| NwbError::Hdf5 {
            path: self.path.clone(),
            object: self.data.name(),
            source,
        })?;
        self.written_frames += k as u64;
        self.pending.clear();
        Ok(())
    }

    /// Appends one stimulus row to `/intervals/stimuli` (a distance entered for its site with
    /// [`set_site_distance`](Self::set_site_distance) replaces the row's own).
    pub fn append_stimulus(&mut self, st: &Stimulus) -> Result<()> {
        if !st.time_s.is_finite() {
            return Err(NwbError::InvalidInput {
                what: "append_stimulus".into(),
                rule: format!("stimulus time must be finite, got {}", st.time_s),
            });
        }
        if let Some(c) = st.channel.filter(|c| *c >= self.channels) {
            return Err(NwbError::InvalidInput {
                what: "append_stimulus".into(),
                rule: format!("channel index must be < {}, got {c}", self.channels),
            });
        }
        let mut st = st.clone();
        if let Some(d) = self.site_distance(&st) {
            st.distance_mm = Some(d);
        }
        self.stimuli.append(&stimulus_values(&st, false))?;
        self.stimulus_rows.push(st);
        self.maybe_flush()
    }

    fn site_distance(&self, st: &Stimulus) -> Option<f64> {
        let (nerve, side, site) = (st.nerve.as_ref()?, st.side.as_ref()?, st.site.as_ref()?);
        self.site_distances
            .iter()
            .rev()
            .find(|((n, sd, s), _)| n == nerve && sd == side && s == site)
            .map(|(_, d)| *d)
    }

    /// The distance from a site to the active electrode, entered during the study (measured
    /// with a tape once the site was stimulated): rewrites `distance_mm` of the stimuli of that
    /// site written so far and applies to those to come. Returns the rows rewritten.
    pub fn set_site_distance(
        &mut self,
        nerve: &str,
        side: &str,
        site: &str,
        distance_mm: f64,
    ) -> Result<usize> {
        if !(distance_mm.is_finite() && distance_mm >= 0.0) {
            return Err(NwbError::InvalidInput {
                what: format!("distance of {side} {nerve} {site}"),
                rule: format!("must be a finite number of mm >= 0, got {distance_mm}"),
            });
        }
        let key = (nerve.to_owned(), side.to_owned(), site.to_owned());
        self.site_distances.push((key, distance_mm));
        let col = self.stimuli.column("distance_mm")?;
        let mut n = 0;
        for (r, st) in self.stimulus_rows.iter_mut().enumerate() {
            if st.nerve.as_deref() == Some(nerve)
                && st.side.as_deref() == Some(side)
                && st.site.as_deref() == Some(site)
            {
                st.distance_mm = Some(distance_mm);
                overwrite(col, r, distance_mm)?;
                n += 1;
            }
        }
        self.maybe_flush()?;
        Ok(n)
    }

    /// Marks the stimulus at `time_s` (exactly as written) rejected by the examiner: readers
    /// leave it out. Returns whether such a row exists.
    pub fn reject_stimulus(&mut self, time_s: f64) -> Result<bool> {
        let Some(r) = self.stimulus_rows.iter().rposition(|s| s.time_s == time_s) else {
            return Ok(false);
        };
        overwrite(self.stimuli.column("rejected")?, r, true)?;
        self.maybe_flush()?;
        Ok(true)
    }

    /// Records a stretch of lost samples.
    pub fn append_gap(&mut self, gap: &Gap) -> Result<()> {
        let to_i64 = |what: &str, v: u64| {
            i64::try_from(v).map_err(|_| NwbError::InvalidInput {
                what: "append_gap".into(),
                rule: format!("{what} must fit in i64, got {v}"),
            })
        };
        let row = [
            Value::I64(to_i64("first_sample", gap.first_sample)?),
            Value::I64(to_i64("sample_count", gap.sample_count)?),
            Value::Str(gap.reason.clone()),
        ];
        self.gaps.append(&row)?;
        self.maybe_flush()
    }

    /// Appends a row to the table named `table` (declared in [`SessionMeta::tables`]).
    pub fn append_row(&mut self, table: &str, values: &[Value]) -> Result<()> {
        let t = self
            .tables
            .iter_mut()
            .find(|t| t.name == table)
            .ok_or_else(|| NwbError::InvalidInput {
                what: format!("append_row({table:?})"),
                rule: "the table must be declared in SessionMeta::tables".into(),
            })?;
        t.append(values)?;
        self.maybe_flush()
    }

    /// Stores a named text (study protocol, pipeline configuration, ...). Setting a name again
    /// appends a new row; readers take the last one.
    pub fn set_text(&mut self, name: &str, text: &str) -> Result<()> {
        self.texts
            .append(&[Value::Str(name.to_owned()), Value::Str(text.to_owned())])?;
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> Result<()> {
        match self.flush_interval {
            Some(iv) if self.last_flush.elapsed() >= iv => self.flush().map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Writes buffered frames and flushes the file; returns the frames now durable.
    pub fn flush(&mut self) -> Result<u64> {
        self.write_pending()?;
        self.file.flush().map_err(|source| NwbError::Hdf5 {
            path: self.path.clone(),
            object: "/".into(),
            source,
        })?;
        self.flushed_frames = self.written_frames;
        self.last_flush = Instant::now();
        Ok(self.flushed_frames)
    }

    /// Flushes and closes the file; returns the total frames recorded.
    ///
    /// Tables that stayed empty (no stimulus, no data loss, ...) are removed once the file is
    /// closed, because nwbinspector's checks fail on zero-length columns: an absent
    /// `data_loss` table in a finished session means nothing was lost. A recording that is
    /// killed keeps its empty tables, which readers accept too.
    pub fn finish(mut self) -> Result<u64> {
        let n = self.flush()?;
        self.finished = true;
        let empty: Vec<String> = std::iter::once(("intervals", &self.stimuli))
            .chain(
                std::iter::once(&self.gaps)
                    .chain(&self.tables)
                    .map(|t| (MODULE, t)),
            )
            .filter(|(_, t)| t.rows == 0)
            .map(|(parent, t)| format!("{parent}/{}", t.name))
            .collect();
        let path = self.path.clone();
        // Every handle on the file lives in `self`: dropping it closes the file.
        drop(self);
        if !empty.is_empty() {
            remove_objects(&path, &empty)?;
        }
        Ok(n)
    }
}

impl Drop for SessionWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: a dropped writer keeps what it can; errors were reportable via flush().
            let _ = self.flush();
        }
    }
}

/// The stimuli-table row of `st` (columns of [`stimulus_columns`]).
fn stimulus_values(st: &Stimulus, rejected: bool) -> [Value; 10] {
    let text = |o: &Option<String>| Value::Str(o.clone().unwrap_or_default());
    let num = |o: Option<f64>| Value::F64(o.unwrap_or(f64::NAN));
    [
        Value::F64(st.time_s),
        Value::F64(st.time_s),
        text(&st.nerve),
        text(&st.side),
        text(&st.site),
        Value::Str(
            st.modality
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
        ),
        num(st.distance_mm),
        Value::I64(st.channel.map_or(-1, |c| c as i64)),
        num(st.intensity_ma),
        Value::Bool(rejected),
    ]
}

/// Unlinks `names` (relative to the root, `intervals/stimuli` or `ncs/data_loss`, the
/// latter under `/processing`) from the closed session at `path`.
fn remove_objects(path: &Path, names: &[String]) -> Result<()> {
    let file = File::open_rw(path).map_err(|source| NwbError::Hdf5 {
        path: path.to_owned(),
        object: "/".into(),
        source,
    })?;
    for name in names {
        let (parent, child) = name.split_once('/').unwrap_or(("", name));
        let parent = if parent == MODULE {
            format!("/processing/{MODULE}")
        } else {
            format!("/{parent}")
        };
        let g = file.group(&parent).map_err(|e| h5w(&file, &parent, e))?;
        g.unlink(child).map_err(|e| h5w(&g, child, e))?;
    }
    file.close().map_err(|source| NwbError::Hdf5 {
        path: path.to_owned(),
        object: "/".into(),
        source,
    })
}

fn write2<T: H5Type>(
    ds: &Dataset,
    v: &[T],
    k: usize,
    ch: usize,
    sel: Selection,
) -> hdf5::Result<()> {
    let view = ArrayView2::from_shape((k, ch), v).map_err(|e| hdf5::Error::from(e.to_string()))?;
    ds.write_slice(view, sel)
}

fn quantize(v: &[f32], storage: SampleStorage) -> Block {
    match storage {
        SampleStorage::F32 => Block::F32(v.to_vec()),
        SampleStorage::I16 { conversion } => {
            // `as` saturates, which is what a clipping amplifier would do.
            Block::I16(
                v.iter()
                    .map(|x| (f64::from(*x) / conversion).round() as i16)
                    .collect(),
            )
        }
        SampleStorage::I32 { conversion } => Block::I32(
            v.iter()
                .map(|x| (f64::from(*x) / conversion).round() as i32)
                .collect(),
        ),
    }
}

/// Selection of `rows` × `cols` in a 2-D dataset (the `s!` macro is off-limits: it expands
/// to `unsafe`).
pub(crate) fn rows_sel(rows: std::ops::Range<usize>, cols: SliceOrIndex) -> Selection {
    Selection::from(Hyperslab::from(vec![SliceOrIndex::from(rows), cols]))
}
