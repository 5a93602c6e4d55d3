//! `ncs devices` and `ncs acquire --source audio:...` against a real ALSA capture device: the
//! `file` plugin reading raw S16_LE frames from a file, chosen with `ALSA_CONFIG_PATH`, which
//! is given to the `ncs` process only.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::root;

const RATE: usize = 20_000;

/// Writes an ALSA configuration whose default PCM captures from `infile`; returns its path.
fn alsa_config(dir: &Path, infile: &Path) -> std::path::PathBuf {
    let conf = dir.join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{\n    type file\n    slave {{ pcm {{ type null }} }}\n    file \"/dev/null\"\n    infile \"{}\"\n    format \"raw\"\n}}\n",
            infile.display()
        ),
    )
    .unwrap();
    conf
}

fn ncs_with_alsa(conf: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ncs"))
        .args(args)
        .env("ALSA_CONFIG_PATH", conf)
        .current_dir(root())
        .output()
        .expect("ncs runs")
}

#[test]
fn devices_lists_the_audio_input_or_says_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let infile = dir.path().join("capture.raw");
    std::fs::write(&infile, vec![0u8; 8000]).unwrap();
    let conf = alsa_config(dir.path(), &infile);
    let out = ncs_with_alsa(&conf, &["devices"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("audio inputs (--source audio:NAME):"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("  default (default input): default "))
        .unwrap_or_else(|| panic!("no default input in {stdout}"));
    assert!(line.contains("channels 1–32"), "{line}");
    assert!(line.contains("i16"), "{line}");

    // An audio system with no device at all: said plainly, and the command still succeeds.
    let empty = dir.path().join("empty.conf");
    std::fs::write(&empty, "").unwrap();
    let out = ncs_with_alsa(&empty, &["devices"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audio inputs: none found"), "{stdout}");
}

#[test]
fn acquire_from_an_audio_input_measures_each_triggered_response() {
    const VFS: f64 = 0.02;
    const FIRST: usize = 1_000;
    const PERIOD: usize = 4_000;
    const STIMULI: usize = 8;
    const N: usize = FIRST + STIMULI * PERIOD + 2_500;
    // Channel 0: a CMAP after each stimulus (ncs-sim, with its true measures) and ±3 counts of
    // noise; channel 1: the stimulator's trigger pulse (0.8 of full scale, 1 ms).
    let at: Vec<usize> = (0..STIMULI).map(|k| FIRST + k * PERIOD).collect();
    let mut emg = vec![0.0f64; N];
    let mut truths = Vec::new();
    for (k, &t) in at.iter().enumerate() {
        let sweep = ncs_sim::SweepConfig::new(RATE as f64, 5.0, 200 + k as u64)
            .generate()
            .unwrap();
        for (j, v) in sweep.clean.iter().enumerate() {
            emg[t + j - sweep.stimulus_index] += v;
        }
        truths.push(sweep.truth.unwrap());
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut frames: Vec<[i16; 2]> = emg
        .iter()
        .map(|v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 7) as f64 - 3.0;
            [
                (v / VFS * 32768.0 + noise).round().clamp(-32768.0, 32767.0) as i16,
                0,
            ]
        })
        .collect();
    for &t in &at {
        for f in &mut frames[t..t + 20] {
            f[1] = 26_214;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let infile = dir.path().join("capture.raw");
    let bytes: Vec<u8> = frames
        .iter()
        .flat_map(|f| f.iter().flat_map(|s| s.to_le_bytes()))
        .collect();
    std::fs::write(&infile, bytes).unwrap();
    let conf = alsa_config(dir.path(), &infile);

    // The test device is not paced (it delivers the file at once, then keeps going), so the
    // ring holds the whole recording and the stream ends after it (`stop_after`).
    let source = format!(
        "audio:default,rate={RATE},channels=2,format=i16,trigger=1,volts_full_scale={VFS},ring_s=5,stop_after={N}"
    );
    let out = ncs_with_alsa(
        &conf,
        &["acquire", "--source", &source, "--seconds", "2", "--json"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ncs acquire failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let responses: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] == "response").collect();
    assert_eq!(responses.len(), STIMULI, "{stdout}");
    for ((r, t), &at) in responses.iter().zip(&truths).zip(&at) {
        let time = r["stimulus_time_s"].as_f64().unwrap();
        assert!((time - at as f64 / RATE as f64).abs() < 1e-9, "{r}");
        assert_eq!(r["present"], true, "{r}");
        assert_eq!(r["channel"], 0, "{r}");
        let onset = r["onset_latency_ms"].as_f64().unwrap();
        let amp = r["negative_peak_amplitude_mv"].as_f64().unwrap();
        assert!(
            (onset - t.onset_latency_ms).abs() <= 0.25,
            "onset {onset} ms, true {} ms",
            t.onset_latency_ms
        );
        assert!(
            (amp - t.negative_peak_amplitude_mv).abs() <= 0.05 * t.negative_peak_amplitude_mv,
            "amplitude {amp} mV, true {} mV",
            t.negative_peak_amplitude_mv
        );
    }
    let link = lines
        .iter()
        .rfind(|l| l["type"] == "link")
        .unwrap_or_else(|| panic!("no link counts in {stdout}"));
    assert_eq!(link["frames_delivered"], N, "{link}");
    assert_eq!(link["frames_captured"], N, "{link}");
    assert_eq!(link["frames_lost"], 0, "{link}");
    assert_eq!(link["stimuli"], STIMULI, "{link}");
    assert!(lines.iter().any(|l| l["type"] == "summary"), "{stdout}");
}
