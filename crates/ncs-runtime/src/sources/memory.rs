//! Samples held in memory: benchmarks and tests.

use crate::source::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag};

use super::{Pace, Pacer};

/// Interleaved frames and their stimulus marks in memory, optionally played several times in a
/// row (marks shifted accordingly) and paced. Reading allocates nothing.
#[derive(Debug, Clone)]
pub struct MemorySource {
    info: SourceInfo,
    data: std::sync::Arc<[f32]>,
    frames: u64,
    marks: Vec<StimulusMark>,
    tags: Vec<StimulusTag>,
    repeats: u64,
    pos: u64,
    next_mark: usize,
    pacer: Pacer,
    lost: Vec<(u64, u64)>,
    next_lost: usize,
}

impl MemorySource {
    /// A source over `data` (`info.channels` values per frame; a trailing partial frame is
    /// ignored) with `marks` (sorted by sample index, within the data) referring to `tags`.
    pub fn new(
        info: SourceInfo,
        data: impl Into<std::sync::Arc<[f32]>>,
        mut marks: Vec<StimulusMark>,
        tags: Vec<StimulusTag>,
    ) -> Self {
        let data = data.into();
        let frames = (data.len() / info.channels.max(1)) as u64;
        marks.retain(|m| m.sample_index < frames);
        marks.sort_by_key(|m| m.sample_index);
        let pacer = Pacer::new(Pace::Max, info.sample_rate_hz);
        MemorySource {
            info,
            data,
            frames,
            marks,
            tags,
            repeats: 1,
            pos: 0,
            next_mark: 0,
            pacer,
            lost: Vec::new(),
            next_lost: 0,
        }
    }

    /// Plays the data `n` times in a row (at least once).
    pub fn repeat(mut self, n: u64) -> Self {
        self.repeats = n.max(1);
        self
    }

    /// Paces the stream.
    pub fn paced(mut self, pace: Pace) -> Self {
        self.pacer = Pacer::new(pace, self.info.sample_rate_hz);
        self
    }

    /// Makes the source report `count` frames from `first_sample` as lost by the device
    /// (absolute indices; sorted, non-overlapping), as a serial amplifier does on an overrun.
    pub fn with_source_loss(mut self, mut lost: Vec<(u64, u64)>) -> Self {
        lost.sort_unstable();
        self.lost = lost;
        self
    }

    /// Total frames the source delivers (lost ones included).
    pub fn total_frames(&self) -> u64 {
        self.frames * self.repeats
    }
}

impl Source for MemorySource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn tags(&self) -> &[StimulusTag] {
        &self.tags
    }

    fn read(
        &mut self,
        out: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        let ch = self.info.channels;
        let total = self.total_frames();
        if self.pos >= total || self.frames == 0 || ch == 0 {
            return Ok(ReadOutcome::End);
        }
        if let Some(&(first, count)) = self.lost.get(self.next_lost) {
            if first <= self.pos {
                self.next_lost += 1;
                let end = (first + count).min(total);
                if end > self.pos {
                    let from = self.pos;
                    self.pacer.wait_until(from, end);
                    // The stimulator still knows when it fired: the marks travel with the loss
                    // so that those stimuli are reported flagged rather than vanish.
                    self.take_marks(from, end, marks);
                    self.pos = end;
                    return Ok(ReadOutcome::Lost {
                        first_sample: from,
                        count: end - from,
                    });
                }
            }
        }
        let within = self.pos % self.frames;
        let mut n = ((out.len() / ch) as u64)
            .min(self.frames - within)
            .min(self.pacer.max_frames() as u64);
        if let Some(&(first, _)) = self.lost.get(self.next_lost) {
            n = n.min(first - self.pos);
        }
        let n = n as usize;
        if n == 0 {
            return Ok(ReadOutcome::Frames {
                first_sample: self.pos,
                frames: 0,
            });
        }
        let src = &self.data[within as usize * ch..(within as usize + n) * ch];
        out[..n * ch].copy_from_slice(src);
        let first = self.pos;
        let end = first + n as u64;
        self.take_marks(first, end, marks);
        self.pacer.wait_until(first, end);
        self.pos = end;
        Ok(ReadOutcome::Frames {
            first_sample: first,
            frames: n,
        })
    }
}

impl MemorySource {
    /// Mark `k` over all repetitions (absolute index).
    fn mark_at(&self, k: usize) -> Option<StimulusMark> {
        let per = self.marks.len();
        if per == 0 {
            return None;
        }
        let rep = (k / per) as u64;
        if rep >= self.repeats {
            return None;
        }
        let m = self.marks[k % per];
        Some(StimulusMark::new(m.sample_index + rep * self.frames, m.tag))
    }

    /// Appends the marks in `[first, end)` (within the capacity the caller reserved).
    fn take_marks(&mut self, first: u64, end: u64, marks: &mut Vec<StimulusMark>) {
        while let Some(m) = self.mark_at(self.next_mark) {
            if m.sample_index >= end {
                break;
            }
            if m.sample_index >= first && marks.len() < marks.capacity() {
                marks.push(m);
            }
            self.next_mark += 1;
        }
    }
}
