//! Backyard Brains SpikerBox / Muscle SpikerShield serial format (decoder, and an encoder for
//! tests and simulators).
//!
//! # The format
//!
//! Checked against the public Spike Recorder source (`src/engine/ArduinoSerial.cpp`:
//! `processDataIntoSamples`, `testEscapeSequence`, `executeContentOfMessageBuffer`,
//! `executeOneMessage`):
//!
//! * One frame = one sample per channel, each sample two bytes carrying 7 bits each:
//!   `MSB = (value >> 7) & 0x7F`, `LSB = value & 0x7F`, `value = MSB << 7 | LSB`, so up to 14
//!   bits. The first byte of a frame (channel 0's MSB) has bit 7 set, every other byte has it
//!   clear: that high bit is the only frame marker.
//! * Samples are unsigned ADC codes; Spike Recorder centres them by subtracting mid-scale
//!   (512 for the 10-bit boards, 8192 for the 14-bit Human SpikerBox). This decoder emits
//!   `code − 2^(bits−1)`; volts per count depend on the board's gain, which the format does not
//!   carry, so the user states it ([`BybConfig::volts_per_count`]).
//! * Messages are wrapped in escape sequences `FF FF 01 01 80 FF` … `FF FF 01 01 81 FF`, hold at
//!   most 64 bytes (end sequence included; a longer message is cut at 64 bytes, as Spike
//!   Recorder does), and contain `TYPE:VALUE;` pairs, e.g. `HWT:MUSCLESS;` or `EVNT:3;`. The
//!   escape bytes never reach the sample parser.
//! * `EVNT:n;` is an event marker `n` (one digit) at the current sample position.
//!
//! Differences from Spike Recorder, all on malformed input: a frame cut short by the next frame
//! start is dropped whole and counted (Spike Recorder may keep its first samples); bytes after
//! a complete frame and before the next frame start are dropped and counted (Spike Recorder
//! drops them too, silently); a sample code ≥ 2^bits is dropped with its frame and counted.
//! Escape detection is exactly Spike Recorder's: a mismatch restarts matching at the next byte.
//! The format has no checksum, so corrupted bytes that keep the high-bit structure yield wrong
//! samples; nothing can detect that.

use crate::scale::{ConfigError, Scale};

/// Starts a message block.
pub const ESCAPE_START: [u8; 6] = [0xFF, 0xFF, 0x01, 0x01, 0x80, 0xFF];
/// Ends a message block.
pub const ESCAPE_END: [u8; 6] = [0xFF, 0xFF, 0x01, 0x01, 0x81, 0xFF];
/// Bytes a message block may hold, end sequence included.
pub const MESSAGE_CAPACITY: usize = 64;
/// Most channels per frame this decoder accepts (Spike Recorder's largest board has 6).
pub const MAX_BYB_CHANNELS: usize = 8;

/// Board description, validated by [`build`](Self::build).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BybConfig {
    /// Channels per frame (1..=[`MAX_BYB_CHANNELS`]).
    pub channels: usize,
    /// ADC resolution (10..=14): 10 on Arduino SpikerShields, 14 on the Human SpikerBox.
    pub bits: u8,
    /// Volts at the electrodes per count, from the board's gain.
    pub volts_per_count: f64,
}

impl BybConfig {
    /// Checks the configuration and makes a decoder.
    pub fn build(&self) -> Result<BybDecoder, ConfigError> {
        if self.channels == 0 || self.channels > MAX_BYB_CHANNELS {
            return Err(ConfigError::Channels {
                got: self.channels,
                max: MAX_BYB_CHANNELS,
            });
        }
        if !(10..=14).contains(&self.bits) {
            return Err(ConfigError::Bits { got: self.bits });
        }
        let scale = Scale::new(self.volts_per_count, 0.0)?;
        Ok(BybDecoder {
            channels: self.channels,
            bits: self.bits,
            scale,
            samples: [0; MAX_BYB_CHANNELS],
            filled: 0,
            msb: None,
            in_frame: false,
            frames: 0,
            esc_len: 0,
            esc_held: [0; 6],
            in_message: false,
            message: [0; MESSAGE_CAPACITY],
            message_len: 0,
            stats: BybStats::default(),
        })
    }
}

/// A stretch of the stream that was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BybError {
    /// A frame start arrived before the current frame had all its channels.
    #[error("frame must hold {expected} samples before the next frame start, got {got}")]
    ShortFrame {
        /// Samples received.
        got: usize,
        /// Channels configured.
        expected: usize,
    },
    /// A sample code does not fit the configured resolution.
    #[error("sample code must be < {limit} (2^bits), got {code}")]
    SampleRange {
        /// The code.
        code: u16,
        /// 2^bits.
        limit: u16,
    },
    /// Bytes without the high bit outside any frame.
    #[error("bytes must belong to a frame (start byte has bit 7 set), {count} stray byte(s)")]
    Stray {
        /// Bytes dropped.
        count: usize,
    },
}

/// What the decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BybItem<'a> {
    /// One sample per channel, centred counts (`code − 2^(bits−1)`).
    Frame {
        /// Index of this frame since the decoder was built.
        index: u64,
        /// Centred counts, one per channel.
        samples: &'a [i32],
    },
    /// `EVNT:n;`: event marker `n`.
    Event {
        /// Index of the next frame (the event happened between `index − 1` and `index`).
        index: u64,
        /// Marker digit 0..=9.
        marker: u8,
    },
    /// Any other `TYPE:VALUE;` message (e.g. `HWT:MUSCLESS`, `BRD:1`).
    Message {
        /// Index of the next frame.
        index: u64,
        /// Bytes before the colon.
        kind: &'a [u8],
        /// Bytes after the colon.
        value: &'a [u8],
    },
    /// Dropped bytes.
    Error(BybError),
}

/// Counters of a [`BybDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BybStats {
    /// Frames emitted.
    pub frames: u64,
    /// Events and messages emitted.
    pub messages: u64,
    /// Frames dropped for being short.
    pub short_frames: u64,
    /// Frames dropped for a sample out of range.
    pub out_of_range: u64,
    /// Stray bytes dropped.
    pub stray_bytes: u64,
}

/// Streaming decoder; see the [module docs](self). Build it with [`BybConfig::build`].
#[derive(Debug, Clone)]
pub struct BybDecoder {
    channels: usize,
    bits: u8,
    scale: Scale,
    samples: [i32; MAX_BYB_CHANNELS],
    filled: usize,
    msb: Option<u8>,
    in_frame: bool,
    frames: u64,
    esc_len: usize,
    esc_held: [u8; 6],
    in_message: bool,
    message: [u8; MESSAGE_CAPACITY],
    message_len: usize,
    stats: BybStats,
}

impl BybDecoder {
    /// Counts to volts (offset 0: emitted counts are already centred).
    pub const fn scale(&self) -> Scale {
        self.scale
    }

    /// Channels per frame.
    pub const fn channels(&self) -> usize {
        self.channels
    }

    /// Counters so far.
    pub const fn stats(&self) -> &BybStats {
        &self.stats
    }

    /// Decodes `bytes` (any split), handing each frame, message and error to `sink`.
    pub fn feed<F: FnMut(BybItem<'_>)>(&mut self, bytes: &[u8], mut sink: F) {
        for &b in bytes {
            if self.in_message {
                self.message_byte(b, &mut sink);
            } else if ESCAPE_START[self.esc_len] == b {
                // Held back: if the sequence completes these bytes were never samples.
                self.esc_held[self.esc_len] = b;
                self.esc_len += 1;
                if self.esc_len == ESCAPE_START.len() {
                    self.esc_len = 0;
                    self.in_message = true;
                    self.message_len = 0;
                }
            } else {
                let held = self.esc_held;
                for &h in &held[..self.esc_len] {
                    self.data_byte(h, &mut sink);
                }
                self.esc_len = 0;
                self.data_byte(b, &mut sink);
            }
        }
        // Held escape-prefix bytes stay held across calls: the rest may come next time.
    }

    fn message_byte<F: FnMut(BybItem<'_>)>(&mut self, b: u8, sink: &mut F) {
        self.message[self.message_len] = b;
        self.message_len += 1;
        let done = if self.message_len >= MESSAGE_CAPACITY {
            true
        } else if ESCAPE_END[self.esc_len] == b {
            self.esc_len += 1;
            self.esc_len == ESCAPE_END.len()
        } else {
            self.esc_len = 0;
            false
        };
        if done {
            self.in_message = false;
            self.esc_len = 0;
            self.dispatch_messages(sink);
        }
    }

    fn dispatch_messages<F: FnMut(BybItem<'_>)>(&mut self, sink: &mut F) {
        let index = self.frames;
        let mut count = 0;
        // Only segments closed by ';' count; the end sequence after the last ';' is ignored.
        let mut rest = &self.message[..self.message_len];
        while let Some(semi) = rest.iter().position(|&c| c == b';') {
            let seg = &rest[..semi];
            rest = &rest[semi + 1..];
            let Some(colon) = seg.iter().position(|&c| c == b':') else {
                continue;
            };
            let (kind, value) = (&seg[..colon], &seg[colon + 1..]);
            count += 1;
            match (kind, value.first()) {
                (b"EVNT", Some(&d)) if d.is_ascii_digit() => sink(BybItem::Event {
                    index,
                    marker: d - b'0',
                }),
                _ => sink(BybItem::Message { index, kind, value }),
            }
        }
        self.stats.messages += count;
    }

    fn data_byte<F: FnMut(BybItem<'_>)>(&mut self, b: u8, sink: &mut F) {
        if b & 0x80 != 0 {
            if self.in_frame {
                let got = self.filled;
                self.stats.short_frames += 1;
                sink(BybItem::Error(BybError::ShortFrame {
                    got,
                    expected: self.channels,
                }));
            }
            self.in_frame = true;
            self.filled = 0;
            self.msb = Some(b & 0x7F);
            return;
        }
        if !self.in_frame {
            self.stats.stray_bytes += 1;
            sink(BybItem::Error(BybError::Stray { count: 1 }));
            return;
        }
        let Some(msb) = self.msb.take() else {
            self.msb = Some(b);
            return;
        };
        let code = u16::from(msb) << 7 | u16::from(b);
        let limit = 1u16 << self.bits;
        if code >= limit {
            self.in_frame = false;
            self.stats.out_of_range += 1;
            sink(BybItem::Error(BybError::SampleRange { code, limit }));
            return;
        }
        self.samples[self.filled] = i32::from(code) - i32::from(limit / 2);
        self.filled += 1;
        if self.filled == self.channels {
            self.in_frame = false;
            let index = self.frames;
            self.frames += 1;
            self.stats.frames += 1;
            sink(BybItem::Frame {
                index,
                samples: &self.samples[..self.channels],
            });
        }
    }
}

/// Why [`encode_frame`] or [`encode_message`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BybEncodeError {
    /// Output too short.
    #[error("output buffer must hold {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A centred sample outside `−2^(bits−1) ..< 2^(bits−1)`.
    #[error("centred sample {index} must be in {min}..={max}, got {value}")]
    SampleRange {
        /// Index in the slice.
        index: usize,
        /// The value.
        value: i32,
        /// Smallest allowed.
        min: i32,
        /// Largest allowed.
        max: i32,
    },
    /// ADC resolution outside 10..=14.
    #[error("ADC bits must be 10..=14, got {got}")]
    Bits {
        /// The resolution.
        got: u8,
    },
    /// A message byte would end the block early (`;`/`:` in the kind, `;` in the value) or
    /// the block would exceed 64 bytes.
    #[error("message must be TYPE:VALUE; without ';' inside and fit 64 bytes with the end sequence, got {len} bytes")]
    Message {
        /// Length the block would have.
        len: usize,
    },
}

fn room(needed: usize, out: &[u8]) -> Result<(), BybEncodeError> {
    if out.len() < needed {
        Err(BybEncodeError::BufferTooSmall {
            needed,
            got: out.len(),
        })
    } else {
        Ok(())
    }
}

/// Writes one frame of centred samples (one per channel) as a SpikerBox would.
pub fn encode_frame(samples: &[i32], bits: u8, out: &mut [u8]) -> Result<usize, BybEncodeError> {
    if !(10..=14).contains(&bits) {
        return Err(BybEncodeError::Bits { got: bits });
    }
    let half = 1i32 << (bits - 1);
    if let Some((index, &value)) = samples
        .iter()
        .enumerate()
        .find(|(_, &v)| v < -half || v >= half)
    {
        return Err(BybEncodeError::SampleRange {
            index,
            value,
            min: -half,
            max: half - 1,
        });
    }
    let needed = 2 * samples.len();
    room(needed, out)?;
    for (i, (dst, &s)) in out.chunks_exact_mut(2).zip(samples).enumerate() {
        // In range, so the code fits 14 bits.
        let code = (s + half) as u16;
        dst[0] = ((code >> 7) & 0x7F) as u8 | if i == 0 { 0x80 } else { 0 };
        dst[1] = (code & 0x7F) as u8;
    }
    Ok(needed)
}

/// Writes an escape-wrapped `kind:value;` message.
pub fn encode_message(kind: &[u8], value: &[u8], out: &mut [u8]) -> Result<usize, BybEncodeError> {
    let body = kind.len() + 1 + value.len() + 1;
    let needed = ESCAPE_START.len() + body + ESCAPE_END.len();
    let bad = kind.iter().any(|&c| c == b';' || c == b':') || value.contains(&b';');
    if bad || body + ESCAPE_END.len() > MESSAGE_CAPACITY {
        return Err(BybEncodeError::Message {
            len: body + ESCAPE_END.len(),
        });
    }
    room(needed, out)?;
    let mut at = 0;
    for part in [&ESCAPE_START[..], kind, b":", value, b";", &ESCAPE_END[..]] {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Ok(at)
}
