#![doc = include_str!("../README.md")]

pub mod criteria;
pub mod detector;
pub mod names;
pub mod normals;
pub mod observation;
pub mod patient;
pub mod protocols;
pub mod segment;
pub mod select;
pub mod study;

pub use criteria::{CriteriaError, CriteriaSet, Grade};
pub use detector::{
    BlockDetector, BlockSink, CollectSink, DetectorError, NullSink, PushReport, SiteVerdict,
};
pub use normals::{NormalEntry, NormalValues, NormalsError};
pub use observation::{Observation, ObservationError};
pub use patient::{ClinicalFindings, FindingsError, PatientSummary};
pub use segment::{DetectorOptions, SegmentVerdict, SubmaximalPolicy};
pub use select::Selection;
pub use study::{
    IntensityPlan, Modality, NerveProtocol, SiteProtocol, StimulationPlan, Study, StudyError,
    MAX_INTENSITY_MA,
};
