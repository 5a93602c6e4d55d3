#![doc = include_str!("../README.md")]

mod error;
mod h5;
mod model;
mod read;
mod write;

pub use error::{NwbError, Result};
pub use model::{
    Column, ColumnData, ColumnSpec, ColumnType, Gap, Modality, SampleStorage, SessionMeta,
    Stimulus, StimulusTable, Subject, Table, TableSpec, Value,
};
pub use read::{volts_per_unit, Session, SessionInfo};
pub use write::{SessionWriter, GAP_TABLE, MODULE, NWB_VERSION, TEXT_TABLE, VERSION_KEY};
