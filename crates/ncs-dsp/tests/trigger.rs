//! Trigger-channel detection: hysteresis, refractory period, edges, block splits.

use crate::common::Rng;
use ncs_dsp::{DspError, Edge, TriggerConfig};

fn cfg(edge: Edge) -> TriggerConfig {
    let (arm, disarm) = match edge {
        Edge::Rising => (2.5, 1.0),
        Edge::Falling => (1.0, 2.5),
    };
    TriggerConfig {
        sample_rate_hz: 10_000.0,
        arm_level: arm,
        disarm_level: disarm,
        edge,
        refractory_ms: 5.0,
    }
}

/// TTL-like pulses (0 → 5 V, 1 ms) with ringing and noise at the given onsets.
fn pulses(n: usize, onsets: &[usize], seed: u64) -> Vec<f64> {
    let mut r = Rng::new(seed);
    let mut x: Vec<f64> = (0..n).map(|_| 0.05 * r.normal()).collect();
    for &o in onsets {
        for (k, v) in x[o..o + 10].iter_mut().enumerate() {
            // Ringing that re-crosses the arm level but never falls to the disarm level.
            *v += if k % 3 == 2 { 2.0 } else { 5.0 };
        }
    }
    x
}

#[test]
fn rising_edges_with_ringing_fire_once_each() {
    let onsets = [100, 700, 2000, 2049];
    let x = pulses(3000, &onsets, 1);
    let det = cfg(Edge::Rising).build().unwrap();
    // 2049 is within the 5 ms (50 samples) refractory period of 2000.
    assert_eq!(det.detect_all(&x), vec![100, 700, 2000]);
}

#[test]
fn falling_edges() {
    let x: Vec<f64> = pulses(3000, &[100, 700], 2)
        .iter()
        .map(|v| 5.0 - v)
        .collect();
    let det = cfg(Edge::Falling).build().unwrap();
    assert_eq!(det.detect_all(&x), vec![100, 700]);
}

#[test]
fn a_line_already_high_at_the_start_does_not_fire() {
    let mut x = vec![5.0; 50];
    x.extend(vec![0.0; 50]);
    x.extend(vec![5.0; 50]);
    assert_eq!(cfg(Edge::Rising).build().unwrap().detect_all(&x), vec![100]);
}

#[test]
fn any_block_split_gives_the_same_indices() {
    let onsets: Vec<usize> = (0..40).map(|i| 300 + i * 977).collect();
    let x = pulses(41_000, &onsets, 3);
    let det = cfg(Edge::Rising).build().unwrap();
    let whole = det.detect_all(&x);
    assert_eq!(whole, onsets.iter().map(|&o| o as u64).collect::<Vec<_>>());
    let mut r = Rng::new(4);
    for _ in 0..5 {
        let mut st = det.new_state();
        let mut got = Vec::new();
        let mut i = 0;
        while i < x.len() {
            let e = (i + 1 + (r.uniform() * 300.0) as usize).min(x.len());
            det.process(&mut st, &x[i..e], |v| got.push(v));
            i = e;
        }
        assert_eq!(got, whole);
        assert_eq!(st.position(), x.len() as u64);
        st.reset();
        assert_eq!(st, det.new_state());
    }
}

#[test]
fn hysteresis_on_the_wrong_side_is_rejected() {
    let mut c = cfg(Edge::Rising);
    c.disarm_level = 3.0;
    assert!(matches!(
        c.build().unwrap_err(),
        DspError::Parameter {
            name: "disarm_level",
            ..
        }
    ));
    let mut c = cfg(Edge::Falling);
    c.disarm_level = 0.5;
    assert!(matches!(
        c.build().unwrap_err(),
        DspError::Parameter {
            name: "disarm_level",
            ..
        }
    ));
    let mut c = cfg(Edge::Rising);
    c.refractory_ms = -1.0;
    assert_eq!(
        c.build().unwrap_err().to_string(),
        "refractory_ms must be finite and >= 0, got -1"
    );
}
