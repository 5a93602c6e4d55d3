//! Measuring allocates nothing once the scratch buffers have grown.

use crate::common::*;
use ncs_cmap::{MeasureConfig, Scratch, SweepView};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates every call unchanged to the system allocator; only counts calls.
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

#[test]
fn measuring_does_not_allocate_after_warm_up() {
    let m = MeasureConfig::default().build().unwrap();
    let sweeps: Vec<Synth> = (0..5)
        .map(|seed| {
            synth(&Params {
                fs: 20_000.0,
                amp_mv: 3.0,
                noise_uv: 20.0,
                mains_uv: 20.0,
                artefact_mv: 4.0,
                artefact_tau_ms: 0.4,
                seed,
            })
        })
        .collect();
    let mut scratch = Scratch::with_capacity(1000, 64);
    let view = SweepView::new(&sweeps[0].data, 20_000.0, sweeps[0].stim).unwrap();
    m.measure(&view, &mut scratch);
    let before = ALLOCS.with(|c| c.get());
    let mut present = 0;
    for s in &sweeps {
        let view = SweepView::new(&s.data, 20_000.0, s.stim).unwrap();
        present += m.measure(&view, &mut scratch).present as usize;
    }
    let after = ALLOCS.with(|c| c.get());
    assert_eq!(present, sweeps.len());
    assert_eq!(
        after - before,
        0,
        "measuring allocated {} times",
        after - before
    );
}
