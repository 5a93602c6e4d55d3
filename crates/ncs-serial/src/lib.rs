#![doc = include_str!("../README.md")]

mod error;
mod ports;
mod queue;
mod source;
mod spec;
mod thirdparty;

pub use error::SerialError;
pub use ports::{list_ports, PortInfo, PortSpec};
pub use source::{
    LinkEvent, LinkReport, LiveStats, SerialConfig, SerialSource, SerialStats, LIVE_STATUS_RANGES,
    MAX_EVENTS,
};
pub use spec::{SerialFormat, SerialSpec};
pub use thirdparty::{BybSource, TextLineSource, ThirdPartyLive, ThirdPartyStats};

pub use firmware_bridge::byb::BybConfig;
