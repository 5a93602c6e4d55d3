//! filter tests.
