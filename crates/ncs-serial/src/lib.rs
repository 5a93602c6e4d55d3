#![doc = include_str!("../README.md")]

mod error;
mod ports;
mod queue;
mod source;
mod thirdparty;

pub use error::SerialError;
pub use ports::{list_ports, PortInfo, PortSpec};
pub use source::{LinkEvent, LiveStats, SerialConfig, SerialSource, SerialStats};
pub use thirdparty::{BybSource, TextLineSource, ThirdPartyStats};

pub use firmware_bridge::byb::BybConfig;
