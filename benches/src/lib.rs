//! Benchmark helpers shared by the benches.
