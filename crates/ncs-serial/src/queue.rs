//! Decoded samples waiting for `read`, in stream order with the losses between them.

use std::collections::VecDeque;

use ncs_runtime::{ReadOutcome, StimulusMark};

enum Chunk {
    Frames { first: u64, frames: u64 },
    Lost { first: u64, count: u64 },
}

/// Frames (volts, interleaved), losses and marks in arrival order. Capacity grows to the
/// largest burst read from the port and is reused after that.
pub(crate) struct Queue {
    channels: usize,
    chunks: VecDeque<Chunk>,
    samples: VecDeque<f32>,
    marks: VecDeque<StimulusMark>,
}

impl Queue {
    pub(crate) fn new(channels: usize) -> Self {
        Self {
            channels,
            chunks: VecDeque::new(),
            samples: VecDeque::new(),
            marks: VecDeque::new(),
        }
    }

    pub(crate) fn set_channels(&mut self, channels: usize) {
        self.channels = channels;
    }

    /// Appends `volts` (whole frames) starting at session index `first`.
    pub(crate) fn push_frames(&mut self, first: u64, volts: impl Iterator<Item = f32>) {
        let before = self.samples.len();
        self.samples.extend(volts);
        let frames = ((self.samples.len() - before) / self.channels) as u64;
        match self.chunks.back_mut() {
            Some(Chunk::Frames {
                first: f,
                frames: n,
            }) if *f + *n == first => *n += frames,
            _ => self.chunks.push_back(Chunk::Frames { first, frames }),
        }
    }

    pub(crate) fn push_lost(&mut self, first: u64, count: u64) {
        match self.chunks.back_mut() {
            Some(Chunk::Lost { first: f, count: c }) if *f + *c == first => *c += count,
            _ => self.chunks.push_back(Chunk::Lost { first, count }),
        }
    }

    pub(crate) fn push_mark(&mut self, mark: StimulusMark) {
        self.marks.push_back(mark);
    }

    /// The next outcome: a loss, or as many frames as fit in `out` up to the next loss.
    pub(crate) fn deliver(
        &mut self,
        out: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Option<ReadOutcome> {
        let ch = self.channels;
        match self.chunks.front_mut()? {
            Chunk::Lost { first, count } => {
                let o = ReadOutcome::Lost {
                    first_sample: *first,
                    count: *count,
                };
                self.chunks.pop_front();
                Some(o)
            }
            Chunk::Frames { first, frames } => {
                let n = (*frames).min((out.len() / ch) as u64);
                if n == 0 {
                    return None;
                }
                let start = *first;
                for (o, s) in out[..n as usize * ch]
                    .iter_mut()
                    .zip(self.samples.drain(..n as usize * ch))
                {
                    *o = s;
                }
                *first += n;
                *frames -= n;
                if *frames == 0 {
                    self.chunks.pop_front();
                }
                while self
                    .marks
                    .front()
                    .is_some_and(|m| m.sample_index < start + n)
                {
                    if let Some(m) = self.marks.pop_front() {
                        marks.push(m);
                    }
                }
                Some(ReadOutcome::Frames {
                    first_sample: start,
                    frames: n as usize,
                })
            }
        }
    }
}
