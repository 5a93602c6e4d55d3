//! The examiner's workflow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod exam;
