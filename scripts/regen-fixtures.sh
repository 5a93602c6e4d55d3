#!/usr/bin/env bash
# Regenerates the sessions in fixtures/ with `ncs simulate` and their expected
# `ncs analyze --format json` output (fixtures/expected/). Run after a deliberate change to the
# simulator or the analysis, and review the diff of fixtures/expected/ before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ncs-cli --locked
ncs="${CARGO_TARGET_DIR:-target}/release/ncs"
mkdir -p fixtures/expected
$ncs simulate median-worked-example --sample-rate 10000 -o fixtures/median-worked-example.nwb
$ncs simulate fixtures/scenarios/ulnar-elbow-and-median-block.toml -o fixtures/ulnar-elbow-and-median-block.nwb
for f in median-worked-example ulnar-elbow-and-median-block; do
    $ncs analyze "fixtures/$f.nwb" --format json > "fixtures/expected/$f.json"
done
echo "regenerated: $(ls fixtures/*.nwb fixtures/expected/*.json | tr '\n' ' ')"
