//! Recruitment, block, dispersion and slowing in the nerve model.

use ncs_sim::{
    measure, scenario, BlockSelect, BlockSpec, DispersionSpec, IntensityPlan, Modality, NerveModel,
    NerveSpec, SegmentSpec, Side, SiteSpec, SlowingSpec, TrueMeasures,
};

const FS: f64 = 20_000.0;

fn nerve(segment: Option<SegmentSpec>) -> NerveSpec {
    NerveSpec {
        name: "test".into(),
        side: Side::Left,
        modality: Modality::Motor,
        recording: "APB".into(),
        channel: 0,
        units: 300,
        cv_mean_m_s: 57.0,
        cv_sd_m_s: 4.5,
        terminal_latency_ms: 2.3,
        terminal_sd_ms: 0.3,
        distal_amplitude_mv: 8.0,
        unit_duration_ms: 4.5,
        duration_spread: 0.12,
        size_spread: 0.3,
        threshold_spread: 0.15,
        positive_dip: 0.0,
        positive_dip_ms: 1.5,
        sites: vec![
            SiteSpec {
                name: "wrist".into(),
                distance_mm: 70.0,
                threshold_ma: 8.0,
            },
            SiteSpec {
                name: "elbow".into(),
                distance_mm: 120.0,
                threshold_ma: 14.0,
            },
        ],
        segments: segment.into_iter().collect(),
        intensity: IntensityPlan::default(),
        seed: None,
        sweeps_per_intensity: None,
        supramaximal_sweeps: None,
    }
}

fn segment() -> SegmentSpec {
    SegmentSpec {
        distal: "wrist".into(),
        proximal: "elbow".into(),
        block: None,
        dispersion: None,
        slowing: None,
    }
}

fn measures(m: &NerveModel, site: usize, intensity: f64) -> Option<TrueMeasures> {
    let mut buf = vec![0.0; 1200];
    m.add_response(site, intensity, FS, 100, &mut buf);
    measure(&buf, FS, 100)
}

#[test]
fn recruitment_is_monotone_sigmoid_and_plateaus() {
    let m = NerveModel::build(&nerve(None), 1, FS).expect("valid");
    for site in 0..2 {
        let supra = m.supramaximal_ma(site);
        let mut last_frac = 0.0;
        let mut last_amp = 0.0;
        let mut i = 0.0;
        while i <= supra * 1.5 {
            let f = m.recruited_fraction(site, i);
            let amp = measures(&m, site, i).map_or(0.0, |t| t.negative_peak_amplitude_mv);
            assert!(
                f >= last_frac && amp >= last_amp - 1e-12,
                "site {site} at {i} mA"
            );
            (last_frac, last_amp) = (f, amp);
            i += 0.25;
        }
        assert_eq!(
            m.recruited_fraction(site, 0.5 * m.spec().sites[site].threshold_ma),
            0.0
        );
        let half = m.recruited_fraction(site, m.spec().sites[site].threshold_ma);
        assert!(
            (0.35..0.65).contains(&half),
            "median threshold recruits half: {half}"
        );
        assert_eq!(m.recruited_fraction(site, supra), 1.0);
        // Plateau: above supramaximal the response no longer grows.
        let a = measures(&m, site, supra).expect("response");
        let b = measures(&m, site, supra * 1.2).expect("response");
        assert_eq!(a, b);
    }
    assert!(
        m.supramaximal_ma(1) > m.supramaximal_ma(0),
        "proximal needs more current"
    );
    // The plan steps until supramaximal, then +20 %.
    let plan = IntensityPlan::default().intensities(m.supramaximal_ma(0));
    let n = plan.len();
    assert!(plan[n - 2] >= m.supramaximal_ma(0) && plan[n - 3] < m.supramaximal_ma(0));
    assert!((plan[n - 1] / plan[n - 2] - 1.2).abs() < 1e-12);
}

#[test]
fn block_reduces_area_by_about_the_fraction() {
    let mut drops = Vec::new();
    for seed in 0..5 {
        let mut seg = segment();
        seg.block = Some(BlockSpec {
            fraction: 0.5,
            select: BlockSelect::Random,
            seed: Some(seed),
            axons: None,
        });
        let m = NerveModel::build(&nerve(Some(seg)), seed, FS).expect("valid");
        assert!((m.conducting_fraction(1) - 0.5).abs() < 1e-12);
        assert_eq!(m.conducting_fraction(0), 1.0);
        let d = measures(&m, 0, f64::INFINITY).expect("distal");
        let p = measures(&m, 1, f64::INFINITY).expect("proximal");
        let drop = 1.0 - p.negative_peak_area_mv_ms / d.negative_peak_area_mv_ms;
        assert!(
            (0.38..0.62).contains(&drop),
            "seed {seed}: area drop {drop}"
        );
        let inc = p.negative_peak_duration_ms / d.negative_peak_duration_ms - 1.0;
        assert!(inc < 0.15, "a block alone barely widens: {inc}");
        drops.push(drop);
    }
    let mean = drops.iter().sum::<f64>() / drops.len() as f64;
    assert!((mean - 0.5).abs() < 0.06, "mean drop {mean}");

    // Largest-first removes more than half the area.
    let mut seg = segment();
    seg.block = Some(BlockSpec {
        fraction: 0.5,
        select: BlockSelect::Largest,
        seed: None,
        axons: None,
    });
    let m = NerveModel::build(&nerve(Some(seg)), 1, FS).expect("valid");
    let d = measures(&m, 0, f64::INFINITY).expect("distal");
    let p = measures(&m, 1, f64::INFINITY).expect("proximal");
    assert!(p.negative_peak_area_mv_ms < 0.45 * d.negative_peak_area_mv_ms);

    // A complete block leaves no response.
    let mut seg = segment();
    seg.block = Some(BlockSpec {
        fraction: 1.0,
        select: BlockSelect::Random,
        seed: None,
        axons: None,
    });
    let m = NerveModel::build(&nerve(Some(seg)), 1, FS).expect("valid");
    assert!(measures(&m, 1, f64::INFINITY).is_none());
}

#[test]
fn dispersion_widens_and_cancels_without_block() {
    let healthy = NerveModel::build(&nerve(None), 2, FS).expect("valid");
    let mut seg = segment();
    seg.dispersion = Some(DispersionSpec {
        mean_extra_ms: 3.0,
        spread: 1.0,
    });
    let dispersed = NerveModel::build(&nerve(Some(seg)), 2, FS).expect("valid");
    assert_eq!(dispersed.conducting_fraction(1), 1.0);
    let h = measures(&healthy, 1, f64::INFINITY).expect("healthy");
    let d = measures(&dispersed, 1, f64::INFINITY).expect("dispersed");
    assert!(d.negative_peak_duration_ms > 1.3 * h.negative_peak_duration_ms);
    assert!(d.negative_peak_amplitude_mv < 0.7 * h.negative_peak_amplitude_mv);
    // Amplitude falls more than area: the signature of dispersion.
    let amp_ratio = d.negative_peak_amplitude_mv / h.negative_peak_amplitude_mv;
    let area_ratio = d.negative_peak_area_mv_ms / h.negative_peak_area_mv_ms;
    assert!(amp_ratio < area_ratio);
    // The distal response is untouched.
    assert_eq!(
        measures(&healthy, 0, f64::INFINITY),
        measures(&dispersed, 0, f64::INFINITY)
    );
}

#[test]
fn focal_slowing_delays_without_block() {
    let healthy = NerveModel::build(&nerve(None), 3, FS).expect("valid");
    let mut seg = segment();
    seg.slowing = Some(SlowingSpec { cv_factor: 0.5 });
    let slow = NerveModel::build(&nerve(Some(seg)), 3, FS).expect("valid");
    let h = measures(&healthy, 1, f64::INFINITY).expect("healthy");
    let s = measures(&slow, 1, f64::INFINITY).expect("slowed");
    // 50 mm at half speed: about 50 / 57 ≈ 0.9 ms later.
    let delay = s.onset_latency_ms - h.onset_latency_ms;
    assert!((0.7..1.1).contains(&delay), "delay {delay}");
    assert!(s.negative_peak_area_mv_ms > 0.9 * h.negative_peak_area_mv_ms);
}

#[test]
fn snaps_are_triphasic_and_microvolts() {
    let src = ncs_sim::StudySource::new(&scenario("normal").expect("builtin")).expect("ok");
    let st = src.stimuli();
    let mut seen = 0;
    for (k, s) in st.iter().enumerate() {
        if s.modality != Modality::Sensory || !s.supramaximal {
            continue;
        }
        let t = src.truth(k).expect("stimulus").measures.expect("a SNAP");
        let pp_uv = t.peak_to_peak_amplitude_mv * 1e3;
        assert!(
            (3.0..=50.0).contains(&pp_uv),
            "{} {}: {pp_uv} µV",
            s.nerve,
            s.site
        );
        // Initial positive phase before the negative one.
        assert!(t.first_deflection_latency_ms < t.onset_latency_ms);
        assert!(t.positive_peak_latency_ms.is_some());
        // Onset (clinical.md §1: the negative phase at 2 % of its peak) from distance at sensory
        // velocities (45–75 m/s).
        let cv = s.distance_mm / t.onset_latency_ms;
        assert!((45.0..75.0).contains(&cv), "sensory CV {cv}");
        seen += 1;
    }
    assert!(seen >= 3);
}

#[test]
fn bad_specs_are_clear_errors() {
    let mut n = nerve(None);
    n.cv_mean_m_s = -3.0;
    let e = NerveModel::build(&n, 1, FS).expect_err("invalid");
    assert_eq!(
        e.to_string(),
        "nerve \"test\" cv_mean_m_s must be > 0, got -3"
    );
    let mut seg = segment();
    seg.proximal = "axilla".into();
    let e = NerveModel::build(&nerve(Some(seg)), 1, FS).expect_err("unknown site");
    assert!(e.to_string().contains("axilla"), "{e}");
    let mut n = nerve(None);
    n.sites.swap(0, 1);
    assert!(NerveModel::build(&n, 1, FS).is_err());
}
