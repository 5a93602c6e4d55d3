"""`ncs analyze` against h5py reading the same data, side by side.

usage: .venv/bin/python benches/analyze_vs_h5py.py [--minutes 10] [--channels 8] [--rate 20000]

Writes a session of the given size (float32 volts, 1 Hz stimuli with CMAPs on every channel,
a stimuli table) with pynwb into a temporary folder, builds `ncs` (release), then times, in
alternation and best of three each: h5py reading the whole acquisition dataset into memory,
and `ncs analyze --format json`. Prints both times and their ratio (target: analyze ≤ 2× the
read).
"""
import argparse, datetime, os, pathlib, subprocess, sys, tempfile, time, uuid
import numpy as np
import h5py
from pynwb import NWBFile, NWBHDF5IO, TimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.file import Subject
from hdmf.data_utils import DataChunkIterator

ROOT = pathlib.Path(__file__).resolve().parent.parent


def frames(n, ch, fs, block=200_000, seed=1):
    """Yields float32 blocks (block, ch): 10 µV noise, a 5 mV CMAP 4 ms after each second."""
    rng = np.random.default_rng(seed)
    t_resp = np.arange(int(0.02 * fs)) / fs * 1e3
    cmap = (-5e-3 * np.sin(np.pi * np.clip(t_resp / 8.0, 0, 1)) ** 2).astype(np.float32)
    for start in range(0, n, block):
        m = min(block, n - start)
        x = rng.normal(0, 10e-6, size=(m, ch)).astype(np.float32)
        for s in range(int(np.ceil(start / fs)), int((start + m) / fs) + 1):
            a = int(s * fs + 0.004 * fs) - start
            lo, hi = max(a, 0), min(a + len(cmap), m)
            if lo < hi:
                x[lo:hi] += cmap[lo - a:hi - a, None]
        yield x


def write(path, minutes, ch, fs):
    n = int(minutes * 60 * fs)
    nwb = NWBFile(session_description="ncs analyze benchmark", identifier=str(uuid.uuid4()),
                  session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                  subject=Subject(subject_id="b", species="Homo sapiens", sex="U", age="P30Y"))
    data = DataChunkIterator(data=(row for blk in frames(n, ch, fs) for row in blk), buffer_size=200_000,
                             maxshape=(n, ch), dtype=np.dtype("float32"))
    nwb.add_acquisition(TimeSeries(name="EMG", data=data, unit="volts", starting_time=0.0, rate=float(fs)))
    ti = TimeIntervals(name="stimuli", description="stimuli")
    for col in ["nerve", "side", "site", "modality", "distance_mm", "channel", "intensity_ma"]:
        ti.add_column(name=col, description=col)
    for s in range(1, int(n / fs) - 1):
        ti.add_row(start_time=float(s), stop_time=s + 0.0002, nerve="median", side="right",
                   site="wrist" if s % 2 else "elbow", modality="motor",
                   distance_mm=70.0 if s % 2 else 290.0, channel=s % ch, intensity_ma=30.0)
    nwb.add_time_intervals(ti)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--rate", type=float, default=20_000.0)
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    subprocess.run(["cargo", "build", "--release", "-p", "ncs-cli", "--bin", "ncs"], cwd=ROOT, check=True)
    ncs = pathlib.Path(target) / "release" / "ncs"
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "bench.nwb"
        t0 = time.perf_counter()
        write(path, args.minutes, args.channels, args.rate)
        print(f"wrote {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        def h5py_read():
            with h5py.File(path, "r") as f:
                x = f["acquisition/EMG/data"][:]
            return x.shape

        def analyze():
            out = subprocess.run([str(ncs), "analyze", str(path), "--format", "json"], capture_output=True, check=True)
            return len(out.stdout)

        times = {"h5py read": [], "ncs analyze": []}
        for _ in range(3):
            for name, fn in (("h5py read", h5py_read), ("ncs analyze", analyze)):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        best = {k: min(v) for k, v in times.items()}
        samples = args.minutes * 60 * args.rate * args.channels
        for k, v in best.items():
            print(f"{k:12s} {v:7.3f} s  ({samples / v / 1e6:.0f} M samples/s)")
        ratio = best['ncs analyze'] / best['h5py read']
        print(f"ratio analyze / read: {ratio:.2f} (target <= 2)")
        size = f"{args.minutes:g} min x {args.channels} ch x {args.rate / 1e3:g} kHz"
        print(f"{'PASS' if ratio <= 2 else 'FAIL'} ncs analyze on {size}: {ratio:.2f}x the time h5py takes "
              f"to read the data (target <= 2x)")


if __name__ == "__main__":
    main()
