//! A counting global allocator (per thread, so parallel tests do not disturb each other) and
//! the proofs that the real-time calls never allocate.
// The allocator must implement the unsafe `GlobalAlloc` trait; it only forwards to `System`.
#![allow(unsafe_code)]

use ncs_dsp::{ArtefactConfig, CascadeConfig, Edge, FilterSpec, TriggerConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

#[test]
fn counter_sees_allocations() {
    let (v, n) = allocations(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert!(n >= 1, "the counting allocator must see a Vec allocation");
}

#[test]
fn filter_process_calls_do_not_allocate() {
    let cfg = CascadeConfig {
        sample_rate_hz: 20_000.0,
        channels: 8,
        stages: vec![
            FilterSpec::Bandpass {
                order: 2,
                low_hz: 2.0,
                high_hz: 3000.0,
            },
            FilterSpec::Notch {
                freq_hz: 50.0,
                q: 30.0,
            },
        ],
    };
    let c = cfg.build().unwrap();
    let mut st = c.new_state();
    let input: Vec<f32> = (0..8 * 512).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut out = vec![0.0f32; input.len()];
    let input64: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let mut out64 = vec![0.0f64; input.len()];
    let (_, n) = allocations(|| {
        c.process(&mut st, &input, &mut out);
        c.process_frame(&mut st, &input[..8], &mut out[..8]);
        c.process(&mut st, &input64, &mut out64);
        c.process_in_place(&mut st, &mut out64);
        st.reset();
    });
    assert_eq!(n, 0, "streaming filter allocated {n} times");
}

#[test]
fn detectors_do_not_allocate_per_block() {
    let trig = TriggerConfig {
        sample_rate_hz: 5000.0,
        arm_level: 1.0,
        disarm_level: 0.5,
        edge: Edge::Rising,
        refractory_ms: 1.0,
    }
    .build()
    .unwrap();
    let art = ArtefactConfig::new(5000.0).build().unwrap();
    let mut ts = trig.new_state();
    let mut st = art.new_state();
    let mut x: Vec<f64> = (0..20_000)
        .map(|i| ((i * 7919) % 13) as f64 * 1e-3)
        .collect();
    for k in (3000..20_000).step_by(2500) {
        x[k] = 5.0;
    }
    let mut hits = 0usize;
    let (_, n) = allocations(|| {
        for block in x.chunks(256) {
            trig.process(&mut ts, block, |_| hits += 1);
            art.process(&mut st, block, |_| hits += 1);
        }
    });
    assert_eq!(n, 0, "detectors allocated {n} times");
    assert!(hits > 0);
}
