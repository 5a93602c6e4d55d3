//! The path from an audio callback to [`Source::read`](ncs_runtime::Source::read): a
//! single-producer/single-consumer ring of samples, a second small ring of loss records, and
//! counters readable from any thread.
//!
//! The writer side ([`CaptureWriter`]) runs on the audio thread: it never allocates, never
//! locks and never waits. When the sample ring is full it drops the frames that do not fit and
//! records them as one loss with its exact frame indices; the reader ([`CaptureReader`]) then
//! reports that loss at its place in the stream, between the frames before and after it.
//!
//! Ordering: a loss record is pushed before any frame that follows it, and the reader looks at
//! the sample ring before it looks at the loss ring, so every frame it can see that lies past
//! a loss has that loss visible too (the ring indices are published with release/acquire).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use serde::Serialize;

/// Loss records the reader may have pending at once. Consecutive overruns that the reader has
/// not caught up with are merged into one record, so this is only reached by a reader that
/// catches up briefly many times in a row; past it, losses keep merging in the writer.
const LOSS_RECORDS: usize = 256;

/// Counts of an audio capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AudioStats {
    /// Frames the device delivered to the callback (kept or lost).
    pub frames_captured: u64,
    /// Frames returned by `read`.
    pub frames_delivered: u64,
    /// Times the ring was full when frames arrived (each one a `Lost` gap, unless the reader
    /// had not caught up since the last one, which extends that gap).
    pub overruns: u64,
    /// Frames dropped because the ring was full.
    pub frames_lost: u64,
    /// Errors the audio system reported on the stream (device gone, driver failure).
    pub stream_errors: u64,
    /// Stimuli found on the trigger channel.
    pub stimuli: u64,
    /// Stimuli found but not returned because the caller's mark buffer was full.
    pub marks_dropped: u64,
}

/// The same counts, updated live: the audio thread counts what it captures and drops, `read`
/// counts what it delivers. Readable from any thread ([`LiveStats::snapshot`]).
#[derive(Debug, Default)]
pub struct LiveStats {
    frames_captured: AtomicU64,
    frames_delivered: AtomicU64,
    overruns: AtomicU64,
    frames_lost: AtomicU64,
    stream_errors: AtomicU64,
    stimuli: AtomicU64,
    marks_dropped: AtomicU64,
    /// Set once the writer is gone (the stream was stopped): everything it wrote is visible.
    closed: AtomicBool,
    /// A loss still held by the writer when it went away.
    tail: Mutex<Option<(u64, u64)>>,
    /// The first stream error's text.
    first_error: Mutex<Option<String>>,
}

impl LiveStats {
    /// The counts now.
    pub fn snapshot(&self) -> AudioStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AudioStats {
            frames_captured: r(&self.frames_captured),
            frames_delivered: r(&self.frames_delivered),
            overruns: r(&self.overruns),
            frames_lost: r(&self.frames_lost),
            stream_errors: r(&self.stream_errors),
            stimuli: r(&self.stimuli),
            marks_dropped: r(&self.marks_dropped),
        }
    }

    /// Counts one stream error and keeps the text of the first. Called on the audio thread,
    /// but only once the stream has failed: the text is formatted then, and the slot is taken
    /// with `try_lock`, so the audio thread never waits for the reader.
    pub fn stream_error(&self, e: &dyn std::fmt::Display) {
        self.stream_errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut slot) = self.first_error.try_lock() {
            if slot.is_none() {
                *slot = Some(e.to_string());
            }
        }
    }

    /// The first stream error's text, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|s| s.clone())
    }

    pub(crate) fn add_stimuli(&self, found: u64, dropped: u64) {
        if found > 0 {
            self.stimuli.fetch_add(found, Ordering::Relaxed);
        }
        if dropped > 0 {
            self.marks_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

/// A sample ring of `frames` frames of `channels` samples between an audio callback and a
/// reader. The stream ends after `stop_after` frames (delivered or lost) when given; frames the
/// device delivers past that are not part of the stream and are ignored.
pub fn capture_ring(
    channels: usize,
    frames: usize,
    stop_after: Option<u64>,
) -> (CaptureWriter, CaptureReader) {
    let channels = channels.max(1);
    let (data_tx, data_rx) = HeapRb::<f32>::new(frames.max(1) * channels).split();
    let (loss_tx, loss_rx) = HeapRb::<(u64, u64)>::new(LOSS_RECORDS).split();
    let live = Arc::new(LiveStats::default());
    let stop_after = stop_after.unwrap_or(u64::MAX);
    (
        CaptureWriter {
            data: data_tx,
            losses: loss_tx,
            channels,
            next: 0,
            stop_after,
            pending: None,
            live: Arc::clone(&live),
        },
        CaptureReader {
            data: data_rx,
            losses: loss_rx,
            channels,
            next: 0,
            stop_after,
            live,
        },
    )
}

/// The audio-thread side of [`capture_ring`].
pub struct CaptureWriter {
    data: HeapProd<f32>,
    losses: HeapProd<(u64, u64)>,
    channels: usize,
    /// Index of the next frame the device delivers.
    next: u64,
    stop_after: u64,
    /// A loss not yet recorded: frames after it must wait until it is.
    pending: Option<(u64, u64)>,
    live: Arc<LiveStats>,
}

impl CaptureWriter {
    /// The shared counts.
    pub fn live_stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// Takes the interleaved samples of one callback, converted to f32 (±1 full scale) by
    /// `convert`. A trailing partial frame is ignored. Never allocates, locks or waits.
    pub fn push<T: Copy>(&mut self, samples: &[T], convert: impl Fn(T) -> f32) {
        let ch = self.channels;
        let frames = ((samples.len() / ch) as u64).min(self.stop_after.saturating_sub(self.next));
        if frames == 0 {
            self.flush_at_end();
            return;
        }
        self.live
            .frames_captured
            .fetch_add(frames, Ordering::Relaxed);
        let fits = (self.data.vacant_len() / ch) as u64;
        if let Some(p) = self.pending {
            // Frames can go in again: the loss goes first, so that it sits between the frames
            // before and after it.
            if fits > 0 && self.losses.try_push(p).is_ok() {
                self.pending = None;
            }
        }
        let take = if self.pending.is_some() {
            0
        } else {
            fits.min(frames)
        };
        if take > 0 {
            let n = take as usize * ch;
            self.data
                .push_iter(samples[..n].iter().map(|&s| convert(s)));
        }
        let lost = frames - take;
        if lost > 0 {
            self.pending = Some(match self.pending {
                // Nothing was written since the pending loss began: this one continues it.
                Some((first, count)) => (first, count + lost),
                None => {
                    self.live.overruns.fetch_add(1, Ordering::Relaxed);
                    (self.next + take, lost)
                }
            });
            self.live.frames_lost.fetch_add(lost, Ordering::Relaxed);
        }
        self.next += frames;
        self.flush_at_end();
    }

    /// At the end of the stream no frame will follow a pending loss: record it now.
    fn flush_at_end(&mut self) {
        if self.next >= self.stop_after {
            if let Some(p) = self.pending {
                if self.losses.try_push(p).is_ok() {
                    self.pending = None;
                }
            }
        }
    }

    /// Converts and takes one cpal callback's data, whatever its sample format. Returns false
    /// for a format this crate does not know (nothing is taken).
    pub fn push_data(&mut self, data: &cpal::Data) -> bool {
        use cpal::{FromSample, SampleFormat as F, I24};
        fn go<T: cpal::SizedSample>(w: &mut CaptureWriter, data: &cpal::Data) -> bool
        where
            f32: FromSample<T>,
        {
            match data.as_slice::<T>() {
                Some(s) => {
                    w.push(s, f32::from_sample_);
                    true
                }
                None => false,
            }
        }
        match data.sample_format() {
            F::I8 => go::<i8>(self, data),
            F::I16 => go::<i16>(self, data),
            F::I24 => go::<I24>(self, data),
            F::I32 => go::<i32>(self, data),
            F::I64 => go::<i64>(self, data),
            F::U8 => go::<u8>(self, data),
            F::U16 => go::<u16>(self, data),
            F::U32 => go::<u32>(self, data),
            F::U64 => go::<u64>(self, data),
            F::F32 => go::<f32>(self, data),
            F::F64 => go::<f64>(self, data),
            _ => false,
        }
    }
}

impl Drop for CaptureWriter {
    /// The stream is over (this runs when the stream is torn down, not on the audio path): a
    /// loss still pending is handed over so the reader reports it before the end.
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            if self.losses.try_push(p).is_err() {
                if let Ok(mut t) = self.live.tail.lock() {
                    *t = Some(p);
                }
            }
        }
        self.live.closed.store(true, Ordering::Release);
    }
}

/// What one [`CaptureReader::pop`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popped {
    /// `frames` frames written from absolute frame `first_sample`.
    Frames {
        /// Absolute index of the first frame.
        first_sample: u64,
        /// Frames written.
        frames: usize,
    },
    /// `count` frames from `first_sample` were dropped at the ring.
    Lost {
        /// First lost frame.
        first_sample: u64,
        /// Frames lost.
        count: u64,
    },
    /// Nothing yet.
    Empty,
    /// The stream has ended (stopped, or `stop_after` frames reached) and all of it was read.
    End,
}

/// The reading side of [`capture_ring`].
pub struct CaptureReader {
    data: HeapCons<f32>,
    losses: HeapCons<(u64, u64)>,
    channels: usize,
    next: u64,
    stop_after: u64,
    live: Arc<LiveStats>,
}

impl CaptureReader {
    /// The shared counts.
    pub fn live_stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// Absolute index of the next frame to be returned.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Frames the ring holds.
    pub fn capacity_frames(&self) -> usize {
        self.data.capacity().get() / self.channels
    }

    /// Writes up to `out.len() / channels` frames, or reports the loss that comes next. Never
    /// blocks or allocates.
    pub fn pop(&mut self, out: &mut [f32]) -> Popped {
        let ch = self.channels;
        if self.next >= self.stop_after {
            return Popped::End;
        }
        // Order matters: `closed`, then the sample ring, then the loss ring (see module docs).
        let closed = self.live.closed.load(Ordering::Acquire);
        let avail = (self.data.occupied_len() / ch) as u64;
        let mut limit = u64::MAX;
        if let Some(&(first, _)) = self.losses.first() {
            if first <= self.next {
                return self.take_loss();
            }
            limit = first - self.next;
        }
        let n = avail.min(limit).min((out.len() / ch) as u64) as usize;
        if n > 0 {
            let got = self.data.pop_slice(&mut out[..n * ch]) / ch;
            let first_sample = self.next;
            self.next += got as u64;
            self.live
                .frames_delivered
                .fetch_add(got as u64, Ordering::Relaxed);
            return Popped::Frames {
                first_sample,
                frames: got,
            };
        }
        if closed && avail == 0 {
            let tail = self.live.tail.lock().ok().and_then(|mut t| t.take());
            if let Some((first, count)) = tail {
                self.next = first + count;
                return Popped::Lost {
                    first_sample: first,
                    count,
                };
            }
            return Popped::End;
        }
        Popped::Empty
    }

    /// Pops the loss at the reader's position, merged with the losses right after it.
    fn take_loss(&mut self) -> Popped {
        let mut end = self.next;
        while let Some(&(first, count)) = self.losses.first() {
            if first > end {
                break;
            }
            end = end.max(first + count);
            let _ = self.losses.try_pop();
        }
        let first_sample = self.next;
        self.next = end;
        Popped::Lost {
            first_sample,
            count: end - first_sample,
        }
    }
}
