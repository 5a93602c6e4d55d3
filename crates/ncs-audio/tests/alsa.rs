//! Capture from a real ALSA device (the `file` plugin, see `common`): samples, stimulus marks,
//! measured responses, losses and device listing.

use std::time::{Duration, Instant};

use ncs_audio::{list_inputs, AudioConfig, AudioError, AudioSource, SampleFormat};
use ncs_runtime::{Measurement, Processor, ProcessorConfig, ReadOutcome, Source, StimulusMark};

use crate::alloc::thread_allocations;
use crate::common::*;

fn config(volts_full_scale: f64, stop_after: Option<u64>) -> AudioConfig {
    AudioConfig {
        device: Some("default".into()),
        sample_rate_hz: Some(RATE),
        channels: Some(2),
        sample_format: Some(SampleFormat::I16),
        volts_full_scale,
        ring_s: 2.5,
        stop_after,
        ..AudioConfig::default()
    }
}

/// Reads until the end: samples, marks, and the allocations the reads made; panics on a loss.
fn read_to_end(
    src: &mut AudioSource,
    expect_frames: usize,
) -> (Vec<f32>, Vec<StimulusMark>, usize) {
    let ch = src.info().channels;
    let mut data = Vec::with_capacity(expect_frames * ch);
    let mut marks = Vec::with_capacity(1024);
    let mut buf = vec![0f32; 1024 * ch];
    let mut next = 0u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = thread_allocations();
    loop {
        assert!(Instant::now() < deadline, "the capture did not end");
        match src.read(&mut buf, &mut marks).unwrap() {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                assert_eq!(first_sample, next, "frames in order, no gap");
                assert!(
                    data.len() + frames * ch <= data.capacity(),
                    "more frames than expected"
                );
                next += frames as u64;
                data.extend_from_slice(&buf[..frames * ch]);
            }
            ReadOutcome::Lost {
                first_sample,
                count,
            } => panic!("{count} frames lost at {first_sample}"),
            ReadOutcome::End => return (data, marks, thread_allocations() - before),
        }
    }
}

#[test]
fn captured_samples_equal_the_file_bit_exact_in_order() {
    const N: usize = 40_000;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut file: Vec<i16> = (0..N * 2).map(|_| rng.next() as i16).collect();
    file[..6].copy_from_slice(&[i16::MIN, i16::MAX, 0, -1, 1, i16::MIN + 1]);
    let _device = with_capture_file(&file);
    let mut src = AudioSource::open(config(0.25, Some(N as u64))).unwrap();
    assert_eq!(src.device_name(), "default");
    assert_eq!(src.sample_format(), SampleFormat::I16);
    assert_eq!(src.info().sample_rate_hz, f64::from(RATE));
    assert_eq!(src.info().channels, 2);
    assert!(src.ring_frames() >= N);

    let (got, marks, allocations) = read_to_end(&mut src, N);
    assert_eq!(allocations, 0, "read allocates nothing after open");
    assert!(marks.is_empty());
    assert_eq!(got.len(), file.len());
    // volts = (i16 / 32768) × 0.25: both steps exact in f32, so the bits must match.
    for (k, (&g, &s)) in got.iter().zip(&file).enumerate() {
        let want = full_scale(s) * 0.25;
        assert_eq!(
            g.to_bits(),
            want.to_bits(),
            "sample {k}: {g} != {want} (file {s})"
        );
    }
    let s = src.stats();
    assert_eq!(s.frames_captured, N as u64);
    assert_eq!(s.frames_delivered, N as u64);
    assert_eq!((s.frames_lost, s.overruns, s.stream_errors), (0, 0, 0));
}

/// A trigger pulse (0.8 of full scale, 1 ms) on channel 1 at each of `at`.
fn add_pulses(file: &mut [i16], at: &[usize]) {
    for &t in at {
        for f in t..t + 20 {
            file[2 * f + 1] = 26_214;
        }
    }
}

#[test]
fn trigger_pulses_become_marks_at_their_exact_samples() {
    const N: usize = 24_000;
    let mut rng = Rng(7);
    // Channel 0: noise; channel 1: the trigger line, quiet apart from the pulses.
    let mut file: Vec<i16> = (0..N)
        .flat_map(|_| {
            [
                (rng.next() % 2000) as i16 - 1000,
                (rng.next() % 200) as i16 - 100,
            ]
        })
        .collect();
    // The pulse at 12 050 comes 2.5 ms after the one at 12 000, inside the 5-ms refractory
    // period: not a stimulus.
    add_pulses(&mut file, &[500, 4_500, 8_123, 12_000, 12_050, 19_999]);
    let _device = with_capture_file(&file);
    let mut cfg = config(0.01, Some(N as u64));
    cfg.trigger = Some(ncs_audio::TriggerSettings::on_channel(1));
    let mut src = AudioSource::open(cfg).unwrap();
    assert_eq!(src.info().channel_names, vec!["ch0", "trigger"]);
    let (_, marks, allocations) = read_to_end(&mut src, N);
    assert_eq!(
        allocations, 0,
        "trigger detection allocates nothing after open"
    );
    let at: Vec<u64> = marks.iter().map(|m| m.sample_index).collect();
    assert_eq!(at, vec![500, 4_500, 8_123, 12_000, 19_999]);
    assert_eq!(src.stats().stimuli, 5);
}

#[test]
fn a_response_after_each_trigger_is_measured_at_its_latency() {
    const VFS: f64 = 0.02; // ±1 full scale = ±20 mV at the electrodes
    const FIRST: usize = 1_000;
    const PERIOD: usize = 4_000;
    const STIMULI: usize = 8;
    const N: usize = FIRST + STIMULI * PERIOD + 2_500;
    let mut ch0 = vec![0.0f64; N];
    let mut truths = Vec::new();
    let at: Vec<usize> = (0..STIMULI).map(|k| FIRST + k * PERIOD).collect();
    for (k, &t) in at.iter().enumerate() {
        let sweep = ncs_sim::SweepConfig::new(f64::from(RATE), 5.0, 100 + k as u64)
            .generate()
            .unwrap();
        for (j, v) in sweep.clean.iter().enumerate() {
            ch0[t + j - sweep.stimulus_index] += v;
        }
        truths.push(sweep.truth.unwrap());
    }
    let mut rng = Rng(99);
    let mut file: Vec<i16> = ch0
        .iter()
        .flat_map(|v| {
            let noise = (rng.next() % 7) as f64 - 3.0; // ±3 counts ≈ ±2 µV
            let c = (v / VFS * 32768.0 + noise).round().clamp(-32768.0, 32767.0) as i16;
            [c, 0]
        })
        .collect();
    add_pulses(&mut file, &at);
    let _device = with_capture_file(&file);

    let mut cfg = config(VFS, Some(N as u64));
    cfg.trigger = Some(ncs_audio::TriggerSettings::on_channel(1));
    let mut src = AudioSource::open(cfg).unwrap();
    let info = src.info().clone();
    // Live: the processor fed straight from the device's reads.
    let mut live = Processor::new(ProcessorConfig::default(), &info, Vec::new()).unwrap();
    let mut live_out: Vec<Measurement> = Vec::new();
    let mut buf = vec![0f32; 1024 * 2];
    let mut marks = Vec::with_capacity(64);
    loop {
        marks.clear();
        match src.read(&mut buf, &mut marks).unwrap() {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => live.push(
                first_sample,
                &buf[..frames * 2],
                &marks,
                &mut |m: &Measurement| live_out.push(*m),
            ),
            ReadOutcome::Lost { .. } => panic!("no loss expected"),
            ReadOutcome::End => break,
        }
    }
    // Offline: the same processor over the file's samples, stimuli where the pulses are.
    let volts: Vec<f32> = file.iter().map(|&s| full_scale(s) * VFS as f32).collect();
    let mut offline = Processor::new(ProcessorConfig::default(), &info, Vec::new()).unwrap();
    let mut offline_out: Vec<Measurement> = Vec::new();
    for (b, chunk) in volts.chunks(4096 * 2).enumerate() {
        let first = (b * 4096) as u64;
        let end = first + (chunk.len() / 2) as u64;
        let m: Vec<StimulusMark> = at
            .iter()
            .map(|&t| t as u64)
            .filter(|t| (first..end).contains(t))
            .map(|t| StimulusMark::new(t, None))
            .collect();
        offline.push(first, chunk, &m, &mut |x: &Measurement| {
            offline_out.push(*x)
        });
    }
    assert_eq!(live_out.len(), STIMULI, "every stimulus measured");
    assert_eq!(
        live_out, offline_out,
        "live capture measures as the file does"
    );
    for (m, t) in live_out.iter().zip(&truths) {
        let x = m.response.measures;
        assert!(m.response.present, "{m:?}");
        let onset = x.onset_latency_ms.unwrap();
        let peak = x.negative_peak_latency_ms.unwrap();
        let amp = x.negative_peak_amplitude_mv.unwrap();
        println!(
            "stimulus {} at {}: onset {onset:.3} ms (true {:.3}), peak {peak:.3} ms (true {:.3}), amplitude {amp:.3} mV (true {:.3})",
            m.seq, m.sample_index, t.onset_latency_ms, t.negative_peak_latency_ms, t.negative_peak_amplitude_mv
        );
        assert!(
            (onset - t.onset_latency_ms).abs() <= 0.25,
            "onset {onset} vs {}",
            t.onset_latency_ms
        );
        assert!(
            (peak - t.negative_peak_latency_ms).abs() <= 0.1,
            "peak {peak} vs {}",
            t.negative_peak_latency_ms
        );
        assert!(
            (amp - t.negative_peak_amplitude_mv).abs() <= 0.05 * t.negative_peak_amplitude_mv,
            "amplitude {amp} vs {}",
            t.negative_peak_amplitude_mv
        );
    }
    assert_eq!(
        live_out.iter().map(|m| m.sample_index).collect::<Vec<_>>(),
        at.iter().map(|&t| t as u64).collect::<Vec<_>>()
    );
}

#[test]
fn the_test_device_is_listed_with_what_it_supports() {
    let _device = with_capture_file(&[0; 2000]);
    let inputs = list_inputs().unwrap();
    let d = inputs
        .iter()
        .find(|i| i.name == "default")
        .unwrap_or_else(|| panic!("default not in {inputs:?}"));
    assert!(d.is_default);
    assert!(d.formats.iter().any(|f| f == "i16"), "{d}");
    assert!(d.channels.contains(&2), "{d}");
    assert!(d.rates.iter().any(|&(a, b)| a <= RATE && RATE <= b), "{d}");
    assert!(d.default_config.is_some());
    let line = d.to_string();
    assert!(
        line.starts_with("default (default input): default "),
        "{line}"
    );
}

#[test]
fn unknown_inputs_and_unsupported_settings_are_refused_by_name() {
    let _device = with_capture_file(&[0; 2000]);
    let mut cfg = config(1.0, None);
    cfg.device = Some("no-such-input".into());
    let e = AudioSource::open(cfg).err().unwrap();
    assert!(matches!(e, AudioError::NoDevice { .. }), "{e}");
    assert!(e.to_string().contains("\"no-such-input\""), "{e}");
    assert!(e.to_string().contains("inputs: default"), "{e}");

    let mut cfg = config(1.0, None);
    cfg.device = Some("DEFAU".into()); // a part of the name, any case
    cfg.channels = Some(40);
    let e = AudioSource::open(cfg).err().unwrap();
    assert_eq!(
        e.to_string(),
        "audio input \"default\" cannot capture 40 channel(s); it supports 1–32"
    );

    let mut cfg = config(1.0, None);
    cfg.trigger = Some(ncs_audio::TriggerSettings::on_channel(2));
    let e = AudioSource::open(cfg).err().unwrap();
    assert!(e.to_string().contains("trigger channel"), "{e}");

    let mut cfg = config(0.0, None);
    cfg.volts_full_scale = -1.0;
    let e = AudioSource::open(cfg).err().unwrap();
    assert!(e.to_string().contains("volts_full_scale"), "{e}");
}

/// Frames whose two samples encode their own index.
fn indexed(n: u64) -> Vec<i16> {
    (0..n)
        .flat_map(|i| [(i & 0x7fff) as i16, ((i >> 15) & 0x7fff) as i16])
        .collect()
}

#[test]
fn a_stalled_reader_sees_exact_losses() {
    const N: u64 = 200_000;
    let _device = with_capture_file(&indexed(N));
    let mut cfg = config(1.0, None);
    cfg.ring_s = 0.1; // 2000 frames
    let mut src = AudioSource::open(cfg).unwrap();
    let ring = src.ring_frames() as u64;
    assert_eq!(ring, 2_000);
    // The device is not paced: while the reader stalls it fills the ring at once and goes
    // on delivering, so nearly everything it delivers meanwhile is dropped.
    std::thread::sleep(Duration::from_millis(100));
    let mut buf = vec![0f32; 512 * 2];
    let mut marks = Vec::new();
    let mut next = 0u64;
    let (mut delivered, mut lost, mut gaps) = (0u64, 0u64, Vec::new());
    let check = |first: u64, frames: &[f32]| {
        for (k, f) in frames.chunks_exact(2).enumerate() {
            let i = first + k as u64;
            // Past the end of the file the plugin repeats stale buffers: nothing to check.
            if i < N {
                let want = [(i & 0x7fff) as i16, ((i >> 15) & 0x7fff) as i16];
                assert_eq!(
                    [f[0], f[1]],
                    [full_scale(want[0]), full_scale(want[1])],
                    "frame {i}"
                );
            }
        }
    };
    let mut stopped = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the capture did not end");
        if !stopped && gaps.len() >= 5 {
            // Stop the device: what it captured until then is read out, then the end.
            src.stop();
            stopped = true;
        }
        match src.read(&mut buf, &mut marks).unwrap() {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                assert_eq!(first_sample, next);
                check(first_sample, &buf[..frames * 2]);
                next += frames as u64;
                delivered += frames as u64;
            }
            ReadOutcome::Lost {
                first_sample,
                count,
            } => {
                assert_eq!(first_sample, next, "a loss sits where it happened");
                assert!(count > 0);
                gaps.push((first_sample, count));
                next += count;
                lost += count;
            }
            ReadOutcome::End => break,
        }
    }
    assert!(stopped);
    // The first loss starts exactly where the ring was full.
    assert_eq!(gaps[0].0, ring, "{gaps:?}");
    let s = src.stats();
    println!("ring {ring} frames; gaps {gaps:?}; {s:?}");
    assert_eq!(s.frames_delivered, delivered);
    assert_eq!(s.frames_lost, lost, "every dropped frame reported");
    assert_eq!(delivered + lost, s.frames_captured, "nothing unaccounted");
    assert!(s.overruns >= gaps.len() as u64);
}
