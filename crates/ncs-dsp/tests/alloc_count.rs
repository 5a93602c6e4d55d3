//! alloc_count tests.
