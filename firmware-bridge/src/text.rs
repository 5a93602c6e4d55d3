//! Plain text lines of integers, one frame per line, as Arduino sketches print them
//! (`Serial.println`): `1023 512 7\n`.
//!
//! Values are separated by any mix of spaces, tabs, commas and semicolons; `\r` is ignored;
//! blank lines are skipped. Each value is a decimal `i32` with an optional sign. The channel
//! count is fixed by [`TextConfig::channels`], or by the first good line when that is `None`;
//! lines with another count are rejected. Counts become volts through the stated
//! [`Scale`]: `volts = (count − offset_counts) × volts_per_count` (e.g. an Arduino Uno's 10-bit
//! ADC at 5 V behind a gain of 1000: `volts_per_count = 5 / 1024 / 1000`, `offset_counts = 512`).

use crate::frame::MAX_CHANNELS;
use crate::scale::{ConfigError, Scale};

/// Default longest line, terminator excluded.
pub const DEFAULT_LINE_CAPACITY: usize = 256;

/// What the text source is, validated by [`build`](Self::build).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextConfig {
    /// Values per line (1..=32), or `None` to take the first good line's count.
    pub channels: Option<usize>,
    /// Volts per count.
    pub volts_per_count: f64,
    /// Count that means 0 V.
    pub offset_counts: f64,
}

impl TextConfig {
    /// Checks the configuration and makes a decoder holding lines of up to
    /// [`DEFAULT_LINE_CAPACITY`] bytes.
    pub fn build(&self) -> Result<TextDecoder, ConfigError> {
        self.build_with_capacity()
    }

    /// As [`build`](Self::build) with lines of up to `LINE` bytes.
    pub fn build_with_capacity<const LINE: usize>(&self) -> Result<TextDecoder<LINE>, ConfigError> {
        if let Some(c) = self.channels {
            if c == 0 || c > MAX_CHANNELS {
                return Err(ConfigError::Channels {
                    got: c,
                    max: MAX_CHANNELS,
                });
            }
        }
        Ok(TextDecoder {
            scale: Scale::new(self.volts_per_count, self.offset_counts)?,
            channels: self.channels,
            line: [0; LINE],
            len: 0,
            overflow: false,
            line_no: 0,
            frames: 0,
            values: [0; MAX_CHANNELS],
            errors: 0,
        })
    }
}

/// A line that was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The line is longer than the decoder's line buffer.
    #[error("line {line} must be at most {max} bytes")]
    LineTooLong {
        /// 1-based line number.
        line: u64,
        /// Line capacity.
        max: usize,
    },
    /// A token is not a decimal `i32`.
    #[error("line {line} column {column}: values must be decimal integers fitting i32")]
    BadNumber {
        /// 1-based line number.
        line: u64,
        /// 1-based byte column where the token starts.
        column: usize,
    },
    /// The line has a different number of values than the stream's channel count.
    #[error("line {line} must have {expected} values, got {got}")]
    ChannelCount {
        /// 1-based line number.
        line: u64,
        /// Channel count of the stream.
        expected: usize,
        /// Values on the line.
        got: usize,
    },
}

/// One parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextFrame<'a> {
    /// Index of this frame among good lines.
    pub index: u64,
    /// 1-based line number in the stream.
    pub line: u64,
    /// One count per channel.
    pub counts: &'a [i32],
}

/// Streaming line decoder; build it with [`TextConfig::build`].
#[derive(Debug, Clone)]
pub struct TextDecoder<const LINE: usize = DEFAULT_LINE_CAPACITY> {
    scale: Scale,
    channels: Option<usize>,
    line: [u8; LINE],
    len: usize,
    overflow: bool,
    line_no: u64,
    frames: u64,
    values: [i32; MAX_CHANNELS],
    errors: u64,
}

fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b',' | b';' | b'\r')
}

fn parse_i32(tok: &[u8]) -> Option<i32> {
    let (neg, digits) = match tok.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, tok),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
        if v > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    i32::try_from(if neg { -v } else { v }).ok()
}

impl<const LINE: usize> TextDecoder<LINE> {
    /// Counts to volts.
    pub const fn scale(&self) -> Scale {
        self.scale
    }

    /// The channel count, once known.
    pub const fn channels(&self) -> Option<usize> {
        self.channels
    }

    /// Good lines so far.
    pub const fn frames(&self) -> u64 {
        self.frames
    }

    /// Rejected lines so far.
    pub const fn errors(&self) -> u64 {
        self.errors
    }

    /// Decodes `bytes` (any split); each complete line yields a frame or an error.
    pub fn feed<F>(&mut self, bytes: &[u8], mut sink: F)
    where
        F: FnMut(Result<TextFrame<'_>, TextError>),
    {
        for &b in bytes {
            if b == b'\n' {
                self.line_no += 1;
                self.end_line(&mut sink);
                self.len = 0;
                self.overflow = false;
            } else if self.len < LINE {
                self.line[self.len] = b;
                self.len += 1;
            } else {
                self.overflow = true;
            }
        }
    }

    fn end_line<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Result<TextFrame<'_>, TextError>),
    {
        let line = self.line_no;
        if self.overflow {
            self.errors += 1;
            return sink(Err(TextError::LineTooLong { line, max: LINE }));
        }
        let mut got = 0;
        let mut i = 0;
        let text = &self.line[..self.len];
        while i < text.len() {
            if is_sep(text[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && !is_sep(text[i]) {
                i += 1;
            }
            let Some(v) = parse_i32(&text[start..i]) else {
                self.errors += 1;
                return sink(Err(TextError::BadNumber {
                    line,
                    column: start + 1,
                }));
            };
            if got < MAX_CHANNELS {
                self.values[got] = v;
            }
            got += 1;
        }
        if got == 0 {
            return;
        }
        let expected = *self.channels.get_or_insert(got.min(MAX_CHANNELS));
        if got != expected {
            self.errors += 1;
            return sink(Err(TextError::ChannelCount {
                line,
                expected,
                got,
            }));
        }
        let index = self.frames;
        self.frames += 1;
        sink(Ok(TextFrame {
            index,
            line,
            counts: &self.values[..got],
        }));
    }
}

/// Writes `counts` as one line (`a b c\n`), as an Arduino sketch would print it.
pub fn encode_line(counts: &[i32], out: &mut [u8]) -> Option<usize> {
    let mut at = 0;
    for (i, &c) in counts.iter().enumerate() {
        if i > 0 {
            *out.get_mut(at)? = b' ';
            at += 1;
        }
        let mut digits = [0u8; 11];
        let mut n = 0;
        let mut v = i64::from(c).unsigned_abs();
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if c < 0 {
            *out.get_mut(at)? = b'-';
            at += 1;
        }
        for k in (0..n).rev() {
            *out.get_mut(at)? = digits[k];
            at += 1;
        }
    }
    *out.get_mut(at)? = b'\n';
    Some(at + 1)
}
