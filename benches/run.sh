#!/usr/bin/env bash
# Builds release and runs every speed benchmark of ncs, printing each target with its measured
# figure and PASS/FAIL, then all verdicts together at the end:
#   - benches/filter_vs_scipy.py   streaming filter vs scipy.signal.sosfilt (>= 5x)
#   - cargo bench --bench measure  one sweep, 10 ms baseline + 50 ms window at 20 kHz (< 20 µs)
#   - cargo bench --bench filter   criterion numbers of the streaming filter (no target)
#   - cargo bench --bench pipeline max-speed throughput (>= 200 M channel-samples/s) and the
#                                  real-time-pace latency (p99 <= 1 ms) and CPU (<= 5 %)
#   - benches/analyze_vs_h5py.py   `ncs analyze` on 10 min x 8 ch x 20 kHz (<= 2x h5py's read)
#
# usage: benches/run.sh [--quick]
#   --quick: shorter runs (1-minute session for analyze, 5 s real-time pace, short criterion
#            measurement times); the figures are noisier.
# Timings on a shared machine are noisy: each comparison runs its two sides in alternation and
# keeps the best of each, and the verdicts are on ratios where a ratio is the target.
# Python: $NCS_PYTHON, else ./.venv/bin/python (scripts/setup.sh --python makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${NCS_PYTHON:-$PWD/.venv/bin/python}"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
log="$(mktemp -t ncs-bench.XXXXXX)"
trap 'rm -f "$log"' EXIT

run() {
    echo "== $*"
    "$@" 2>&1 | tee -a "$log"
}

echo "== cargo build --release"
cargo build --release --locked -p ncs-cli --bin ncs
cargo build --release --locked -p ncs-benches --bin filter_throughput

if ((quick)); then
    crit=(--warm-up-time 1 --measurement-time 2)
    minutes=1
    rt_seconds=5
else
    crit=()
    minutes=10
    rt_seconds=30
fi

run "$PY" benches/filter_vs_scipy.py
run cargo bench --locked -p ncs-benches --bench measure -- "${crit[@]}"
run cargo bench --locked -p ncs-benches --bench filter -- "${crit[@]}"
NCS_RT_SECONDS=$rt_seconds run cargo bench --locked -p ncs-benches --bench pipeline -- "${crit[@]}"
run "$PY" benches/analyze_vs_h5py.py --minutes "$minutes"

echo
echo "== targets"
grep -E '^(PASS|FAIL) ' "$log" || true
if grep -qE '^FAIL ' "$log"; then
    exit 1
fi
