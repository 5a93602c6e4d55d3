//! Designs and zero-phase filtering against scipy's own numbers (tests/golden/filters.json,
//! written by tests/golden/make_golden.py).

use crate::common::{assert_allclose, f64s, golden, sections};
use ncs_dsp::design::{frequency_response, Section};
use ncs_dsp::{Cascade, FilterSpec, ZeroPhase};

/// Complex responses of two cascades agree to 1e-9 **absolute** on a dense grid (600 log-spaced
/// plus 600 linear frequencies up to 0.999·fs/2); |H| ≤ 1 for these filters, so absolute is
/// also relative to the pass band.
fn assert_same_response(ours: &[Section], theirs: &[Section], fs: f64, what: &str) {
    let mut worst: f64 = 0.0;
    for i in 0..1200 {
        let f = if i < 600 {
            0.1 * (0.4995 * fs / 0.1).powf(i as f64 / 599.0)
        } else {
            0.4995 * fs * (i - 599) as f64 / 600.0
        };
        let d = (frequency_response(ours, f, fs) - frequency_response(theirs, f, fs)).norm();
        worst = worst.max(d);
        assert!(d <= 1e-9, "{what}: |ΔH| = {d:e} at {f} Hz");
    }
    assert!(worst.is_finite());
}

fn spec(case: &serde_json::Value) -> FilterSpec {
    let order = case["order"].as_u64().unwrap() as usize;
    let wn = f64s(&case["wn"]);
    match case["btype"].as_str().unwrap() {
        "lowpass" => FilterSpec::Lowpass {
            order,
            cutoff_hz: wn[0],
        },
        "highpass" => FilterSpec::Highpass {
            order,
            cutoff_hz: wn[0],
        },
        "bandpass" => FilterSpec::Bandpass {
            order,
            low_hz: wn[0],
            high_hz: wn[1],
        },
        other => panic!("unknown btype {other}"),
    }
}

#[test]
fn butterworth_matches_scipy_sections_and_response() {
    let g = golden();
    let cases = g["butter"].as_array().unwrap();
    assert!(cases.len() > 900, "golden table too small");
    let mut identical = 0;
    let mut mismatched = Vec::new();
    for case in cases {
        let fs = case["fs"].as_f64().unwrap();
        let theirs = sections(&case["sos"]);
        let ours = spec(case).design(fs).unwrap();
        let what = format!("{:?} fs={fs}", spec(case));
        assert_eq!(ours.len(), theirs.len(), "{what}: section count");
        // Same sections: each row to 1e-12 relative to that row's largest |b| or |a|.
        let same = ours.iter().zip(&theirs).all(|(a, b)| {
            let sb = b[..3].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let sa = b[3..].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            (0..3).all(|k| (a[k] - b[k]).abs() <= 1e-12 * sb)
                && (3..6).all(|k| (a[k] - b[k]).abs() <= 1e-12 * sa)
        });
        if same {
            identical += 1;
        } else {
            mismatched.push(what.clone());
        }
        assert_same_response(&ours, &theirs, fs, &what);
    }
    // Pairing and ordering follow zpk2sos, so every case must give scipy's own sections.
    assert!(
        mismatched.is_empty(),
        "{} of {} cases differ in sections: {mismatched:?}",
        mismatched.len(),
        cases.len()
    );
    assert_eq!(identical, cases.len());
}

#[test]
fn notch_matches_scipy() {
    let g = golden();
    for case in g["notch"].as_array().unwrap() {
        let fs = case["fs"].as_f64().unwrap();
        let spec = FilterSpec::Notch {
            freq_hz: case["f0"].as_f64().unwrap(),
            q: case["q"].as_f64().unwrap(),
        };
        let ours = spec.design(fs).unwrap();
        let (b, a) = (f64s(&case["b"]), f64s(&case["a"]));
        let theirs = [b[0], b[1], b[2], a[0], a[1], a[2]];
        assert_allclose(
            &ours[0],
            &theirs,
            1e-14,
            1e-15,
            &format!("{spec:?} fs={fs}"),
        );
    }
}

#[test]
fn response_evaluator_matches_extended_precision_and_sosfreqz() {
    let g = golden();
    let mut worst_scipy: f64 = 0.0;
    for case in g["freqz"].as_array().unwrap() {
        let fs = case["fs"].as_f64().unwrap();
        let sos = sections(&case["sos"]);
        let f = f64s(&case["f"]);
        let (re, im) = (f64s(&case["re_ld"]), f64s(&case["im_ld"]));
        let (sre, sim) = (f64s(&case["re"]), f64s(&case["im"]));
        for i in 0..f.len() {
            let h = frequency_response(&sos, f[i], fs);
            // Against the extended-precision reference: 1e-11 absolute.
            assert!(
                (h.re - re[i]).abs() <= 1e-11 && (h.im - im[i]).abs() <= 1e-11,
                "H({}) = {h} vs {}+{}j",
                f[i],
                re[i],
                im[i]
            );
            worst_scipy = worst_scipy.max((h.re - sre[i]).abs().max((h.im - sim[i]).abs()));
        }
    }
    // scipy's own float64 evaluation is within 1e-8 of it (it loses digits near DC).
    assert!(worst_scipy <= 1e-8, "sosfreqz differs by {worst_scipy:e}");
}

#[test]
fn sosfiltfilt_matches_scipy() {
    let g = golden();
    for case in g["filtfilt"].as_array().unwrap() {
        let fs = case["fs"].as_f64().unwrap();
        let sos = sections(&case["sos"]);
        let cascade = Cascade::from_sections(fs, 1, &sos).unwrap();
        let zp = ZeroPhase::new(&cascade);
        let zi: Vec<f64> = zp.zi().iter().flatten().copied().collect();
        let zi_ref: Vec<f64> = case["zi"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(f64s)
            .collect();
        // zi = (I − Aᵀ)⁻¹(…) with 1 + a1 + a2 ≈ 1e-6 for a 2 Hz corner: rounding is amplified
        // ~1e6 times in scipy's LAPACK solve and in our closed form alike.
        assert_allclose(&zi, &zi_ref, 1e-8, 1e-12, "sosfilt_zi");
        let x = f64s(&case["x"]);
        let y = zp.filtfilt(&x).unwrap();
        // 1e-9 absolute on a signal of unit scale.
        assert_allclose(&y, &f64s(&case["y"]), 0.0, 1e-9, "sosfiltfilt");
        // The scratch variant gives the very same numbers.
        let mut out = vec![0.0; x.len()];
        let mut scratch = vec![0.0; zp.scratch_len(x.len())];
        zp.filtfilt_into(&x, &mut out, &mut scratch).unwrap();
        assert_eq!(out, y);
    }
}

#[test]
fn filtfilt_rejects_short_input_and_bad_buffers() {
    let c = Cascade::from_sections(
        5000.0,
        1,
        &FilterSpec::Lowpass {
            order: 2,
            cutoff_hz: 100.0,
        }
        .design(5000.0)
        .unwrap(),
    )
    .unwrap();
    let zp = ZeroPhase::new(&c);
    // One section, b2 != 0: scipy's padlen = 3 * (2 * 1 + 1).
    assert_eq!(zp.padlen(), 9);
    let err = zp.filtfilt(&[0.0; 9]).unwrap_err();
    assert_eq!(err, ncs_dsp::DspError::TooShort { len: 9, padlen: 9 });
    assert!(zp.filtfilt(&[0.0; 10]).is_ok());
    let mut out = vec![0.0; 10];
    let mut scratch = vec![0.0; 200];
    assert!(matches!(
        zp.filtfilt_into(&[0.0; 20], &mut out, &mut scratch),
        Err(ncs_dsp::DspError::BufferLength { name: "out", .. })
    ));
}

#[test]
fn design_validation_errors_name_the_parameter() {
    use ncs_dsp::DspError;
    let e = FilterSpec::Lowpass {
        order: 9,
        cutoff_hz: 10.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert_eq!(e, DspError::Order(9));
    assert_eq!(e.to_string(), "filter order must be in 1..=8, got 9");
    let e = FilterSpec::Lowpass {
        order: 0,
        cutoff_hz: 10.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert_eq!(e, DspError::Order(0));
    let e = FilterSpec::Highpass {
        order: 2,
        cutoff_hz: 500.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert!(
        matches!(
            e,
            DspError::Frequency {
                name: "cutoff_hz",
                ..
            }
        ),
        "{e}"
    );
    let e = FilterSpec::Bandpass {
        order: 2,
        low_hz: 300.0,
        high_hz: 100.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert_eq!(
        e,
        DspError::BandOrder {
            low_hz: 300.0,
            high_hz: 100.0
        }
    );
    let e = FilterSpec::Bandpass {
        order: 2,
        low_hz: 0.0,
        high_hz: 100.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert!(matches!(e, DspError::Frequency { name: "low_hz", .. }));
    let e = FilterSpec::Notch {
        freq_hz: 50.0,
        q: 0.0,
    }
    .design(1000.0)
    .unwrap_err();
    assert_eq!(e, DspError::Quality(0.0));
    let e = FilterSpec::Notch {
        freq_hz: 50.0,
        q: 30.0,
    }
    .design(f64::NAN)
    .unwrap_err();
    assert!(matches!(e, DspError::SampleRate(v) if v.is_nan()));
    assert_eq!(
        FilterSpec::Notch {
            freq_hz: 50.0,
            q: 30.0
        }
        .design(0.0)
        .unwrap_err()
        .to_string(),
        "sample rate must be finite and > 0 Hz, got 0"
    );
}
