//! sweep tests.
