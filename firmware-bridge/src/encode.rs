//! Encoders: write one frame into a caller-provided buffer, no allocation.

use crate::crc::{crc16, crc32c};
use crate::frame::{
    Command, DataHeader, DeviceInfo, FrameType, Response, SampleFormat, DATA_FIXED_LEN,
    DEVICE_FLAG_NO_STIMULATOR, DEVICE_INFO_LEN, HEADER_LEN, MAX_BODY_LEN, MAX_CHANNELS, OVERHEAD,
    PROTOCOL_VERSION, SYNC,
};

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer is shorter than the frame.
    #[error("output buffer must hold {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The channel count is outside 1..=32.
    #[error("channel count must be 1..={max}, got {got}")]
    Channels {
        /// The rejected count.
        got: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The sample slice is empty or not a whole number of sample-frames.
    #[error("sample count must be a non-zero multiple of the channel count {channels}, got {got}")]
    SampleCount {
        /// Samples given.
        got: usize,
        /// Channels per sample-frame.
        channels: usize,
    },
    /// A sample does not fit the sample format.
    #[error("sample {index} must fit the sample format ({min}..={max}), got {value}")]
    SampleRange {
        /// Index of the sample in the slice.
        index: usize,
        /// The value.
        value: i32,
        /// Smallest value of the format.
        min: i32,
        /// Largest value of the format.
        max: i32,
    },
    /// A stimulus mark lies past the last sample-frame.
    #[error("stimulus mark offset must be < sample-frames in the frame ({frames}), got {offset}")]
    MarkOffset {
        /// The offset.
        offset: u16,
        /// Sample-frames in the frame.
        frames: usize,
    },
    /// A saturation or lead-off bit names a channel the frame does not have.
    #[error("{mask} mask must only name channels below {channels}, got {value:#010x}")]
    ChannelMask {
        /// `"saturation"` or `"lead-off"`.
        mask: &'static str,
        /// The mask.
        value: u32,
        /// Channels in the frame.
        channels: usize,
    },
    /// The body would exceed [`MAX_BODY_LEN`].
    #[error("frame body must be at most {max} bytes, got {got}")]
    BodyTooLong {
        /// Body length the input would need.
        got: usize,
        /// Largest allowed.
        max: usize,
    },
}

/// Bytes a data frame with these parameters takes on the wire.
pub const fn data_frame_len(
    channels: usize,
    sample_frames: usize,
    format: SampleFormat,
    marks: usize,
) -> usize {
    OVERHEAD + DATA_FIXED_LEN + 2 * marks + channels * sample_frames * format.bytes()
}

/// Writes the envelope around a body that the caller already placed at
/// `out[HEADER_LEN..HEADER_LEN + body_len]`; returns the frame length.
fn seal(frame_type: FrameType, body_len: usize, out: &mut [u8]) -> usize {
    out[..2].copy_from_slice(&SYNC);
    out[2] = PROTOCOL_VERSION;
    out[3] = frame_type as u8;
    // Callers check body_len <= MAX_BODY_LEN (8192) first, so it fits u16.
    out[4..6].copy_from_slice(&(body_len as u16).to_le_bytes());
    let hcrc = crc16(&out[2..6]);
    out[6..8].copy_from_slice(&hcrc.to_le_bytes());
    let end = HEADER_LEN + body_len;
    let fcrc = crc32c(&out[2..end]);
    out[end..end + 4].copy_from_slice(&fcrc.to_le_bytes());
    end + 4
}

fn check_room(needed: usize, out: &[u8]) -> Result<(), EncodeError> {
    if out.len() < needed {
        Err(EncodeError::BufferTooSmall {
            needed,
            got: out.len(),
        })
    } else {
        Ok(())
    }
}

/// Encodes a data frame: `samples` are interleaved sample-frames (all channels of instant 0,
/// then all channels of instant 1, …), `header.channels` values each. Returns the bytes written.
///
/// Every input is validated, so whatever this accepts the decoder accepts unchanged.
pub fn encode_data_frame(
    header: &DataHeader,
    samples: &[i32],
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let channels = usize::from(header.channels);
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(EncodeError::Channels {
            got: channels,
            max: MAX_CHANNELS,
        });
    }
    if samples.is_empty() || samples.len() % channels != 0 {
        return Err(EncodeError::SampleCount {
            got: samples.len(),
            channels,
        });
    }
    let frames = samples.len() / channels;
    let marks = header.marks.as_slice();
    let body_len = DATA_FIXED_LEN + 2 * marks.len() + samples.len() * header.format.bytes();
    if body_len > MAX_BODY_LEN {
        return Err(EncodeError::BodyTooLong {
            got: body_len,
            max: MAX_BODY_LEN,
        });
    }
    if let Some(&offset) = marks.iter().find(|&&m| usize::from(m) >= frames) {
        return Err(EncodeError::MarkOffset { offset, frames });
    }
    let allowed = if channels == 32 {
        u32::MAX
    } else {
        (1u32 << channels) - 1
    };
    for (mask, value) in [
        ("saturation", header.saturation),
        ("lead-off", header.lead_off),
    ] {
        if value & !allowed != 0 {
            return Err(EncodeError::ChannelMask {
                mask,
                value,
                channels,
            });
        }
    }
    let (min, max) = (header.format.min(), header.format.max());
    if let Some((index, &value)) = samples
        .iter()
        .enumerate()
        .find(|(_, &v)| v < min || v > max)
    {
        return Err(EncodeError::SampleRange {
            index,
            value,
            min,
            max,
        });
    }
    check_room(OVERHEAD + body_len, out)?;

    let body = &mut out[HEADER_LEN..HEADER_LEN + body_len];
    body[0..4].copy_from_slice(&header.sequence.to_le_bytes());
    body[4..12].copy_from_slice(&header.first_sample.to_le_bytes());
    body[12] = header.channels;
    body[13] = header.format as u8;
    // frames <= body_len / channels < 8192, fits u16.
    body[14..16].copy_from_slice(&(frames as u16).to_le_bytes());
    body[16] = marks.len() as u8;
    body[17] = 0;
    body[18..22].copy_from_slice(&header.saturation.to_le_bytes());
    body[22..26].copy_from_slice(&header.lead_off.to_le_bytes());
    let mut at = DATA_FIXED_LEN;
    for &m in marks {
        body[at..at + 2].copy_from_slice(&m.to_le_bytes());
        at += 2;
    }
    match header.format {
        SampleFormat::I24 => {
            for (dst, &s) in body[at..].chunks_exact_mut(3).zip(samples) {
                dst.copy_from_slice(&s.to_le_bytes()[..3]);
            }
        }
        SampleFormat::I16 => {
            for (dst, &s) in body[at..].chunks_exact_mut(2).zip(samples) {
                // Range checked above.
                dst.copy_from_slice(&(s as i16).to_le_bytes());
            }
        }
    }
    Ok(seal(FrameType::Data, body_len, out))
}

/// Encodes a host → device command. `tag` is chosen by the host and echoed in the answer
/// (Ack, Nack, Pong or DeviceInfo) so answers can be matched to commands.
pub fn encode_command(tag: u16, command: &Command, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut args = [0u8; 6];
    let n = match *command {
        Command::Start | Command::Stop | Command::GetDeviceInfo => 0,
        Command::SetSampleRate { hz } => {
            args[..4].copy_from_slice(&hz.to_le_bytes());
            4
        }
        Command::SetChannels { count } => {
            args[0] = count;
            1
        }
        Command::FireStimulus {
            pulse_width_us,
            intensity_ua,
        } => {
            args[..2].copy_from_slice(&pulse_width_us.to_le_bytes());
            args[2..6].copy_from_slice(&intensity_ua.to_le_bytes());
            6
        }
        Command::Ping { token } => {
            args[..4].copy_from_slice(&token.to_le_bytes());
            4
        }
    };
    encode_tagged(command.frame_type(), tag, &args[..n], out)
}

/// Encodes a device → host response to the command that carried `tag`.
pub fn encode_response(
    tag: u16,
    response: &Response,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let mut args = [0u8; DEVICE_INFO_LEN];
    let n = match *response {
        Response::DeviceInfo(ref info) => {
            write_device_info(info, &mut args);
            DEVICE_INFO_LEN
        }
        Response::Pong { token } => {
            args[..4].copy_from_slice(&token.to_le_bytes());
            4
        }
        Response::Ack { command } => {
            args[0] = command;
            1
        }
        Response::Nack {
            command,
            code,
            detail,
        } => {
            args[0] = command;
            args[1] = code.to_u8();
            args[2..6].copy_from_slice(&detail.to_le_bytes());
            6
        }
    };
    encode_tagged(response.frame_type(), tag, &args[..n], out)
}

/// Encodes device information (tag 0 when the device sends it unasked).
pub fn encode_device_info(
    tag: u16,
    info: &DeviceInfo,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    encode_response(tag, &Response::DeviceInfo(*info), out)
}

fn write_device_info(info: &DeviceInfo, b: &mut [u8; DEVICE_INFO_LEN]) {
    b[0] = info.channels;
    b[1] = info.max_channels;
    b[2] = info.format as u8;
    // Flags: only the no-stimulator bit is defined; the others are written as 0.
    b[3] = if info.stimulator {
        0
    } else {
        DEVICE_FLAG_NO_STIMULATOR
    };
    b[4..8].copy_from_slice(&info.sample_rate_hz.to_le_bytes());
    b[8..10].copy_from_slice(&info.samples_per_frame.to_le_bytes());
    b[10] = info.firmware_version.0;
    b[11] = info.firmware_version.1;
    b[12..14].copy_from_slice(&info.firmware_version.2.to_le_bytes());
    b[14..18].copy_from_slice(&info.gain.to_le_bytes());
    b[18..22].copy_from_slice(&info.volts_per_count.to_le_bytes());
    b[22..38].copy_from_slice(&info.serial);
}

fn encode_tagged(
    frame_type: FrameType,
    tag: u16,
    args: &[u8],
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let body_len = 2 + args.len();
    check_room(OVERHEAD + body_len, out)?;
    out[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&tag.to_le_bytes());
    out[HEADER_LEN + 2..HEADER_LEN + body_len].copy_from_slice(args);
    Ok(seal(frame_type, body_len, out))
}
