#![doc = include_str!("../README.md")]

pub mod command;
pub mod exam;
pub mod steer;
pub mod steps;

pub use command::{Command, CommandError};
pub use exam::{Action, Completion, Effect, Exam, ExamEvent, Phase, Status, StepStatus};
pub use steer::{steer, ExamSource, Steering, StimulatorStats};
pub use steps::{steps, Step};
