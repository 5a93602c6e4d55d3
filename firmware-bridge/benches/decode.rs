//! Decoder throughput: 8 channels × 20 kHz, i24, 1 ms frames (518 bytes each), fed in 4 KiB
//! reads as a serial port would deliver them; every frame's samples are copied out.
//! `cargo test` builds this with tiny inputs (debug assertions on); `cargo bench` measures.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use firmware_bridge::{encode_data_frame, DataHeader, Decoder, Frame, SampleFormat};
use std::hint::black_box;

#[cfg(debug_assertions)]
const FRAMES: usize = 8;
#[cfg(not(debug_assertions))]
const FRAMES: usize = 2000;

fn stream(format: SampleFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut out = vec![0u8; 1024];
    let mut samples = [0i32; 160];
    for f in 0..FRAMES {
        for (i, s) in samples.iter_mut().enumerate() {
            *s = (((f * 160 + i) as i64 * 7919) % 30_000 - 15_000) as i32;
        }
        let h = DataHeader::new(f as u32, (f * 20) as u64, 8, format);
        let n = encode_data_frame(&h, &samples, &mut out).expect("valid frame");
        bytes.extend_from_slice(&out[..n]);
    }
    bytes
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, format) in [
        ("i24_8ch", SampleFormat::I24),
        ("i16_8ch", SampleFormat::I16),
    ] {
        let bytes = stream(format);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            let mut dec = Box::new(Decoder::new());
            let mut out = [0i32; 160];
            b.iter(|| {
                let mut frames = 0usize;
                for chunk in bytes.chunks(4096) {
                    dec.feed(chunk, |r| {
                        if let Ok(Frame::Data(d)) = r {
                            frames += d.samples_into(&mut out).unwrap_or(0);
                        }
                    });
                }
                black_box((frames, out[0]))
            });
            assert_eq!(dec.stats().crc_failures(), 0);
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
