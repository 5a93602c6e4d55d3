//! The streamed study: determinism, chunking, truth alignment, scenarios.

use ncs_sim::{list_scenarios, scenario, Impairments, Modality, Scenario, SimError, StudySource};

use crate::worked_example::supramaximal_by_site;

fn drain(src: &mut StudySource, block_frames: usize) -> Vec<f32> {
    let nch = src.channel_count();
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; block_frames * nch];
    loop {
        let n = src.fill(&mut buf);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n * nch]);
    }
    out
}

/// A short two-channel study with every impairment.
fn short() -> Scenario {
    let mut s = scenario("median-worked-example").expect("builtin");
    s.channels = 2;
    s.trigger_channel = true;
    s.sample_rate_hz = 4_000.0;
    s.impairments.rail_mv = Some(6.0);
    s
}

#[test]
fn chunking_does_not_change_the_samples() {
    let sc = short();
    let a = drain(&mut StudySource::new(&sc).expect("ok"), 4096);
    let b = drain(&mut StudySource::new(&sc).expect("ok"), 1);
    let c = drain(&mut StudySource::new(&sc).expect("ok"), 333);
    let src = StudySource::new(&sc).expect("ok");
    assert_eq!(a.len() as u64, src.total_frames() * 3);
    assert_eq!(a, b);
    assert_eq!(a, c);
    // Same seed, same samples; another seed, other samples.
    let again = drain(&mut StudySource::new(&sc).expect("ok"), 1000);
    assert_eq!(a, again);
    let mut other = sc.clone();
    other.seed += 1;
    assert_ne!(a, drain(&mut StudySource::new(&other).expect("ok"), 1000));
}

#[test]
fn a_partial_buffer_gets_whole_frames_only() {
    let sc = short();
    let mut src = StudySource::new(&sc).expect("ok");
    let mut buf = vec![0.0f32; 3 * 10 + 2];
    assert_eq!(src.fill(&mut buf), 10);
    assert_eq!(src.position(), 10);
}

#[test]
fn stream_carries_the_truth_at_the_stimulus() {
    let mut sc = short();
    sc.impairments = Impairments::default();
    let src0 = StudySource::new(&sc).expect("ok");
    let data = drain(&mut StudySource::new(&sc).expect("ok"), 777);
    let nch = src0.channel_count();
    assert_eq!(nch, 3);
    let fs = src0.sample_rate_hz();
    for (k, s) in src0.stimuli().iter().enumerate() {
        let t = src0.truth(k).expect("stimulus");
        assert_eq!(t.window_start + t.stimulus_offset as u64, s.sample_index);
        assert!((s.time_s - s.sample_index as f64 / fs).abs() < 1e-12);
        for (i, &c) in t.clean.iter().enumerate() {
            let frame = (t.window_start as usize + i) * nch;
            assert!(
                (data[frame + s.channel] as f64 - c).abs() < 1e-6,
                "stimulus {k} sample {i}"
            );
            // The other recording channel stays silent without impairments.
            assert_eq!(data[frame + 1], 0.0);
        }
        // Trigger: 1 at the stimulus, 0 just before.
        let f = s.sample_index as usize;
        assert_eq!(data[f * nch + 2], 1.0);
        assert_eq!(data[(f - 1) * nch + 2], 0.0);
    }
    let trig_on = data
        .iter()
        .skip(2)
        .step_by(nch)
        .filter(|&&v| v == 1.0)
        .count();
    // 0.2 ms pulse at 4 kHz = 1 frame per stimulus.
    assert_eq!(trig_on, src0.stimuli().len());
}

#[test]
fn stream_noise_rms_and_rails() {
    let mut sc = short();
    sc.impairments = Impairments {
        noise_uv_rms: 15.0,
        ..Impairments::default()
    };
    sc.lead_in_s = 2.0;
    let mut src = StudySource::new(&sc).expect("ok");
    let nch = src.channel_count();
    // 1.5 s of lead-in: noise only.
    let mut buf = vec![0.0f32; 6000 * nch];
    assert_eq!(src.fill(&mut buf), 6000);
    for ch in 0..2 {
        let x: Vec<f64> = buf
            .iter()
            .skip(ch)
            .step_by(nch)
            .map(|&v| v as f64)
            .collect();
        let r = crate::rms(&x) * 1e6;
        assert!((r / 15.0 - 1.0).abs() < 0.05, "channel {ch}: {r} µV");
    }
    // Rails clip everything, artefact spikes included.
    let mut sc = short();
    sc.impairments.rail_mv = Some(2.0);
    sc.impairments.artefact = Some(ncs_sim::Artefact {
        amplitude_mv_per_ma: 1.0,
        ..ncs_sim::Artefact::default()
    });
    let data = drain(&mut StudySource::new(&sc).expect("ok"), 4096);
    let max = data
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .fold(0.0f32, |m, (_, v)| m.max(v.abs()));
    assert_eq!(max, 2e-3);
}

#[test]
fn intensity_plan_in_the_stimulus_list() {
    let src = StudySource::new(&scenario("normal").expect("builtin")).expect("ok");
    let st = src.stimuli();
    assert!(st.windows(2).all(|w| w[0].sample_index < w[1].sample_index));
    assert!(st.iter().enumerate().all(|(i, s)| s.index == i));
    // Per site: rising intensities, the last two supramaximal, the last one +20 %; sensory
    // nerves get a few sweeps at each step of the ramp and many at the last, to average.
    for (ni, n) in src.scenario().nerves.iter().enumerate() {
        for si in 0..n.sites.len() {
            let site: Vec<_> = st
                .iter()
                .filter(|s| s.nerve_index == ni && s.site_index == si)
                .collect();
            let (sweeps, last_sweeps) = if n.modality == Modality::Sensory {
                (4, 64)
            } else {
                (1, 1)
            };
            let last = site[site.len() - 1];
            let at_last = site
                .iter()
                .filter(|s| s.intensity_ma == last.intensity_ma)
                .count();
            assert_eq!(at_last, last_sweeps, "{} {}", n.name, n.sites[si].name);
            assert!(site[..site.len() - last_sweeps]
                .iter()
                .all(|s| s.sweep < sweeps));
            assert!(site[site.len() - last_sweeps..]
                .iter()
                .enumerate()
                .all(|(k, s)| s.sweep == k));
            assert!(last.supramaximal);
            let prev = site[site.len() - 1 - last_sweeps];
            assert!(prev.supramaximal);
            assert!((last.intensity_ma / prev.intensity_ma - 1.2).abs() < 1e-9);
            assert!(!site[0].supramaximal);
            assert!(site
                .windows(2)
                .all(|w| w[0].intensity_ma <= w[1].intensity_ma));
            // Submaximal responses are smaller than the supramaximal one.
            let t0 = src.truth(site[0].index).expect("stimulus");
            let tl = src.truth(last.index).expect("stimulus");
            let a0 = t0.measures.map_or(0.0, |m| m.negative_peak_amplitude_mv);
            let al = tl
                .measures
                .expect("supramaximal response")
                .negative_peak_amplitude_mv;
            assert!(a0 < al, "{} {}", n.name, n.sites[si].name);
            assert!(tl.recruited_fraction == 1.0 && t0.recruited_fraction < 1.0);
        }
    }
}

#[test]
fn builtin_scenarios_build_and_round_trip_through_toml() {
    let names = list_scenarios();
    assert!(names.len() >= 4);
    for name in names {
        let sc = scenario(name).expect("builtin");
        assert_eq!(sc.name, name);
        let text = sc.to_toml_string().expect("serialises");
        assert_eq!(Scenario::from_toml_str(&text).expect("parses"), sc);
        let src = StudySource::new(&sc).expect("builds");
        assert!(!src.stimuli().is_empty());
    }
    let e = scenario("nope").expect_err("unknown");
    assert!(matches!(e, SimError::Unknown { .. }));
    assert!(e.to_string().contains("median-worked-example"));
    assert!(matches!(
        Scenario::from_toml_str("name = 3"),
        Err(SimError::Toml(_))
    ));
}

/// Area reduction and duration increase of each adjacent segment of nerve `n`.
fn segments(src: &StudySource, n: usize) -> Vec<(f64, f64)> {
    let m = supramaximal_by_site(src, n);
    m.windows(2)
        .map(|w| {
            (
                1.0 - w[1].negative_peak_area_mv_ms / w[0].negative_peak_area_mv_ms,
                w[1].negative_peak_duration_ms / w[0].negative_peak_duration_ms - 1.0,
            )
        })
        .collect()
}

#[test]
fn mmn_has_definite_blocks_in_two_nerves_and_normal_dispersion_scenarios_do_not() {
    let mmn = StudySource::new(&scenario("mmn").expect("builtin")).expect("ok");
    let mut blocked = 0;
    for (i, n) in mmn.scenario().nerves.iter().enumerate() {
        if n.modality != Modality::Motor {
            continue;
        }
        let definite = segments(&mmn, i)
            .iter()
            .filter(|(a, d)| *a >= 0.5 && *d <= 0.3)
            .count();
        blocked += usize::from(definite > 0);
    }
    assert!(blocked >= 2, "{blocked} nerves with a definite block");

    let normal = StudySource::new(&scenario("normal").expect("builtin")).expect("ok");
    for (i, n) in normal.scenario().nerves.iter().enumerate() {
        if n.modality == Modality::Motor {
            assert!(
                segments(&normal, i).iter().all(|(a, _)| *a < 0.3),
                "{}",
                n.name
            );
        }
    }
    let disp = StudySource::new(&scenario("dispersion").expect("builtin")).expect("ok");
    let widened = disp
        .scenario()
        .nerves
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            n.modality == Modality::Motor && segments(&disp, *i).iter().any(|(_, d)| *d > 0.3)
        })
        .count();
    assert!(widened >= 2);
    assert!(disp
        .stimuli()
        .iter()
        .all(|s| disp.models()[s.nerve_index].conducting_fraction(s.site_index) == 1.0));
}

#[test]
fn memory_does_not_grow_with_the_study() {
    let mut sc = scenario("mmn").expect("builtin");
    sc.channels = 8;
    sc.sample_rate_hz = 4_000.0;
    sc.impairments.artefact_crosstalk = 0.1;
    let mut src = StudySource::new(&sc).expect("ok");
    let (pre, post) = src.window_frames();
    let window = pre + post;
    let mut buf = vec![0.0f32; 4000 * src.channel_count()];
    let mut most = 0;
    let mut frames = 0u64;
    loop {
        let n = src.fill(&mut buf);
        if n == 0 {
            break;
        }
        frames += n as u64;
        most = most.max(src.buffered_samples());
    }
    assert_eq!(frames, src.total_frames());
    assert!(src.total_frames() > 300 * 4000, "a long study");
    // At most one stimulus's windows (8 channels with crosstalk) plus the cached response.
    assert!(most <= 9 * window, "{most} samples held, window {window}");
}

#[test]
fn crosstalk_puts_a_scaled_artefact_on_the_other_channels() {
    let mut sc = short();
    sc.impairments = Impairments {
        artefact: Some(ncs_sim::Artefact::default()),
        artefact_crosstalk: 0.25,
        ..Impairments::default()
    };
    let src = StudySource::new(&sc).expect("ok");
    let data = drain(&mut StudySource::new(&sc).expect("ok"), 500);
    let s = &src.stimuli()[0];
    let f = s.sample_index as usize * 3;
    let spike = 0.3e-3 * s.intensity_ma;
    assert!(((data[f] as f64) / spike - 1.0).abs() < 1e-5);
    assert!(
        ((data[f + 1] as f64) / (0.25 * spike) - 1.0).abs() < 1e-5,
        "{} {} {}",
        data[f],
        data[f + 1],
        spike
    );
}
