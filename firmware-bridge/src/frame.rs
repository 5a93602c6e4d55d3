//! The values carried by frames: data headers, commands, responses, device information.

/// First byte of every frame.
pub const SYNC0: u8 = 0xEB;
/// Second byte of every frame.
pub const SYNC1: u8 = 0x90;
/// The two-byte sync marker that starts every frame.
pub const SYNC: [u8; 2] = [SYNC0, SYNC1];
/// Protocol version this crate writes and reads.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes before the body: sync (2), version (1), type (1), body length (2), header CRC (2).
pub const HEADER_LEN: usize = 8;
/// Bytes after the body: CRC-32C.
pub const TRAILER_LEN: usize = 4;
/// Envelope overhead of one frame.
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// Largest body a frame may carry.
pub const MAX_BODY_LEN: usize = 8192;
/// Largest frame on the wire.
pub const MAX_FRAME_LEN: usize = MAX_BODY_LEN + OVERHEAD;
/// Most channels a data frame may carry (saturation and lead-off masks are 32 bits wide).
pub const MAX_CHANNELS: usize = 32;
/// Most stimulus marks one data frame may carry.
pub const MAX_MARKS: usize = 8;
/// Fixed part of a data body, before the stimulus offsets and the samples.
pub const DATA_FIXED_LEN: usize = 26;
/// Length of a device-information body.
pub const DEVICE_INFO_LEN: usize = 38;
/// Length of the serial-number field (ASCII, NUL-padded).
pub const SERIAL_LEN: usize = 16;
/// Bit of the device-information flags byte (offset 3) set by a device that has no
/// stimulator. Set-when-absent so that a device writing 0 there (the byte was reserved before)
/// keeps meaning "can fire", as hosts assumed.
pub const DEVICE_FLAG_NO_STIMULATOR: u8 = 0x01;

/// Frame type byte (offset 3 of every frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// Device → host: samples.
    Data = 0x01,
    /// Device → host: answer to [`Command::GetDeviceInfo`] (or sent unasked at start-up).
    DeviceInfo = 0x02,
    /// Device → host: answer to [`Command::Ping`].
    Pong = 0x03,
    /// Device → host: a command was carried out.
    Ack = 0x04,
    /// Device → host: a command was refused.
    Nack = 0x05,
    /// Host → device: start streaming.
    Start = 0x40,
    /// Host → device: stop streaming.
    Stop = 0x41,
    /// Host → device: set the sample rate.
    SetSampleRate = 0x42,
    /// Host → device: set the channel count.
    SetChannels = 0x43,
    /// Host → device: fire the stimulator.
    FireStimulus = 0x44,
    /// Host → device: ping.
    Ping = 0x45,
    /// Host → device: ask for device information.
    GetDeviceInfo = 0x46,
}

impl FrameType {
    /// The type for a type byte, if this version knows it.
    pub const fn from_u8(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::Data,
            0x02 => Self::DeviceInfo,
            0x03 => Self::Pong,
            0x04 => Self::Ack,
            0x05 => Self::Nack,
            0x40 => Self::Start,
            0x41 => Self::Stop,
            0x42 => Self::SetSampleRate,
            0x43 => Self::SetChannels,
            0x44 => Self::FireStimulus,
            0x45 => Self::Ping,
            0x46 => Self::GetDeviceInfo,
            _ => return None,
        })
    }

    /// Whether frames of this type travel host → device.
    pub const fn is_command(self) -> bool {
        (self as u8) >= 0x40
    }
}

/// How samples are packed in a data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SampleFormat {
    /// Signed 24-bit two's complement, little-endian, 3 bytes per sample.
    I24 = 1,
    /// Signed 16-bit two's complement, little-endian, 2 bytes per sample.
    I16 = 2,
}

impl SampleFormat {
    /// The format for a format byte.
    pub const fn from_u8(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::I24),
            2 => Some(Self::I16),
            _ => None,
        }
    }

    /// Bytes per sample on the wire.
    pub const fn bytes(self) -> usize {
        match self {
            Self::I24 => 3,
            Self::I16 => 2,
        }
    }

    /// Smallest representable count.
    pub const fn min(self) -> i32 {
        match self {
            Self::I24 => -(1 << 23),
            Self::I16 => i16::MIN as i32,
        }
    }

    /// Largest representable count.
    pub const fn max(self) -> i32 {
        match self {
            Self::I24 => (1 << 23) - 1,
            Self::I16 => i16::MAX as i32,
        }
    }
}

/// Sample offsets (within one data frame) at which the stimulator fired.
///
/// At most [`MAX_MARKS`] per frame: at 1 ms frames that is one pulse per 125 µs, far above any
/// nerve-conduction stimulation rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StimMarks {
    len: u8,
    offsets: [u16; MAX_MARKS],
}

impl StimMarks {
    /// No marks.
    pub const fn new() -> Self {
        Self {
            len: 0,
            offsets: [0; MAX_MARKS],
        }
    }

    /// Adds a mark at `offset` (sample-frame index within the frame). Returns `false`, and
    /// changes nothing, when [`MAX_MARKS`] marks are already held.
    pub fn push(&mut self, offset: u16) -> bool {
        match self.offsets.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = offset;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The marks, in the order they were added.
    pub fn as_slice(&self) -> &[u16] {
        &self.offsets[..usize::from(self.len)]
    }

    /// Number of marks.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no marks.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Everything a data frame says besides its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataHeader {
    /// Data-frame counter, +1 per data frame (wrapping); a jump means frames were lost.
    pub sequence: u32,
    /// Index, since streaming started, of the first sample-frame in this frame.
    pub first_sample: u64,
    /// Channels per sample-frame (1..=[`MAX_CHANNELS`]).
    pub channels: u8,
    /// Sample packing.
    pub format: SampleFormat,
    /// Stimulus instants within this frame.
    pub marks: StimMarks,
    /// Bit `c` set: channel `c` hit the ADC rails somewhere in this frame.
    pub saturation: u32,
    /// Bit `c` set: channel `c`'s electrode was off (lead-off detector) during this frame.
    pub lead_off: u32,
}

impl DataHeader {
    /// A header with no marks and no status bits.
    pub const fn new(sequence: u32, first_sample: u64, channels: u8, format: SampleFormat) -> Self {
        Self {
            sequence,
            first_sample,
            channels,
            format,
            marks: StimMarks::new(),
            saturation: 0,
            lead_off: 0,
        }
    }
}

/// Host → device commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Start streaming data frames; the sample index restarts at 0 and the sequence at 0.
    Start,
    /// Stop streaming.
    Stop,
    /// Set the per-channel sample rate in hertz (only while stopped).
    SetSampleRate {
        /// Samples per second per channel.
        hz: u32,
    },
    /// Set the number of channels streamed (only while stopped).
    SetChannels {
        /// Channel count, 1..=[`MAX_CHANNELS`].
        count: u8,
    },
    /// Fire the stimulator now; the device marks the sample at which it fired.
    FireStimulus {
        /// Pulse width in microseconds (0: device default).
        pulse_width_us: u16,
        /// Intensity in microamperes (0: device default).
        intensity_ua: u32,
    },
    /// Liveness check; the device answers [`Response::Pong`] with the same token.
    Ping {
        /// Echoed back unchanged.
        token: u32,
    },
    /// Ask for [`DeviceInfo`].
    GetDeviceInfo,
}

impl Command {
    /// The frame type carrying this command.
    pub const fn frame_type(&self) -> FrameType {
        match self {
            Self::Start => FrameType::Start,
            Self::Stop => FrameType::Stop,
            Self::SetSampleRate { .. } => FrameType::SetSampleRate,
            Self::SetChannels { .. } => FrameType::SetChannels,
            Self::FireStimulus { .. } => FrameType::FireStimulus,
            Self::Ping { .. } => FrameType::Ping,
            Self::GetDeviceInfo => FrameType::GetDeviceInfo,
        }
    }
}

/// Why a device refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NackCode {
    /// The command type is not known to this firmware.
    UnknownCommand,
    /// An argument is out of the device's range (the Nack `detail` carries the value).
    BadArgument,
    /// The device cannot do this now (e.g. stimulator recharging).
    Busy,
    /// The command needs streaming to be stopped (or started) first.
    WrongState,
    /// The hardware has no such function (e.g. no stimulator fitted).
    Unsupported,
    /// A code this version does not know.
    Other(u8),
}

impl NackCode {
    /// Wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::UnknownCommand => 1,
            Self::BadArgument => 2,
            Self::Busy => 3,
            Self::WrongState => 4,
            Self::Unsupported => 5,
            Self::Other(code) => code,
        }
    }

    /// From the wire value.
    pub const fn from_u8(code: u8) -> Self {
        match code {
            1 => Self::UnknownCommand,
            2 => Self::BadArgument,
            3 => Self::Busy,
            4 => Self::WrongState,
            5 => Self::Unsupported,
            other => Self::Other(other),
        }
    }
}

/// What the device says about itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceInfo {
    /// Channels currently streamed.
    pub channels: u8,
    /// Channels the hardware has.
    pub max_channels: u8,
    /// Sample packing of data frames.
    pub format: SampleFormat,
    /// Samples per second per channel.
    pub sample_rate_hz: u32,
    /// Sample-frames per data frame the device sends.
    pub samples_per_frame: u16,
    /// Firmware version (major, minor, patch).
    pub firmware_version: (u8, u8, u16),
    /// Amplifier gain (V/V) from electrode to ADC input.
    pub gain: f32,
    /// Volts at the electrodes per count (gain already divided out).
    pub volts_per_count: f32,
    /// Serial number, ASCII, NUL-padded.
    pub serial: [u8; SERIAL_LEN],
    /// Whether the device can fire a stimulator ([`Command::FireStimulus`]); on the wire, the
    /// flags byte's [`DEVICE_FLAG_NO_STIMULATOR`] bit is clear.
    pub stimulator: bool,
}

impl DeviceInfo {
    /// The serial number up to its first NUL.
    pub fn serial_bytes(&self) -> &[u8] {
        let end = self
            .serial
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(SERIAL_LEN);
        &self.serial[..end]
    }
}

/// Device → host answers to commands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Response {
    /// Answer to [`Command::GetDeviceInfo`].
    DeviceInfo(DeviceInfo),
    /// Answer to [`Command::Ping`].
    Pong {
        /// The ping's token.
        token: u32,
    },
    /// The command of type `command` was carried out.
    Ack {
        /// Type byte of the acknowledged command.
        command: u8,
    },
    /// The command of type `command` was refused.
    Nack {
        /// Type byte of the refused command.
        command: u8,
        /// Why.
        code: NackCode,
        /// Extra information (e.g. the rejected argument), 0 if none.
        detail: u32,
    },
}

impl Response {
    /// The frame type carrying this response.
    pub const fn frame_type(&self) -> FrameType {
        match self {
            Self::DeviceInfo(_) => FrameType::DeviceInfo,
            Self::Pong { .. } => FrameType::Pong,
            Self::Ack { .. } => FrameType::Ack,
            Self::Nack { .. } => FrameType::Nack,
        }
    }
}
