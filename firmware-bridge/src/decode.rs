//! Streaming decoder: push bytes in any split, pull frames out. No I/O, no allocation.

use core::ops::Range;

use crate::crc::{crc16, crc32c};
use crate::frame::{
    Command, DataHeader, DeviceInfo, FrameType, NackCode, Response, SampleFormat, StimMarks,
    DATA_FIXED_LEN, DEVICE_FLAG_NO_STIMULATOR, DEVICE_INFO_LEN, HEADER_LEN, MAX_BODY_LEN,
    MAX_CHANNELS, MAX_FRAME_LEN, MAX_MARKS, OVERHEAD, PROTOCOL_VERSION, SERIAL_LEN, SYNC, SYNC0,
};

/// Default buffer size of [`Decoder`]: two of the largest frames.
pub const DEFAULT_CAPACITY: usize = 2 * MAX_FRAME_LEN;

/// Smallest buffer a decoder may have: room for the largest command or response frame.
pub const MIN_CAPACITY: usize = OVERHEAD + 2 + DEVICE_INFO_LEN;

/// Why bytes that looked like a frame were rejected. "Need more bytes" is never an error:
/// [`Decoder::next_frame`] returns `None` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The header check failed: a corrupted header or a sync marker that occurred by chance.
    #[error("header CRC-16 must match, computed {computed:#06x}, frame says {found:#06x}")]
    HeaderCrc {
        /// CRC computed over the received header.
        computed: u16,
        /// CRC the header carried.
        found: u16,
    },
    /// The frame check failed: the body or its CRC was corrupted.
    #[error("frame CRC-32C must match, computed {computed:#010x}, frame says {found:#010x}")]
    FrameCrc {
        /// Type byte of the rejected frame.
        frame_type: u8,
        /// CRC computed over the received frame.
        computed: u32,
        /// CRC the frame carried.
        found: u32,
    },
    /// The header is intact but names a protocol version this decoder does not read.
    #[error("protocol version must be {PROTOCOL_VERSION}, got {version}")]
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// The header is intact but its body length exceeds what this decoder can hold.
    #[error("body length must be at most {max} bytes, got {len}")]
    BodyTooLong {
        /// Claimed body length.
        len: usize,
        /// Largest this decoder accepts.
        max: usize,
    },
    /// An intact frame of a type this version does not know.
    #[error("frame type {frame_type:#04x} is not defined in protocol version {PROTOCOL_VERSION}")]
    UnknownType {
        /// The type byte.
        frame_type: u8,
    },
    /// An intact frame whose body length does not fit its type.
    #[error("body of frame type {frame_type:#04x} must be {expected} bytes, got {len}")]
    BodyLength {
        /// The type byte.
        frame_type: u8,
        /// Body length received.
        len: usize,
        /// Body length the type and its fields require.
        expected: usize,
    },
    /// An intact frame with a field out of its range.
    #[error("{field} in frame type {frame_type:#04x} {rule}, got {value}")]
    InvalidField {
        /// The type byte.
        frame_type: u8,
        /// Field name as in PROTOCOL.md.
        field: &'static str,
        /// The rule the field broke.
        rule: &'static str,
        /// The value received.
        value: u64,
    },
}

/// The output slice given to [`DataFrame::samples_into`] is too short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("output must hold {needed} samples, got {got}")]
pub struct OutputTooSmall {
    /// Samples in the frame.
    pub needed: usize,
    /// Length of the output slice.
    pub got: usize,
}

/// Data frames missing between two received ones, or a jump in the sample index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gap {
    /// Sequence number that should have come next.
    pub expected_sequence: u32,
    /// Sequence number that came.
    pub sequence: u32,
    /// Sample index that should have come next.
    pub expected_first_sample: u64,
    /// Sample index that came.
    pub first_sample: u64,
}

impl Gap {
    /// Data frames lost (0 if the sequence went backwards, e.g. the device restarted).
    pub const fn lost_frames(&self) -> u32 {
        let d = self.sequence.wrapping_sub(self.expected_sequence);
        if d < (1 << 31) {
            d
        } else {
            0
        }
    }

    /// Sample-frames lost, from the sample indices (0 if the index went backwards).
    pub const fn lost_samples(&self) -> u64 {
        self.first_sample.saturating_sub(self.expected_first_sample)
    }
}

/// A data frame, its samples borrowed from the decoder's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFrame<'a> {
    header: DataHeader,
    sample_frames: usize,
    payload: &'a [u8],
    gap: Option<Gap>,
}

impl<'a> DataFrame<'a> {
    /// Header fields, stimulus marks and status bits.
    pub const fn header(&self) -> &DataHeader {
        &self.header
    }

    /// Sample-frames (instants) in this frame.
    pub const fn sample_frames(&self) -> usize {
        self.sample_frames
    }

    /// Samples in this frame (`sample_frames × channels`).
    pub const fn len(&self) -> usize {
        self.sample_frames * self.header.channels as usize
    }

    /// Always false: the decoder rejects frames without samples.
    pub const fn is_empty(&self) -> bool {
        self.sample_frames == 0
    }

    /// Frames lost just before this one, if any.
    pub const fn gap(&self) -> Option<Gap> {
        self.gap
    }

    /// The packed sample bytes as received.
    pub const fn raw_samples(&self) -> &'a [u8] {
        self.payload
    }

    /// Writes the samples, interleaved, as counts into `out[..self.len()]`; returns `self.len()`.
    pub fn samples_into(&self, out: &mut [i32]) -> Result<usize, OutputTooSmall> {
        let n = self.len();
        let got = out.len();
        let out = out.get_mut(..n).ok_or(OutputTooSmall { needed: n, got })?;
        match self.header.format {
            SampleFormat::I24 => {
                for (o, c) in out.iter_mut().zip(self.payload.chunks_exact(3)) {
                    *o = i24(c[0], c[1], c[2]);
                }
            }
            SampleFormat::I16 => {
                for (o, c) in out.iter_mut().zip(self.payload.chunks_exact(2)) {
                    *o = i32::from(i16::from_le_bytes([c[0], c[1]]));
                }
            }
        }
        Ok(n)
    }

    /// The samples, interleaved, as counts.
    pub fn samples(&self) -> Samples<'a> {
        Samples {
            bytes: self.payload,
            format: self.header.format,
        }
    }
}

#[inline]
fn i24(b0: u8, b1: u8, b2: u8) -> i32 {
    // Put the 24 bits at the top and shift back down arithmetically to extend the sign.
    i32::from_le_bytes([0, b0, b1, b2]) >> 8
}

/// Iterator over the samples of a [`DataFrame`].
#[derive(Debug, Clone)]
pub struct Samples<'a> {
    bytes: &'a [u8],
    format: SampleFormat,
}

impl Iterator for Samples<'_> {
    type Item = i32;

    fn next(&mut self) -> Option<i32> {
        let w = self.format.bytes();
        let (head, rest) = self.bytes.split_at_checked(w)?;
        self.bytes = rest;
        Some(match self.format {
            SampleFormat::I24 => i24(head[0], head[1], head[2]),
            SampleFormat::I16 => i32::from(i16::from_le_bytes([head[0], head[1]])),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / self.format.bytes();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Samples<'_> {}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<'a> {
    /// Samples from the device.
    Data(DataFrame<'a>),
    /// A command from the host (what a device-side decoder sees).
    Command {
        /// Host-chosen tag, echoed in the answer.
        tag: u16,
        /// The command.
        command: Command,
    },
    /// An answer from the device.
    Response {
        /// Tag of the command answered (0: sent unasked).
        tag: u16,
        /// The answer.
        response: Response,
    },
}

/// Running counts kept by a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stats {
    /// Frames returned as `Ok`.
    pub frames_ok: u64,
    /// Data frames among them.
    pub data_frames: u64,
    /// Headers rejected by the header CRC.
    pub header_crc_errors: u64,
    /// Frames rejected by the frame CRC.
    pub frame_crc_errors: u64,
    /// Intact headers with a version this decoder does not read.
    pub unsupported_version: u64,
    /// Intact frames rejected for their content (unknown type, bad length or field, too long).
    pub malformed: u64,
    /// Times the decoder discarded bytes to find the next sync marker.
    pub resyncs: u64,
    /// Bytes discarded (garbage, and every byte of rejected frames).
    pub bytes_skipped: u64,
    /// Data frames that arrived after a gap.
    pub sequence_gaps: u64,
    /// Data frames lost, from sequence numbers.
    pub lost_frames: u64,
    /// Sample-frames lost, from first-sample indices.
    pub lost_samples: u64,
}

impl Stats {
    /// Header and frame CRC failures together.
    pub const fn crc_failures(&self) -> u64 {
        self.header_crc_errors + self.frame_crc_errors
    }
}

enum Located {
    NeedMore,
    Error(DecodeError),
    /// A CRC-checked frame at buf[at..at + len].
    Frame(usize, usize),
}

enum Parsed {
    Data {
        header: DataHeader,
        sample_frames: usize,
        payload: Range<usize>,
    },
    Command(u16, Command),
    Response(u16, Response),
}

/// Push-bytes-in, pull-frames-out decoder with a fixed buffer of `CAP` bytes.
///
/// * [`push`](Self::push) copies as many bytes as fit and says how many it took;
/// * [`next_frame`](Self::next_frame) returns `None` when it needs more bytes, `Some(Err)` for
///   bytes that looked like a frame but were not a good one, and `Some(Ok)` for a frame.
///   Call it until `None` after every push; after `None` the buffer holds less than one frame
///   so the next push always makes progress.
/// * [`feed`](Self::feed) does both for a whole slice of any length.
///
/// A frame is only returned after both CRCs passed. After a bad frame the search for the next
/// sync marker restarts one byte after the bad frame's sync, never after its claimed length, so
/// the next good frame is found even when the bad frame's length field lied.
///
/// `CAP` must be at least [`MIN_CAPACITY`]; frames longer than `CAP` are rejected as
/// [`DecodeError::BodyTooLong`]. A device that only decodes commands can use a small `CAP`.
#[derive(Debug, Clone)]
pub struct Decoder<const CAP: usize = DEFAULT_CAPACITY> {
    buf: [u8; CAP],
    start: usize,
    end: usize,
    stats: Stats,
    /// Sequence number and next expected sample index after the last data frame.
    last: Option<(u32, u64)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default capacity (two maximum-size frames).
    pub const fn new() -> Self {
        Self::with_capacity()
    }
}

impl<const CAP: usize> Decoder<CAP> {
    /// A decoder whose buffer holds `CAP` bytes (`Decoder::<64>::with_capacity()`).
    pub const fn with_capacity() -> Self {
        const {
            assert!(
                CAP >= MIN_CAPACITY,
                "decoder capacity must hold the largest command/response frame"
            )
        };
        Self {
            buf: [0; CAP],
            start: 0,
            end: 0,
            stats: Stats {
                frames_ok: 0,
                data_frames: 0,
                header_crc_errors: 0,
                frame_crc_errors: 0,
                unsupported_version: 0,
                malformed: 0,
                resyncs: 0,
                bytes_skipped: 0,
                sequence_gaps: 0,
                lost_frames: 0,
                lost_samples: 0,
            },
            last: None,
        }
    }

    /// Largest body this decoder accepts.
    pub const fn max_body_len(&self) -> usize {
        let room = CAP - OVERHEAD;
        if room < MAX_BODY_LEN {
            room
        } else {
            MAX_BODY_LEN
        }
    }

    /// Counters since creation (or the last [`reset`](Self::reset)).
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Bytes held, not yet returned as frames or discarded.
    pub const fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Forgets buffered bytes, counters and sequence tracking.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.stats = Stats::default();
        self.last = None;
    }

    /// Forgets the last data frame, so the next one is not compared with it. Call after
    /// sending [`Command::Start`], which restarts the device's sequence and sample index.
    pub fn reset_sequence(&mut self) {
        self.last = None;
    }

    /// Gives up on the frame being waited for: call when the link has been idle for longer
    /// than one frame takes to arrive. A frame cut short (device reset, cable pulled) makes its
    /// length field hold back the frames after it until that many bytes have come; this
    /// releases them at once. Returns whether there was a partial frame to give up.
    pub fn abandon_partial(&mut self) -> bool {
        let held = &self.buf[self.start..self.end];
        if held.len() >= 2 && held[..2] == SYNC {
            self.start += 1;
            self.stats.bytes_skipped += 1;
            true
        } else {
            false
        }
    }

    /// Copies as many of `bytes` as fit into the buffer; returns how many were taken.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = bytes.len().min(CAP - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&bytes[..n]);
        self.end += n;
        n
    }

    /// Pushes all of `bytes`, handing every frame and error to `sink` as it is found.
    pub fn feed<F>(&mut self, mut bytes: &[u8], mut sink: F)
    where
        F: FnMut(Result<Frame<'_>, DecodeError>),
    {
        loop {
            let n = self.push(bytes);
            bytes = &bytes[n..];
            while let Some(item) = self.next_frame() {
                sink(item);
            }
            if bytes.is_empty() {
                break;
            }
        }
    }

    fn skip_to(&mut self, at: usize) {
        if at > self.start {
            self.stats.bytes_skipped += (at - self.start) as u64;
            self.stats.resyncs += 1;
            self.start = at;
        }
    }

    /// Rejects the frame whose sync is at `at`: the search restarts at `at + 1`.
    fn reject(&mut self, at: usize, e: DecodeError) -> Located {
        self.start = at + 1;
        self.stats.bytes_skipped += 1;
        Located::Error(e)
    }

    fn locate(&mut self) -> Located {
        let window = &self.buf[self.start..self.end];
        match window.windows(2).position(|w| w == SYNC) {
            Some(i) => self.skip_to(self.start + i),
            None => {
                // Keep a trailing first sync byte: its partner may come in the next push.
                let keep = usize::from(window.last() == Some(&SYNC0));
                self.skip_to(self.end - keep);
                return Located::NeedMore;
            }
        }
        let at = self.start;
        let avail = self.end - at;
        if avail < HEADER_LEN {
            return Located::NeedMore;
        }
        let h = &self.buf[at..at + HEADER_LEN];
        let computed = crc16(&h[2..6]);
        let found = u16::from_le_bytes([h[6], h[7]]);
        if computed != found {
            self.stats.header_crc_errors += 1;
            return self.reject(at, DecodeError::HeaderCrc { computed, found });
        }
        let version = h[2];
        let frame_type = h[3];
        let body_len = usize::from(u16::from_le_bytes([h[4], h[5]]));
        if version != PROTOCOL_VERSION {
            self.stats.unsupported_version += 1;
            return self.reject(at, DecodeError::UnsupportedVersion { version });
        }
        let max = self.max_body_len();
        if body_len > max {
            self.stats.malformed += 1;
            return self.reject(at, DecodeError::BodyTooLong { len: body_len, max });
        }
        let total = OVERHEAD + body_len;
        if avail < total {
            return Located::NeedMore;
        }
        let crc_end = at + HEADER_LEN + body_len;
        let computed = crc32c(&self.buf[at + 2..crc_end]);
        let c = &self.buf[crc_end..crc_end + 4];
        let found = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        if computed != found {
            self.stats.frame_crc_errors += 1;
            return self.reject(
                at,
                DecodeError::FrameCrc {
                    frame_type,
                    computed,
                    found,
                },
            );
        }
        Located::Frame(at, total)
    }

    /// The next frame: `None` = need more bytes; `Some(Err)` = bytes rejected (already
    /// skipped, call again); `Some(Ok)` = a frame that passed both CRCs and all field checks.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, DecodeError>> {
        let (at, total) = match self.locate() {
            Located::NeedMore => return None,
            Located::Error(e) => return Some(Err(e)),
            Located::Frame(at, total) => (at, total),
        };
        // Both CRCs passed, so the frame's extent is trustworthy: a frame with bad content is
        // skipped whole.
        self.start = at + total;
        let frame_type = self.buf[at + 3];
        let body = at + HEADER_LEN..at + total - 4;
        let parsed = match parse(frame_type, &self.buf[body.clone()]) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                self.stats.bytes_skipped += total as u64;
                return Some(Err(e));
            }
        };
        self.stats.frames_ok += 1;
        Some(Ok(match parsed {
            Parsed::Data {
                header,
                sample_frames,
                payload,
            } => {
                self.stats.data_frames += 1;
                let gap = self.track(&header, sample_frames);
                let payload = body.start + payload.start..body.start + payload.end;
                Frame::Data(DataFrame {
                    header,
                    sample_frames,
                    payload: &self.buf[payload],
                    gap,
                })
            }
            Parsed::Command(tag, command) => Frame::Command { tag, command },
            Parsed::Response(tag, response) => Frame::Response { tag, response },
        }))
    }

    fn track(&mut self, h: &DataHeader, sample_frames: usize) -> Option<Gap> {
        let gap = match self.last {
            Some((seq, next)) if seq.wrapping_add(1) != h.sequence || next != h.first_sample => {
                Some(Gap {
                    expected_sequence: seq.wrapping_add(1),
                    sequence: h.sequence,
                    expected_first_sample: next,
                    first_sample: h.first_sample,
                })
            }
            _ => None,
        };
        if let Some(g) = gap {
            self.stats.sequence_gaps += 1;
            self.stats.lost_frames += u64::from(g.lost_frames());
            self.stats.lost_samples += g.lost_samples();
        }
        self.last = Some((
            h.sequence,
            h.first_sample.wrapping_add(sample_frames as u64),
        ));
        gap
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn exact_len(frame_type: u8, body: &[u8], expected: usize) -> Result<(), DecodeError> {
    if body.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::BodyLength {
            frame_type,
            len: body.len(),
            expected,
        })
    }
}

fn parse(code: u8, body: &[u8]) -> Result<Parsed, DecodeError> {
    let Some(frame_type) = FrameType::from_u8(code) else {
        return Err(DecodeError::UnknownType { frame_type: code });
    };
    if frame_type == FrameType::Data {
        return parse_data(code, body);
    }
    // Every command and response body starts with the tag.
    let args_len = match frame_type {
        FrameType::Start | FrameType::Stop | FrameType::GetDeviceInfo => 0,
        FrameType::SetChannels | FrameType::Ack => 1,
        FrameType::SetSampleRate | FrameType::Ping | FrameType::Pong => 4,
        FrameType::FireStimulus | FrameType::Nack => 6,
        FrameType::DeviceInfo => DEVICE_INFO_LEN,
        FrameType::Data => 0,
    };
    exact_len(code, body, 2 + args_len)?;
    let tag = u16_at(body, 0);
    let a = &body[2..];
    Ok(match frame_type {
        FrameType::Start => Parsed::Command(tag, Command::Start),
        FrameType::Stop => Parsed::Command(tag, Command::Stop),
        FrameType::GetDeviceInfo => Parsed::Command(tag, Command::GetDeviceInfo),
        FrameType::SetSampleRate => {
            Parsed::Command(tag, Command::SetSampleRate { hz: u32_at(a, 0) })
        }
        FrameType::SetChannels => Parsed::Command(tag, Command::SetChannels { count: a[0] }),
        FrameType::FireStimulus => Parsed::Command(
            tag,
            Command::FireStimulus {
                pulse_width_us: u16_at(a, 0),
                intensity_ua: u32_at(a, 2),
            },
        ),
        FrameType::Ping => Parsed::Command(
            tag,
            Command::Ping {
                token: u32_at(a, 0),
            },
        ),
        FrameType::Pong => Parsed::Response(
            tag,
            Response::Pong {
                token: u32_at(a, 0),
            },
        ),
        FrameType::Ack => Parsed::Response(tag, Response::Ack { command: a[0] }),
        FrameType::Nack => Parsed::Response(
            tag,
            Response::Nack {
                command: a[0],
                code: NackCode::from_u8(a[1]),
                detail: u32_at(a, 2),
            },
        ),
        FrameType::DeviceInfo | FrameType::Data => {
            Parsed::Response(tag, Response::DeviceInfo(parse_device_info(code, a)?))
        }
    })
}

fn parse_device_info(code: u8, a: &[u8]) -> Result<DeviceInfo, DecodeError> {
    let format = SampleFormat::from_u8(a[2]).ok_or(DecodeError::InvalidField {
        frame_type: code,
        field: "format",
        rule: "must be 1 (i24) or 2 (i16)",
        value: u64::from(a[2]),
    })?;
    let mut serial = [0u8; SERIAL_LEN];
    serial.copy_from_slice(&a[22..22 + SERIAL_LEN]);
    Ok(DeviceInfo {
        channels: a[0],
        max_channels: a[1],
        format,
        sample_rate_hz: u32_at(a, 4),
        samples_per_frame: u16_at(a, 8),
        firmware_version: (a[10], a[11], u16_at(a, 12)),
        gain: f32_at(a, 14),
        volts_per_count: f32_at(a, 18),
        serial,
        // Flag bits not defined yet are ignored.
        stimulator: a[3] & DEVICE_FLAG_NO_STIMULATOR == 0,
    })
}

fn parse_data(code: u8, b: &[u8]) -> Result<Parsed, DecodeError> {
    let field = |field, rule, value: u64| DecodeError::InvalidField {
        frame_type: code,
        field,
        rule,
        value,
    };
    if b.len() < DATA_FIXED_LEN {
        return Err(DecodeError::BodyLength {
            frame_type: code,
            len: b.len(),
            expected: DATA_FIXED_LEN,
        });
    }
    let channels = b[12];
    if channels == 0 || usize::from(channels) > MAX_CHANNELS {
        return Err(field("channels", "must be 1..=32", u64::from(channels)));
    }
    let format = SampleFormat::from_u8(b[13]).ok_or(field(
        "format",
        "must be 1 (i24) or 2 (i16)",
        u64::from(b[13]),
    ))?;
    let sample_frames = usize::from(u16_at(b, 14));
    if sample_frames == 0 {
        return Err(field("sample_frames", "must be > 0", 0));
    }
    let n_marks = usize::from(b[16]);
    if n_marks > MAX_MARKS {
        return Err(field("mark_count", "must be <= 8", n_marks as u64));
    }
    let allowed = if channels == 32 {
        u32::MAX
    } else {
        (1u32 << channels) - 1
    };
    let saturation = u32_at(b, 18);
    if saturation & !allowed != 0 {
        return Err(field(
            "saturation",
            "must only name channels below the channel count",
            u64::from(saturation),
        ));
    }
    let lead_off = u32_at(b, 22);
    if lead_off & !allowed != 0 {
        return Err(field(
            "lead_off",
            "must only name channels below the channel count",
            u64::from(lead_off),
        ));
    }
    let samples_at = DATA_FIXED_LEN + 2 * n_marks;
    let expected = samples_at + sample_frames * usize::from(channels) * format.bytes();
    exact_len(code, b, expected)?;
    let mut marks = StimMarks::new();
    for i in 0..n_marks {
        let m = u16_at(b, DATA_FIXED_LEN + 2 * i);
        if usize::from(m) >= sample_frames {
            return Err(field(
                "mark_offset",
                "must be < sample_frames",
                u64::from(m),
            ));
        }
        marks.push(m);
    }
    Ok(Parsed::Data {
        header: DataHeader {
            sequence: u32_at(b, 0),
            first_sample: u64::from_le_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]),
            channels,
            format,
            marks,
            saturation,
            lead_off,
        },
        sample_frames,
        payload: samples_at..expected,
    })
}
