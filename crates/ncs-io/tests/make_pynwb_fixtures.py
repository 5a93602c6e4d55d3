"""Writes NWB sessions in the ncs profile with pynwb (and h5py for odd column types).

Usage: python make_pynwb_fixtures.py OUTDIR

For each file NAME.nwb it writes NAME.expected.bin: the physical values (volts) as
little-endian float64, frames interleaved, computed here with numpy, which ncs must match.
"""
import sys
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.ecephys import ElectricalSeries
from pynwb.file import Subject

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)


def nwbfile(ident):
    return NWBFile(
        session_description="fixture " + ident,
        identifier=ident,
        session_start_time=datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc),
        subject=Subject(subject_id="s1", species="Homo sapiens", sex="F", age="P40Y"),
    )


def save(name, f, expected):
    with NWBHDF5IO(str(out / f"{name}.nwb"), "w") as io:
        io.write(f)
    np.asarray(expected, dtype="<f8").tofile(out / f"{name}.expected.bin")


def add_stimuli(f, n_rows, t_max):
    f.add_time_intervals(
        __import__("pynwb").epoch.TimeIntervals(name="stimuli", description="stimuli")
    )
    tab = f.intervals["stimuli"]
    tab.add_column("nerve", "nerve")
    tab.add_column("side", "side")
    tab.add_column("site", "site")
    tab.add_column("modality", "motor or sensory")
    tab.add_column("distance_mm", "distance")
    tab.add_column("channel", "channel")
    tab.add_column("intensity_ma", "intensity")
    for i in range(n_rows):
        t = t_max * (i + 1) / (n_rows + 1)
        tab.add_row(
            start_time=t, stop_time=t + 0.0002, nerve="ulnar", side="left",
            site=["wrist", "below elbow", "above elbow"][i % 3], modality="motor",
            distance_mm=float("nan") if i == 0 else 70.0 * i, channel=i % 2,
            intensity_ma=10.0 + i,
        )


# 1. TimeSeries, float64, (samples,), rate, starting_time 0.5
x = np.sin(np.arange(3000) / 17.0) * 1e-3
f = nwbfile("ts_f64_1d")
f.add_acquisition(TimeSeries(name="EMG", data=x, unit="volts", rate=1000.0, starting_time=0.5))
save("ts_f64_1d", f, x)

# 2. ElectricalSeries, int16 counts with conversion, (samples, channels) and a stimuli table
counts = rng.integers(-30000, 30000, size=(5000, 2), dtype=np.int16)
f = nwbfile("es_i16_2d")
dev = f.create_device("amp")
grp = f.create_electrode_group("emg", description="emg", location="APB", device=dev)
for c in range(2):
    f.add_electrode(group=grp, location="APB")
region = f.create_electrode_table_region([0, 1], "channels")
f.add_acquisition(ElectricalSeries(name="EMG", data=counts, electrodes=region, rate=2000.0, conversion=1e-7))
add_stimuli(f, 6, 2.5)
save("es_i16_2d", f, counts.astype(np.float64) * 1e-7)

# 3. ElectricalSeries, float32 with channel_conversion and offset
d = (rng.standard_normal((4000, 3)) * 1e-4).astype(np.float32)
cc = np.array([1.0, 2.0, 0.5], dtype=np.float32)
f = nwbfile("es_f32_cc")
dev = f.create_device("amp")
grp = f.create_electrode_group("emg", description="emg", location="APB", device=dev)
for c in range(3):
    f.add_electrode(group=grp, location="APB")
region = f.create_electrode_table_region([0, 1, 2], "channels")
f.add_acquisition(ElectricalSeries(name="EMG", data=d, electrodes=region, rate=4000.0,
                                   channel_conversion=cc, conversion=1.0, offset=1e-3))
save("es_f32_cc", f, d.astype(np.float64) * (1.0 * cc.astype(np.float64)) + 1e-3)

# 4. TimeSeries int32 (samples, channels) timed by regular timestamps; two series
d = rng.integers(-100000, 100000, size=(2500, 2), dtype=np.int32)
ts = 2.0 + np.arange(2500) / 5000.0
f = nwbfile("ts_i32_timestamps")
f.add_acquisition(TimeSeries(name="EMG", data=d, unit="volts", timestamps=ts, conversion=2e-6))
f.add_acquisition(TimeSeries(name="Other", data=np.zeros(10), unit="volts", rate=10.0))
save("ts_i32_timestamps", f, d.astype(np.float64) * 2e-6)

# 5. irregular timestamps: a 3-step jump after index 36
ts = np.arange(100) / 1000.0
ts[37:] += 0.003
f = nwbfile("ts_irregular")
f.add_acquisition(TimeSeries(name="EMG", data=np.zeros(100), unit="volts", timestamps=ts))
save("ts_irregular", f, np.zeros(100))

# 5b. timestamps as other recorders store them: 44.1 kHz rounded to 1 µs, and float32 at
#     10 kHz; data in millivolts
x = rng.normal(size=4410)
ts = np.round((7.0 + np.arange(4410) / 44100.0) * 1e6) / 1e6
f = nwbfile("ts_rounded_us")
f.add_acquisition(TimeSeries(name="EMG", data=x, unit="volts", timestamps=ts))
save("ts_rounded_us", f, x)
x = rng.normal(size=3000)
ts32 = (0.5 + np.arange(3000) / 10000.0).astype(np.float32)
f = nwbfile("ts_float32")
f.add_acquisition(TimeSeries(name="EMG", data=x, unit="volts", timestamps=ts32))
save("ts_float32", f, x)
x = rng.normal(size=1000)
f = nwbfile("unit_mv")
f.add_acquisition(TimeSeries(name="EMG", data=x, unit="mV", rate=10000.0))
save("unit_mv", f, x * 1e-3)

# 6. A stimuli table written by another tool: fixed-length ASCII strings, numbers stored as
#    strings and ints, columns missing (side, modality).
x = np.zeros(1000)
f = nwbfile("odd_stimuli")
f.add_acquisition(TimeSeries(name="EMG", data=x, unit="volts", rate=1000.0))
save("odd_stimuli", f, x)
with h5py.File(out / "odd_stimuli.nwb", "a") as h:
    g = h.require_group("intervals").create_group("stimuli")
    g.attrs["namespace"] = "core"
    g.attrs["neurodata_type"] = "TimeIntervals"
    g.attrs["description"] = "stimuli from another tool"
    cols = {
        "start_time": np.array([0.1, 0.2, 0.3]),
        "stop_time": np.array([0.1, 0.2, 0.3]),
        "nerve": np.array([b"median", b"median", b"ulnar"], dtype="S8"),
        "site": np.array(["wrist", "elbow", ""], dtype=h5py.string_dtype("ascii")),
        "distance_mm": np.array([b"70", b"nan", b"250.5"], dtype="S5"),
        "channel": np.array([0, -1, 0], dtype=np.int32),
        "intensity_ma": np.array([5, 10, 20], dtype=np.int64),
    }
    g.attrs["colnames"] = [c for c in cols if c != "id"]
    for name, v in cols.items():
        ds = g.create_dataset(name, data=v)
        ds.attrs["namespace"] = "hdmf-common"
        ds.attrs["neurodata_type"] = "VectorData"
        ds.attrs["description"] = name
    ids = g.create_dataset("id", data=np.arange(3))
    ids.attrs["namespace"] = "hdmf-common"
    ids.attrs["neurodata_type"] = "ElementIdentifiers"
print("ok")
