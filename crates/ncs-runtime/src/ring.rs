//! The sample path between two threads: single-producer/single-consumer rings for samples,
//! block records and stimulus marks.
//!
//! The producer ([`BlockTx`]) never allocates and, under [`Overflow::Drop`], never waits: a
//! block that does not fit is dropped and becomes part of a gap with exact sample indices. The
//! stimulus marks of a dropped block are kept (up to a fixed number) and travel with the gap,
//! so the consumer still reports those stimuli (flagged) instead of losing them silently.

use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use serde::{Deserialize, Serialize};

use crate::source::StimulusMark;

/// Why samples are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The source reported them lost (device overrun, dropped packets).
    SourceLoss,
    /// The ring to the processing thread was full: the processing thread fell behind.
    RingOverflow,
    /// The ring to the recorder was full: the file lacks them (the live analysis had them).
    RecorderOverflow,
    /// A contiguous stretch lost for more than one of the reasons above.
    Mixed,
}

impl GapReason {
    /// Stable text (stored in the session's data-loss table).
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::SourceLoss => "source loss",
            GapReason::RingOverflow => "ring overflow (processing fell behind)",
            GapReason::RecorderOverflow => "recorder ring overflow",
            GapReason::Mixed => "source loss and ring overflow",
        }
    }

    fn merge(self, other: GapReason) -> GapReason {
        if self == other {
            self
        } else {
            GapReason::Mixed
        }
    }
}

/// A stretch of lost samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapRecord {
    /// First lost frame (absolute index).
    pub first_sample: u64,
    /// Frames lost.
    pub count: u64,
    /// Why.
    pub reason: GapReason,
}

/// What the producer does when the ring lacks room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the block and record a gap: for live sources, which cannot be paused.
    Drop,
    /// Wait for room: for sources that can be paused (files, memory, the simulator at
    /// maximum speed), so that nothing is lost.
    Wait,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Record {
    Frames {
        first: u64,
        frames: usize,
        marks: usize,
        arrival: Instant,
    },
    Gap {
        gap: GapRecord,
        marks: usize,
    },
    End,
}

/// What [`BlockRx::pop`] produced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Popped {
    Frames {
        first: u64,
        frames: usize,
        arrival: Instant,
    },
    Gap(GapRecord),
    End,
}

/// Producer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStats {
    /// Blocks delivered.
    pub blocks: u64,
    /// Frames delivered.
    pub frames: u64,
    /// Blocks dropped because the ring was full.
    pub dropped_blocks: u64,
    /// Frames dropped because the ring was full.
    pub dropped_frames: u64,
    /// Stimulus marks lost because too many fell into one gap.
    pub lost_marks: u64,
    /// Times the producer waited for room (under [`Overflow::Wait`]).
    pub waits: u64,
}

pub(crate) struct BlockTx {
    samples: HeapProd<f32>,
    meta: HeapProd<Record>,
    marks: HeapProd<StimulusMark>,
    pending: Option<GapRecord>,
    pending_marks: Vec<StimulusMark>,
    overflow_reason: GapReason,
    pub(crate) stats: TxStats,
}

pub(crate) struct BlockRx {
    samples: HeapCons<f32>,
    meta: HeapCons<Record>,
    marks: HeapCons<StimulusMark>,
}

/// Ring sizes.
pub(crate) struct RingSize {
    pub samples: usize,
    pub records: usize,
    pub marks: usize,
}

pub(crate) fn block_ring(size: &RingSize, overflow_reason: GapReason) -> (BlockTx, BlockRx) {
    let (sp, sc) = HeapRb::<f32>::new(size.samples.max(1)).split();
    let (mp, mc) = HeapRb::<Record>::new(size.records.max(2)).split();
    let (kp, kc) = HeapRb::<StimulusMark>::new(size.marks.max(1)).split();
    (
        BlockTx {
            samples: sp,
            meta: mp,
            marks: kp,
            pending: None,
            pending_marks: Vec::with_capacity(size.marks.max(1)),
            overflow_reason,
            stats: TxStats::default(),
        },
        BlockRx {
            samples: sc,
            meta: mc,
            marks: kc,
        },
    )
}

impl BlockTx {
    /// Whether the consumer still exists.
    fn consumer_alive(&self) -> bool {
        self.meta.read_is_held()
    }

    fn flush_gap(&mut self) -> bool {
        let Some(gap) = self.pending else {
            return true;
        };
        if self.meta.vacant_len() < 1 || self.marks.vacant_len() < self.pending_marks.len() {
            return false;
        }
        self.marks.push_slice(&self.pending_marks);
        let _ = self.meta.try_push(Record::Gap {
            gap,
            marks: self.pending_marks.len(),
        });
        self.pending_marks.clear();
        self.pending = None;
        true
    }

    /// Whether the pending gap (if any) and this block both fit.
    fn fits(&self, data: &[f32], marks: &[StimulusMark]) -> bool {
        let (records, gap_marks) = match self.pending {
            Some(_) => (2, self.pending_marks.len()),
            None => (1, 0),
        };
        self.samples.vacant_len() >= data.len()
            && self.meta.vacant_len() >= records
            && self.marks.vacant_len() >= marks.len() + gap_marks
    }

    /// Adds lost frames (and the marks that fell in them) to the pending gap.
    pub(crate) fn lose(
        &mut self,
        first_sample: u64,
        count: u64,
        reason: GapReason,
        marks: &[StimulusMark],
    ) {
        if count == 0 && marks.is_empty() {
            return;
        }
        self.pending = Some(match self.pending {
            // Frames only reach the ring after the pending gap does, so what is lost next is
            // always contiguous with it.
            Some(g) => GapRecord {
                first_sample: g.first_sample,
                count: (first_sample + count).saturating_sub(g.first_sample),
                reason: g.reason.merge(reason),
            },
            None => GapRecord {
                first_sample,
                count,
                reason,
            },
        });
        for &m in marks {
            if self.pending_marks.len() < self.pending_marks.capacity() {
                self.pending_marks.push(m);
            } else {
                self.stats.lost_marks += 1;
            }
        }
        // Not sent yet: while the ring stays full, further losses extend this gap, so one
        // overflow is one gap record however many blocks it drops.
    }

    /// Sends one block; returns whether it was delivered (under [`Overflow::Drop`] it may
    /// have become part of a gap instead).
    pub(crate) fn send(
        &mut self,
        first_sample: u64,
        channels: usize,
        data: &[f32],
        marks: &[StimulusMark],
        arrival: Instant,
        overflow: Overflow,
    ) -> bool {
        let frames = data.len() / channels;
        let mut waited = false;
        loop {
            if self.fits(data, marks) {
                self.flush_gap();
                self.samples.push_slice(data);
                self.marks.push_slice(marks);
                let _ = self.meta.try_push(Record::Frames {
                    first: first_sample,
                    frames,
                    marks: marks.len(),
                    arrival,
                });
                self.stats.blocks += 1;
                self.stats.frames += frames as u64;
                return true;
            }
            if overflow == Overflow::Drop || !self.consumer_alive() {
                self.stats.dropped_blocks += 1;
                self.stats.dropped_frames += frames as u64;
                self.lose(first_sample, frames as u64, self.overflow_reason, marks);
                return false;
            }
            if !waited {
                self.stats.waits += 1;
                waited = true;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Delivers the pending gap and the end of the stream, waiting for room (the stream is
    /// over, so waiting costs nothing) unless the consumer is gone.
    pub(crate) fn finish(&mut self) {
        while self.consumer_alive() {
            if self.flush_gap() && self.meta.try_push(Record::End).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl BlockRx {
    /// Pops the next record; frames go to `frames` (which must hold the largest block) and
    /// marks to `marks` (within its capacity). `None` when nothing is waiting.
    pub(crate) fn pop(
        &mut self,
        frames: &mut [f32],
        channels: usize,
        marks: &mut Vec<StimulusMark>,
    ) -> Option<Popped> {
        let rec = self.meta.try_pop()?;
        marks.clear();
        let mut take_marks = |n: usize, marks: &mut Vec<StimulusMark>| {
            for _ in 0..n {
                if let Some(m) = self.marks.try_pop() {
                    if marks.len() < marks.capacity() {
                        marks.push(m);
                    }
                }
            }
        };
        Some(match rec {
            Record::Frames {
                first,
                frames: n,
                marks: k,
                arrival,
            } => {
                let len = n * channels;
                let got = self.samples.pop_slice(&mut frames[..len]);
                debug_assert_eq!(got, len, "samples are pushed before their record");
                take_marks(k, marks);
                Popped::Frames {
                    first,
                    frames: n,
                    arrival,
                }
            }
            Record::Gap { gap, marks: k } => {
                take_marks(k, marks);
                Popped::Gap(gap)
            }
            Record::End => Popped::End,
        })
    }

    /// Samples waiting.
    pub(crate) fn occupied_samples(&self) -> usize {
        self.samples.occupied_len()
    }

    /// Records waiting.
    pub(crate) fn occupied_records(&self) -> usize {
        self.meta.occupied_len()
    }

    /// Whether the producer still exists.
    pub(crate) fn producer_alive(&self) -> bool {
        self.meta.write_is_held()
    }
}
