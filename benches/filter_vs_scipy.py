#!/usr/bin/env python3
"""Streaming-filter throughput, ncs-dsp vs scipy.signal.sosfilt, on the same coefficients and data.

usage (from the workspace root):
    .venv/bin/python benches/filter_vs_scipy.py [--seconds 10] [--repeats 5]

Builds and runs benches/src/bin/filter_throughput.rs (release profile, -C target-cpu=native so the
8 channels fill AVX-512/AVX2 lanes; --portable builds for baseline x86-64 instead; own target dir
target-bench[-native] unless CARGO_TARGET_DIR is set), then times scipy.signal.sosfilt on a float64 array
of shape (8, n) filtered along the samples axis (axis=-1). The chain is the acquisition chain:
order-4 Butterworth band-pass 2 Hz-3 kHz at 20 kHz (4 sections) + 50 Hz notch (Q 30).
Prints both throughputs (samples of all channels per second) and the ratio; checks the outputs
agree to 1e-9. Target: ratio >= 5.
"""
import argparse, json, os, pathlib, subprocess, sys, tempfile, time
import numpy as np
import scipy.signal as sig

ROOT = pathlib.Path(__file__).resolve().parent.parent
FS, CH = 20_000.0, 8

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0, help="signal length in seconds")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--portable", action="store_true",
                    help="build for baseline x86-64 (SSE2) instead of -C target-cpu=native")
    a = ap.parse_args()
    n = int(a.seconds * FS)
    rng = np.random.default_rng(1)
    t = np.arange(n) / FS
    x = 1e-4 * rng.standard_normal((CH, n)) + 5e-5 * np.sin(2 * np.pi * 50 * t) + 1e-3
    sos = np.vstack([sig.butter(4, [2.0, 3000.0], "bandpass", fs=FS, output="sos"),
                     np.hstack(sig.iirnotch(50.0, 30.0, fs=FS))[None, :]])

    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target-bench"))
    if not a.portable:
        env["RUSTFLAGS"] = (env.get("RUSTFLAGS", "") + " -C target-cpu=native").strip()
        env["CARGO_TARGET_DIR"] += "-native"
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ncs-benches", "--bin", "filter_throughput"],
                   cwd=ROOT, env=env, check=True)
    exe = pathlib.Path(env["CARGO_TARGET_DIR"]) / "release" / "filter_throughput"
    with tempfile.TemporaryDirectory() as d:
        inp, outp = pathlib.Path(d) / "x.f64", pathlib.Path(d) / "y.f64"
        np.ascontiguousarray(x.T).astype("<f8").tofile(inp)         # interleaved frames
        res = json.loads(subprocess.run([str(exe), str(inp), str(outp), str(a.repeats)], check=True,
                                        capture_output=True, text=True).stdout)
        y_rust = np.fromfile(outp, dtype="<f8").reshape(n, CH).T

    assert np.allclose(np.array(res["sections"]), sos, rtol=1e-12, atol=0), "coefficients differ"
    best = float("inf")
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        y = sig.sosfilt(sos, x, axis=-1)
        best = min(best, time.perf_counter() - t0)
    err = np.max(np.abs(y - y_rust))
    assert err <= 1e-9, f"outputs differ by {err}"
    samples = CH * n
    scipy_ms = samples / best / 1e6
    print(f"{CH} channels x {n} samples, {len(sos)} sections, best of {a.repeats}")
    print(f"scipy.signal.sosfilt (f64, axis=-1): {scipy_ms:8.1f} Msamples/s  ({best * 1e3:.1f} ms)")
    for key, label in [("f64", "ncs-dsp f64 interleaved"), ("f32", "ncs-dsp f32 interleaved"),
                       ("channel_at_a_time", "ncs-dsp f64 one channel at a time")]:
        r = res[f"msamples_per_s_{key}"]
        print(f"{label:36s}: {r:8.1f} Msamples/s  ratio to scipy {r / scipy_ms:5.1f}x")
    print(f"max |y_rust - y_scipy| = {err:.2e}")
    ratio = res["msamples_per_s_f64"] / scipy_ms
    build = "portable x86-64" if a.portable else "target-cpu=native"
    print(f"RATIO (ncs-dsp f64 / scipy) = {ratio:.1f}x  (target >= 5x; {build} build)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
