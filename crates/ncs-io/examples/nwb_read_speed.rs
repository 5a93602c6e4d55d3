//! Writes (once) a 10-min 8-channel 20 kHz float32 session and times a full read.
//!
//! Usage: `cargo run --release -p ncs-io --example nwb_read_speed -- <path>`; compare with
//! `python -c "import h5py,time; f=h5py.File(P); t=time.time(); f['acquisition/EMG/data'][:]; print(time.time()-t)"`.

use std::time::Instant;

use ncs_io::{Session, SessionMeta, SessionWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: nwb_read_speed <path>")?;
    let (ch, rate, secs) = (8usize, 20_000.0, 600usize);
    let frames = secs * rate as usize;
    if !std::path::Path::new(&path).exists() {
        let names: Vec<String> = (0..ch).map(|c| format!("ch{c}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut meta = SessionMeta::new("speed", "read speed", "2024-01-01T00:00:00Z", rate, &refs);
        meta.swmr = false;
        meta.chunk_frames = 16_384;
        meta.subject.age = Some("P40Y".into());
        let t = Instant::now();
        let mut w = SessionWriter::create(&path, &meta)?;
        let block: Vec<f32> = (0..20_000 * ch)
            .map(|i| (i as f32 * 1e-3).sin() * 1e-3)
            .collect();
        for _ in 0..frames / 20_000 {
            w.append_frames(&block)?;
        }
        w.finish()?;
        eprintln!("write: {:.2} s", t.elapsed().as_secs_f64());
    }
    let s = Session::open(&path, None)?;
    let n = s.info().n_samples as usize;
    let mut out = vec![0.0f64; n * ch];
    for _ in 0..3 {
        let t = Instant::now();
        s.read_frames(0, n, &mut out)?;
        println!(
            "full read of {n} frames x {ch} ch: {:.3} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
