//! The capture ring without a device: the callback side and the reading side driven by hand,
//! so that every overrun happens exactly where the test puts it.

use ncs_audio::{capture_ring, CaptureReader, Popped};

use crate::alloc::thread_allocations;

/// Frames whose two samples encode their own index (so any misplaced frame shows).
fn frames_from(first: u64, n: u64) -> Vec<i16> {
    (first..first + n)
        .flat_map(|i| [(i & 0x7fff) as i16, ((i >> 15) & 0x7fff) as i16])
        .collect()
}

fn index_of(frame: &[f32]) -> u64 {
    let lo = (frame[0] * 32768.0) as u64;
    let hi = (frame[1] * 32768.0) as u64;
    lo | (hi << 15)
}

fn to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// Runs of frames read, as (first frame, frames).
type Runs = Vec<(u64, usize)>;
/// Losses reported, as (first frame, count).
type Losses = Vec<(u64, u64)>;

/// Reads everything available: (frames with their content checked, losses).
fn drain(r: &mut CaptureReader, out: &mut [f32]) -> (Runs, Losses) {
    let mut frames = Vec::new();
    let mut lost = Vec::new();
    loop {
        match r.pop(out) {
            Popped::Frames {
                first_sample,
                frames: n,
            } => {
                for (k, f) in out[..n * 2].chunks_exact(2).enumerate() {
                    assert_eq!(index_of(f), first_sample + k as u64, "frame content");
                }
                frames.push((first_sample, n));
            }
            Popped::Lost {
                first_sample,
                count,
            } => lost.push((first_sample, count)),
            Popped::Empty | Popped::End => return (frames, lost),
        }
    }
}

#[test]
fn a_full_ring_drops_frames_and_reports_them_in_place() {
    // Ring of 1000 frames; the device delivers blocks of 300.
    let (mut w, mut r) = capture_ring(2, 1000, None);
    let mut out = vec![0f32; 2 * 4096];
    let mut next = 0;
    // 4 blocks = 1200 frames with nobody reading: frames 1000..1200 do not fit.
    for _ in 0..4 {
        w.push(&frames_from(next, 300), to_f32);
        next += 300;
    }
    let s = w.live_stats().snapshot();
    assert_eq!(
        (s.frames_captured, s.frames_lost, s.overruns),
        (1200, 200, 1)
    );
    // Still full: two more blocks extend the same gap.
    for _ in 0..2 {
        w.push(&frames_from(next, 300), to_f32);
        next += 300;
    }
    // The reader catches up; the loss is recorded only once frames follow it.
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(frames.iter().map(|f| f.1).sum::<usize>(), 1000);
    assert!(lost.is_empty());
    w.push(&frames_from(next, 300), to_f32);
    next += 300;
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(lost, vec![(1000, 800)], "one gap, frames 1000..1800");
    assert_eq!(frames, vec![(1800, 300)]);
    // A second overrun, partly fitting: 1000 frames of room, 1300 pushed.
    for _ in 0..4 {
        w.push(&frames_from(next, 325), to_f32);
        next += 325;
    }
    w.push(&frames_from(next, 0), to_f32);
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(frames.iter().map(|f| f.1).sum::<usize>(), 1000);
    assert_eq!(frames[0].0, 2100);
    assert!(lost.is_empty());
    w.push(&frames_from(next, 10), to_f32);
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(lost, vec![(3100, 300)]);
    assert_eq!(frames, vec![(3400, 10)]);
    let s = w.live_stats().snapshot();
    assert_eq!(s.overruns, 2);
    assert_eq!(s.frames_lost, 800 + 300);
    assert_eq!(s.frames_captured, 3410);
    assert_eq!(s.frames_delivered + s.frames_lost, s.frames_captured);
}

#[test]
fn a_loss_pending_when_the_stream_stops_is_still_reported() {
    let (mut w, mut r) = capture_ring(2, 100, None);
    let mut out = vec![0f32; 2 * 64];
    w.push(&frames_from(0, 150), to_f32);
    drop(w); // the stream is torn down with frames 100..150 lost and nothing after them
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(frames.iter().map(|f| f.1).sum::<usize>(), 100);
    assert_eq!(lost, vec![(100, 50)]);
    assert_eq!(r.pop(&mut out), Popped::End);
}

#[test]
fn the_stream_ends_after_stop_after_frames() {
    let (mut w, mut r) = capture_ring(2, 100, Some(130));
    let mut out = vec![0f32; 2 * 64];
    w.push(&frames_from(0, 80), to_f32);
    w.push(&frames_from(80, 80), to_f32); // 80..100 fit, 100..130 lost, 130.. past the end
    let (frames, lost) = drain(&mut r, &mut out);
    assert_eq!(frames.iter().map(|f| f.1).sum::<usize>(), 100);
    assert_eq!(lost, vec![(100, 30)]);
    assert_eq!(r.pop(&mut out), Popped::End);
    assert_eq!(w.live_stats().snapshot().frames_captured, 130);
}

#[test]
fn pushing_and_popping_allocate_nothing() {
    let (mut w, mut r) = capture_ring(2, 1000, None);
    let mut out = vec![0f32; 2 * 256];
    let blocks: Vec<Vec<i16>> = (0..50).map(|k| frames_from(k * 400, 400)).collect();
    let before = thread_allocations();
    for (k, b) in blocks.iter().enumerate() {
        w.push(b, to_f32);
        // Read only every third block, so the ring overruns again and again.
        if k % 3 == 0 {
            while !matches!(r.pop(&mut out), Popped::Empty) {}
        }
    }
    assert_eq!(thread_allocations() - before, 0);
    assert!(w.live_stats().snapshot().overruns > 3);
}
