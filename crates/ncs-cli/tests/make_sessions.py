"""Writes sessions for the `ncs` command tests with the real Python clients (pynwb, h5py).

usage: make_sessions.py OUT_DIR

good_pynwb.nwb      int16 TimeSeries with conversion, 2 channels, a stimuli table written by
                    pynwb; channel 1 holds a CMAP (negative peak 4.0 mV) 5 ms after each of 6
                    stimuli, channel 0 only noise.
no_acquisition.nwb  a valid NWB file without any acquisition series.
wrong_dims.nwb      acquisition data of three dimensions.
nan.nwb             float32 data with a NaN at sample 1234.
inf.nwb             float32 data, 2 channels, with -Inf at sample 4321 of channel 1.
stim_outside.nwb    a stimulus 100 s after the end of a 2 s recording.
bad_channel.nwb     a stimulus whose `channel` column names channel 5 of 2.
"""
import sys, uuid, datetime, pathlib
import numpy as np
import h5py
from pynwb import NWBFile, NWBHDF5IO, TimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.file import Subject

FS = 10_000.0
START = datetime.datetime(2026, 1, 2, 9, 0, tzinfo=datetime.timezone.utc)


def nwbfile(name):
    return NWBFile(session_description=f"ncs test session {name}", identifier=str(uuid.uuid4()),
                   session_start_time=START,
                   subject=Subject(subject_id="t", species="Homo sapiens", sex="U", age="P30Y"))


def cmap(n, at, amp_mv):
    """A biphasic, negative-first response starting at sample `at` (volts)."""
    t = (np.arange(n) - at) / FS * 1e3  # ms from onset
    x = np.zeros(n)
    m = t >= 0
    tt = t[m]
    # negative phase peaking at 3 ms, positive phase after
    x[m] = -np.sin(np.pi * np.clip(tt / 6.0, 0, 1)) ** 2 * (tt < 6.0) \
        + 0.4 * np.sin(np.pi * np.clip((tt - 6.0) / 8.0, 0, 1)) ** 2 * (tt >= 6.0) * (tt < 14.0)
    return x * amp_mv * 1e-3


def stimuli(rows, channel=1):
    ti = TimeIntervals(name="stimuli", description="stimuli")
    for col in ["nerve", "side", "site", "modality", "distance_mm", "channel", "intensity_ma"]:
        ti.add_column(name=col, description=col)
    for i, t in enumerate(rows):
        ti.add_row(start_time=t, stop_time=t + 0.0002, nerve="median", side="left",
                   site="wrist" if i < 3 else "elbow", modality="motor",
                   distance_mm=70.0 if i < 3 else 280.0, channel=channel, intensity_ma=20.0 + 5 * (i % 3))
    return ti


def write(path, nwb):
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = int(8 * FS)
    times = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    sig = np.zeros((n, 2))
    sig += rng.normal(0, 10e-6, size=(n, 2))
    for t in times:
        s = int(round(t * FS))
        sig[:, 1] += cmap(n, s + int(0.005 * FS), 4.0)
    conversion = 1e-6  # volts per count: ±32.7 mV full scale
    counts = np.round(sig / conversion).astype("int16")
    nwb = nwbfile("good")
    nwb.add_acquisition(TimeSeries(name="EMG", data=counts, unit="volts", conversion=conversion,
                                   starting_time=0.0, rate=FS, description="two channels"))
    nwb.add_time_intervals(stimuli(times))
    write(out / "good_pynwb.nwb", nwb)

    nwb = nwbfile("no acquisition")
    write(out / "no_acquisition.nwb", nwb)

    nwb = nwbfile("wrong dims")
    nwb.add_acquisition(TimeSeries(name="EMG", data=np.zeros((100, 2, 2), dtype="float32"), unit="volts",
                                   starting_time=0.0, rate=FS))
    write(out / "wrong_dims.nwb", nwb)

    small = rng.normal(0, 10e-6, size=(int(2 * FS),)).astype("float32")
    bad = small.copy()
    bad[1234] = np.nan
    nwb = nwbfile("nan")
    nwb.add_acquisition(TimeSeries(name="EMG", data=bad, unit="volts", starting_time=0.0, rate=FS))
    write(out / "nan.nwb", nwb)

    two = np.stack([small, small], axis=1)
    two[4321, 1] = -np.inf
    nwb = nwbfile("inf")
    nwb.add_acquisition(TimeSeries(name="EMG", data=two, unit="volts", starting_time=0.0, rate=FS))
    write(out / "inf.nwb", nwb)

    nwb = nwbfile("stimulus outside")
    nwb.add_acquisition(TimeSeries(name="EMG", data=small, unit="volts", starting_time=0.0, rate=FS))
    nwb.add_time_intervals(stimuli([0.5, 102.0], channel=0))
    write(out / "stim_outside.nwb", nwb)

    nwb = nwbfile("bad channel")
    nwb.add_acquisition(TimeSeries(name="EMG", data=np.stack([small, small], axis=1), unit="volts",
                                   starting_time=0.0, rate=FS))
    nwb.add_time_intervals(stimuli([0.5], channel=5))
    write(out / "bad_channel.nwb", nwb)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
