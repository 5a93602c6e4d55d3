#!/usr/bin/env bash
# Runs every check ncs has: formatting, lints, the no_std build of the wire protocol, and the
# whole test suite (Rust tests, and interoperability tests against h5py, pynwb and nwbinspector
# from ./.venv). Installs what is missing first (scripts/setup.sh --python).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
export NCS_PYTHON="$PWD/.venv/bin/python"
# The tests run Python clients and probes as child processes while other tests in the same
# process hold HDF5 files open; a child inherits those descriptors, and with them HDF5's lock
# on the file, so a later open of that file in the parent fails ("unable to lock file").
# `ncs` itself starts no child processes; only the tests need the locks off.
export HDF5_USE_FILE_LOCKING=FALSE
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== firmware-bridge without std"
cargo build -p firmware-bridge --no-default-features --locked
echo "== cargo test"
cargo test --workspace --locked
# The criterion benches once each on tiny inputs (debug build): they keep compiling and their
# checks hold (about 45 s more, mostly building criterion; `benches/run.sh` gives the figures).
echo "== cargo test --benches"
cargo test --workspace --benches --locked
