//! A real ALSA capture device with no sound card: the `file` plugin over the `null` plugin,
//! reading raw S16_LE frames from a file the test writes.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Sample rate of the test recordings (Hz).
pub const RATE: u32 = 20_000;

/// The ALSA configuration: the default PCM captures from `infile`.
pub fn alsa_config(infile: &std::path::Path) -> String {
    format!(
        r#"pcm.!default {{
    type file
    slave {{ pcm {{ type null }} }}
    file "/dev/null"
    infile "{}"
    format "raw"
}}
"#,
        infile.display()
    )
}

struct Device {
    infile: PathBuf,
}

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ncs-audio-alsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let infile = dir.join("capture.raw");
        let conf = dir.join("asound.conf");
        std::fs::write(&conf, alsa_config(&infile)).unwrap();
        // alsa-lib reads ALSA_CONFIG_PATH again at every device open, so it need not be set
        // before the process starts; it is set here once, before this binary's first ALSA
        // call (every ALSA test comes through this function first), and never changed.
        std::env::set_var("ALSA_CONFIG_PATH", &conf);
        Device { infile }
    })
}

/// Holds the test device for one test (the tests share it, one at a time), its capture file
/// holding `frames` (interleaved i16).
pub fn with_capture_file(frames: &[i16]) -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let d = device();
    let bytes: Vec<u8> = frames.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&d.infile, bytes).unwrap();
    guard
}

/// The f32 an i16 sample becomes (±1 full scale).
pub fn full_scale(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
