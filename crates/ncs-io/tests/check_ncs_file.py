"""Checks a session written by ncs with the real Python clients.

Usage: python check_ncs_file.py FILE.nwb EXPECT.json

EXPECT.json: {"series", "rate", "shape", "expected_bin" (float64 volts, interleaved),
"stimuli": [{column: value}], "tables": {name: {column: [values]}}}.
Exits 1 with a message on the first mismatch; prints "OK" and inspector counts otherwise.
"""
import json
import math
import sys
import warnings

import h5py
import numpy as np
import pynwb
from nwbinspector import inspect_nwbfile
from pynwb import NWBHDF5IO

path, expect_path = sys.argv[1], sys.argv[2]
exp = json.load(open(expect_path))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b


warnings.simplefilter("ignore")
with NWBHDF5IO(path, "r", load_namespaces=True) as io:
    f = io.read()
    s = f.acquisition[exp["series"]]
    if not math.isclose(s.rate, exp["rate"]):
        fail(f"rate {s.rate} != {exp['rate']}")
    if s.unit != "volts":
        fail(f"unit {s.unit}")
    data = np.asarray(s.data[:])
    if list(data.shape) != exp["shape"]:
        fail(f"shape {data.shape} != {exp['shape']}")
    volts = data.astype(np.float64) * s.conversion + s.offset
    want = np.fromfile(exp["expected_bin"], dtype="<f8").reshape(data.shape)
    if not np.allclose(volts, want, rtol=0, atol=1e-12 + 0.5 * s.conversion):
        fail(f"data differ, max |d| = {np.max(np.abs(volts - want))}")
    if f.subject is None:
        fail("no subject")
    st = f.intervals["stimuli"]
    df = st.to_dataframe()
    if len(df) != len(exp["stimuli"]):
        fail(f"stimuli rows {len(df)} != {len(exp['stimuli'])}")
    for i, row in enumerate(exp["stimuli"]):
        for k, v in row.items():
            got = df.iloc[i][k]
            got = got.item() if hasattr(got, "item") else got
            if not same(got, v):
                fail(f"stimuli row {i} column {k}: {got!r} != {v!r}")
    mod = f.processing["ncs"]
    for tname, cols in exp["tables"].items():
        t = mod[tname]
        for c, vals in cols.items():
            got = list(t[c].data[:])
            got = [g.item() if hasattr(g, "item") else g for g in got]
            if len(got) != len(vals) or not all(same(a, b) for a, b in zip(got, vals)):
                fail(f"table {tname} column {c}: {got!r} != {vals!r}")

errors = list(pynwb.validate(paths=[path])) if "paths" in pynwb.validate.__doc__ else list(pynwb.validate(path=path))
if errors:
    fail(f"pynwb.validate: {errors}")
levels = {}
msgs = []
for m in inspect_nwbfile(nwbfile_path=path):
    levels[m.importance.name] = levels.get(m.importance.name, 0) + 1
    if m.importance.name in ("CRITICAL", "ERROR"):
        msgs.append(f"{m.importance.name} {m.check_function_name}: {m.message}")
if msgs:
    fail("nwbinspector: " + "; ".join(msgs))
with h5py.File(path, "r") as h:
    d = h[f"acquisition/{exp['series']}/data"]
    if list(d.shape) != exp["shape"]:
        fail(f"h5py shape {d.shape}")
    d[...]
print("OK", json.dumps(levels))
