//! Integration tests for ncs-runtime.
