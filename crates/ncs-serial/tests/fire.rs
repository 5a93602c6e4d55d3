//! The serial source fires the amplifier's stimulator: `Source::fire` sends FireStimulus at the
//! request's intensity without waiting or allocating, the stimulus comes back as a mark at the
//! instant the device fired, a refusal is counted, and a device without a stimulator says so.

use ncs_runtime::{FireRequest, ReadOutcome, Source};
use ncs_virtual_amp::{AmpConfig, Content, Placement};

use crate::alloc::thread_allocations;
use crate::common::*;

fn patient_config(frames: u64) -> AmpConfig {
    let scenario = ncs_sim::scenario("median-worked-example").expect("built-in scenario");
    let mut cfg = AmpConfig::new(Content::Patient(Box::new(scenario)));
    cfg.speed = 0.0;
    cfg.max_frames = Some(frames);
    cfg.exit_at_end = true;
    cfg
}

fn request(intensity_ma: f64) -> FireRequest<'static> {
    FireRequest {
        intensity_ma,
        pulse_width_us: 200,
        placement: None,
    }
}

#[test]
fn fired_stimuli_come_back_as_marks_at_the_instants_the_device_fired() {
    const TOTAL: u64 = 100_000;
    // The device fires at most 100 mA: the 150-mA request is refused.
    let asks: [(u64, f64); 4] = [
        (20_000, 12.5),
        (40_000, 7.8904),
        (60_000, 150.0),
        (80_000, 40.0),
    ];
    let amp_cfg = patient_config(TOTAL);
    let mut amp = ncs_virtual_amp::Amp::new(amp_cfg).expect("emulator starts");
    let hand = amp.hand();
    hand.place(&Placement::new("median", "right", "wrist"))
        .expect("placed");
    let path = amp.path().to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = std::sync::Arc::clone(&stop);
    let thread = std::thread::spawn(move || amp.run(&s).expect("emulator runs"));

    let mut host = open_host(&path, TOTAL);
    assert!(
        host.can_fire(),
        "the device information says it has a stimulator"
    );
    let mut block = vec![0f32; 1024];
    let mut marks = Vec::with_capacity(64);
    let mut seen = Vec::new();
    let mut next = asks.iter().peekable();
    let mut fire_allocations = 0;
    loop {
        marks.clear();
        match host.read(&mut block, &mut marks).expect("reads") {
            ReadOutcome::End => break,
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                seen.extend(marks.iter().map(|m| (m.sample_index, m.intensity_ua)));
                if let Some((_, ma)) = next.next_if(|(at, _)| first_sample + frames as u64 >= *at) {
                    let before = thread_allocations();
                    host.fire(&request(*ma)).expect("sent");
                    fire_allocations += thread_allocations() - before;
                }
            }
            ReadOutcome::Lost { .. } => panic!("nothing is lost on a clean link"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let summary = thread.join().expect("emulator thread");
    assert!(next.next().is_none(), "every request was made");
    assert_eq!(fire_allocations, 0, "Source::fire allocates nothing");

    // The device carried out the three it could give, at the µA asked, where the electrode was.
    let fired: Vec<(u32, u16, Option<&str>)> = summary
        .stimuli
        .iter()
        .map(|f| {
            (
                f.intensity_ua,
                f.pulse_width_us,
                f.placement.as_ref().map(|p| p.site.as_str()),
            )
        })
        .collect();
    assert_eq!(
        fired,
        [
            (12_500, 200, Some("wrist")),
            (7_890, 200, Some("wrist")),
            (40_000, 200, Some("wrist"))
        ]
    );
    // Each came back as one mark at the instant the device fired it (the intensity is the
    // request's, which the examiner's steering puts on the mark, not the source's).
    let want: Vec<(u64, Option<u32>)> = summary
        .stimuli
        .iter()
        .map(|f| (f.sample_index, None))
        .collect();
    assert_eq!(seen, want);
    for (f, (asked, _)) in summary.stimuli.iter().zip([asks[0], asks[1], asks[3]]) {
        assert!(
            f.sample_index >= asked,
            "{f:?} before it was asked at {asked}"
        );
    }
    // The refusal was not waited for, and is counted.
    let stats = host.stats();
    assert_eq!(stats.nacks, 1, "{stats:?}");
    assert_eq!(host.live_stats().snapshot().nacks, 1);
    assert_eq!(stats.samples_delivered, TOTAL);
}

#[test]
fn requests_the_protocol_cannot_carry_are_refused_before_sending() {
    let amp = start(patient_config(20_000));
    let mut host = open_host(&amp.path, 20_000);
    for ma in [0.0, 0.0004, -1.0, f64::NAN, 5e6] {
        let before = thread_allocations();
        let e = host.fire(&request(ma)).expect_err("refused");
        // The counter sees the message a refusal allocates (so it would see any other).
        assert!(thread_allocations() > before);
        assert!(
            e.to_string().contains("stimulus intensity must be"),
            "{ma}: {e}"
        );
    }
    let rec = record(&mut host, 20_000);
    let summary = amp.finish();
    assert!(summary.stimuli.is_empty(), "nothing was sent");
    assert!(rec.marks.is_empty());
    assert_eq!(host.stats().nacks, 0);
}

#[test]
fn a_device_without_a_stimulator_cannot_fire() {
    let mut cfg = amp_config(20_000);
    cfg.stimulator = false;
    let amp = start(cfg);
    let mut host = open_host(&amp.path, 20_000);
    assert!(!host.can_fire(), "the device information says it has none");
    let e = host.fire(&request(10.0)).expect_err("refused");
    assert!(e.to_string().contains("no stimulator"), "{e}");
    let rec = record(&mut host, 20_000);
    let summary = amp.finish();
    assert!(summary.stimuli.is_empty());
    // Nothing was sent: the device would have refused it (Unsupported), and that is counted.
    assert_eq!(host.stats().nacks, 0);
    assert_contiguous(&rec, 20_000);
}
