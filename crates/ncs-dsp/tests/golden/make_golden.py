#!/usr/bin/env python3
"""Golden filter values from scipy for the ncs-dsp tests.

Regenerate (from the workspace root):
    .venv/bin/python crates/ncs-dsp/tests/golden/make_golden.py
It overwrites crates/ncs-dsp/tests/golden/filters.json next to this script.

Cases: Butterworth lowpass/highpass/bandpass, orders 1..8, at several sample rates and corners
(`scipy.signal.butter(N, Wn, btype, fs=fs, output="sos")`); `scipy.signal.iirnotch(f0, Q, fs)`;
`scipy.signal.sosfreqz` at a few frequencies (to check the Rust response evaluator);
`scipy.signal.sosfiltfilt(sos, x)` on seeded signals.
"""
import json, pathlib
import numpy as np
import scipy
import scipy.signal as sig

FS = [4000.0, 5000.0, 10000.0, 20000.0, 44100.0, 48000.0]
CORNERS = [2.0, 10.0, 500.0, 1000.0, 3000.0, 10000.0]

out = {"scipy_version": scipy.__version__, "butter": [], "notch": [], "freqz": [], "filtfilt": []}
for fs in FS:
    ok = [c for c in CORNERS if c < fs / 2]
    for n in range(1, 9):
        for c in ok:
            for bt in ("lowpass", "highpass"):
                sos = sig.butter(n, c, bt, fs=fs, output="sos")
                out["butter"].append(dict(fs=fs, order=n, btype=bt, wn=[c], sos=sos.tolist()))
        for i, lo in enumerate(ok):
            for hi in ok[i + 1:]:
                sos = sig.butter(n, [lo, hi], "bandpass", fs=fs, output="sos")
                out["butter"].append(dict(fs=fs, order=n, btype="bandpass", wn=[lo, hi], sos=sos.tolist()))
    for f0 in (50.0, 60.0):
        for q in (5.0, 30.0, 35.0):
            b, a = sig.iirnotch(f0, q, fs=fs)
            out["notch"].append(dict(fs=fs, f0=f0, q=q, b=b.tolist(), a=a.tolist()))

freqs = [1.0, 2.0, 50.0, 60.0, 333.0, 1000.0, 2999.0]
for case in out["butter"][::97]:
    f = [x for x in freqs if x < case["fs"] / 2]
    w, h = sig.sosfreqz(np.array(case["sos"]), worN=f, fs=case["fs"])
    # Reference in x87 extended precision (64-bit mantissa): scipy's float64 evaluation itself
    # loses ~1e-9 near DC for 2 Hz corners (poles within 1e-3 of z = 1).
    ld = np.longdouble
    sos = np.array(case["sos"], dtype=ld)
    wl = 2 * ld(np.pi) * np.array(f, dtype=ld) / ld(case["fs"])
    zr, zi = np.cos(wl), -np.sin(wl)
    def poly(c0, c1, c2):
        z2r, z2i = zr * zr - zi * zi, 2 * zr * zi
        return c0 + c1 * zr + c2 * z2r, c1 * zi + c2 * z2i
    hr, hi = np.ones(len(f), dtype=ld), np.zeros(len(f), dtype=ld)
    for s_ in sos:
        br, bi = poly(*s_[:3]); ar, ai = poly(*s_[3:])
        den = ar * ar + ai * ai
        qr, qi = (br * ar + bi * ai) / den, (bi * ar - br * ai) / den
        hr, hi = hr * qr - hi * qi, hr * qi + hi * qr
    out["freqz"].append(dict(sos=case["sos"], fs=case["fs"], f=f, re=h.real.tolist(), im=h.imag.tolist(),
                             re_ld=[float(v) for v in hr], im_ld=[float(v) for v in hi]))

rng = np.random.default_rng(20240607)
for fs, spec in [(5000.0, (4, [2.0, 1000.0], "bandpass")), (20000.0, (2, [2.0, 3000.0], "bandpass")),
                 (10000.0, (3, 500.0, "lowpass")), (4000.0, (5, 10.0, "highpass"))]:
    sos = sig.butter(spec[0], spec[1], spec[2], fs=fs, output="sos")
    t = np.arange(600) / fs
    x = 0.3 + np.sin(2 * np.pi * 37.0 * t) + 0.5 * rng.standard_normal(600)
    y = sig.sosfiltfilt(sos, x)
    out["filtfilt"].append(dict(fs=fs, sos=sos.tolist(), x=x.tolist(), y=y.tolist(), zi=sig.sosfilt_zi(sos).tolist()))
# a chained band-pass + notch, as the acquisition chain uses it
sos = np.vstack([sig.butter(2, [2.0, 1000.0], "bandpass", fs=5000.0, output="sos"),
                 np.hstack(sig.iirnotch(50.0, 30.0, fs=5000.0))[None, :]])
x = rng.standard_normal(400)
out["filtfilt"].append(dict(fs=5000.0, sos=sos.tolist(), x=x.tolist(), y=sig.sosfiltfilt(sos, x).tolist(),
                            zi=sig.sosfilt_zi(sos).tolist()))

path = pathlib.Path(__file__).with_name("filters.json")
path.write_text(json.dumps(out, separators=(",", ":")))
print(f"wrote {path}: {len(out['butter'])} butter, {len(out['notch'])} notch, "
      f"{len(out['freqz'])} freqz, {len(out['filtfilt'])} filtfilt cases")
