"""Prints the shape and the sum of an HDF5 dataset read with h5py.

Usage: python h5py_read.py FILE DATASET [--swmr]
"""
import sys

import h5py

swmr = "--swmr" in sys.argv
with h5py.File(sys.argv[1], "r", libver="latest" if swmr else None, swmr=swmr) as f:
    d = f[sys.argv[2]]
    print(list(d.shape), float(d[...].astype("float64").sum()))
