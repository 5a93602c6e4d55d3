#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(feature = "std")]
extern crate std;

pub mod byb;
pub mod crc;
mod decode;
mod encode;
mod frame;
mod scale;
pub mod text;

pub use decode::{
    DataFrame, DecodeError, Decoder, Frame, Gap, OutputTooSmall, Samples, Stats, DEFAULT_CAPACITY,
    MIN_CAPACITY,
};
pub use encode::{
    data_frame_len, encode_command, encode_data_frame, encode_device_info, encode_response,
    EncodeError,
};
pub use frame::{
    Command, DataHeader, DeviceInfo, FrameType, NackCode, Response, SampleFormat, StimMarks,
    DATA_FIXED_LEN, DEVICE_FLAG_NO_STIMULATOR, DEVICE_INFO_LEN, HEADER_LEN, MAX_BODY_LEN,
    MAX_CHANNELS, MAX_FRAME_LEN, MAX_MARKS, OVERHEAD, PROTOCOL_VERSION, SERIAL_LEN, SYNC, SYNC0,
    SYNC1, TRAILER_LEN,
};
pub use scale::{ConfigError, Scale};
