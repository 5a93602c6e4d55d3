//! trigger tests.
