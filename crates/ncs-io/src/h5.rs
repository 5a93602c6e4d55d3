//! Small HDF5 helpers: strings chosen by stored type descriptor, attributes, error mapping.

use std::path::{Path, PathBuf};

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, Location};

use crate::error::NwbError;

/// Longest fixed-length string we read (HDF5 converts shorter fixed strings into this size).
const FIXED_MAX: usize = 1024;

/// File path carried into every error.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) path: PathBuf,
}

impl Ctx {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Maps an HDF5 error on `object`.
    pub(crate) fn h5(&self, object: &str) -> impl FnOnce(hdf5::Error) -> NwbError + '_ {
        let object = object.to_owned();
        move |source| NwbError::Hdf5 {
            path: self.path.clone(),
            object,
            source,
        }
    }

    pub(crate) fn invalid(&self, object: &str, rule: String) -> NwbError {
        NwbError::Invalid {
            path: self.path.clone(),
            object: object.to_owned(),
            rule,
        }
    }
}

/// Silences HDF5's own error stack printing once per process: our typed error is the report.
pub(crate) fn silence() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| hdf5::silence_errors(true));
}

pub(crate) fn has_attr(loc: &Location, name: &str) -> bool {
    loc.attr_names()
        .map(|n| n.iter().any(|a| a == name))
        .unwrap_or(false)
}

/// Reads a scalar string attribute of any string type; `None` when absent.
pub(crate) fn attr_string(loc: &Location, name: &str) -> hdf5::Result<Option<String>> {
    if !has_attr(loc, name) {
        return Ok(None);
    }
    let a = loc.attr(name)?;
    let td = a.dtype()?.to_descriptor()?;
    let s = match td {
        TypeDescriptor::VarLenUnicode => a.read_scalar::<VarLenUnicode>()?.as_str().to_owned(),
        TypeDescriptor::VarLenAscii => a.read_scalar::<VarLenAscii>()?.as_str().to_owned(),
        TypeDescriptor::FixedAscii(n) if n <= FIXED_MAX => a
            .read_scalar::<FixedAscii<FIXED_MAX>>()?
            .as_str()
            .to_owned(),
        TypeDescriptor::FixedUnicode(n) if n <= FIXED_MAX => a
            .read_scalar::<FixedUnicode<FIXED_MAX>>()?
            .as_str()
            .to_owned(),
        _ => return Ok(None),
    };
    Ok(Some(s))
}

/// Reads a numeric scalar attribute as f64; `None` when absent.
pub(crate) fn attr_f64(loc: &Location, name: &str) -> hdf5::Result<Option<f64>> {
    if !has_attr(loc, name) {
        return Ok(None);
    }
    loc.attr(name)?.read_scalar::<f64>().map(Some)
}

/// True when `td` is any HDF5 string type.
pub(crate) fn is_string(td: &TypeDescriptor) -> bool {
    matches!(
        td,
        TypeDescriptor::VarLenUnicode
            | TypeDescriptor::VarLenAscii
            | TypeDescriptor::FixedAscii(_)
            | TypeDescriptor::FixedUnicode(_)
    )
}

/// Reads a 1-D (or scalar) string dataset, choosing the memory type from the stored one.
pub(crate) fn read_strings(ds: &Dataset) -> hdf5::Result<Vec<String>> {
    let td = ds.dtype()?.to_descriptor()?;
    let scalar = ds.ndim() == 0;
    macro_rules! rd {
        ($t:ty) => {{
            if scalar {
                vec![ds.read_scalar::<$t>()?.as_str().to_owned()]
            } else {
                ds.read_raw::<$t>()?
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect()
            }
        }};
    }
    Ok(match td {
        TypeDescriptor::VarLenUnicode => rd!(VarLenUnicode),
        TypeDescriptor::VarLenAscii => rd!(VarLenAscii),
        TypeDescriptor::FixedAscii(n) if n <= FIXED_MAX => rd!(FixedAscii<FIXED_MAX>),
        TypeDescriptor::FixedUnicode(n) if n <= FIXED_MAX => rd!(FixedUnicode<FIXED_MAX>),
        other => {
            return Err(hdf5::Error::from(format!(
                "expected a string type (at most {FIXED_MAX} bytes if fixed), found {other}"
            )))
        }
    })
}

pub(crate) fn vlu(s: &str) -> Result<VarLenUnicode, NwbError> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| NwbError::InvalidInput {
            what: format!("string {s:?}"),
            rule: format!("strings must not contain NUL bytes ({e})"),
        })
}

pub(crate) fn vla(s: &str) -> Result<VarLenAscii, NwbError> {
    VarLenAscii::from_ascii(s).map_err(|e| NwbError::InvalidInput {
        what: format!("string {s:?}"),
        rule: format!("must be ASCII without NUL bytes ({e})"),
    })
}

pub(crate) fn set_attr_str(loc: &Location, name: &str, value: &str) -> Result<(), NwbError> {
    let v = vlu(value)?;
    let a = loc
        .new_attr::<VarLenUnicode>()
        .create(name)
        .map_err(|e| h5w(loc, name, e))?;
    a.write_scalar(&v).map_err(|e| h5w(loc, name, e))
}

pub(crate) fn set_attr_f64(loc: &Location, name: &str, value: f64) -> Result<(), NwbError> {
    let a = loc
        .new_attr::<f64>()
        .create(name)
        .map_err(|e| h5w(loc, name, e))?;
    a.write_scalar(&value).map_err(|e| h5w(loc, name, e))
}

pub(crate) fn set_attr_strs(loc: &Location, name: &str, values: &[String]) -> Result<(), NwbError> {
    let v = values
        .iter()
        .map(|s| vlu(s))
        .collect::<Result<Vec<_>, _>>()?;
    loc.new_attr_builder()
        .with_data(v.as_slice())
        .create(name)
        .map(|_| ())
        .map_err(|e| h5w(loc, name, e))
}

/// Sets `namespace` and `neurodata_type`, which pynwb needs to see an object at all.
pub(crate) fn set_type(loc: &Location, namespace: &str, ty: &str) -> Result<(), NwbError> {
    set_attr_str(loc, "namespace", namespace)?;
    set_attr_str(loc, "neurodata_type", ty)
}

/// Writer-side HDF5 error naming the object.
pub(crate) fn h5w(loc: &Location, name: &str, source: hdf5::Error) -> NwbError {
    NwbError::Hdf5 {
        path: PathBuf::from(loc.filename()),
        object: format!("{}/{}", loc.name().trim_end_matches('/'), name),
        source,
    }
}
