#![doc = include_str!("../README.md")]

mod error;
mod impair;
mod nerve;
mod scenario;
mod seed;
mod study;
mod sweep;
pub mod truth;

pub use error::SimError;
pub use impair::{Artefact, Drift, Impairments, Mains, Polarity};
pub use nerve::{
    BlockSelect, BlockSpec, DispersionSpec, IntensityPlan, Modality, NerveModel, NerveSpec,
    SegmentSpec, Side, SiteSpec, SlowingSpec,
};
pub use scenario::{list_scenarios, scenario, Scenario};
pub use study::{Stimulus, StimulusTruth, StudySource};
pub use sweep::{random_median, SimSweep, SweepConfig};
pub use truth::{measure, TrueMeasures};
