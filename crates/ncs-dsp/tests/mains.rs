//! mains tests.
