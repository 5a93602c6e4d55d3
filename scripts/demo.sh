#!/usr/bin/env bash
# The main job on the built-in simulated amplifier (no hardware needed): a simulated
# multifocal-motor-neuropathy study through filtering, measurement and conduction-block grading.
# Installs the system libraries the build needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --release --locked -p ncs-cli --bin ncs -- demo "$@"
