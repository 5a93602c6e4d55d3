//! Integration tests of `ncs-block` (one binary, modules below).

mod common;
mod contract;
mod criteria_sets;
mod graded_measure;
mod lab_criteria;
mod long_segments;
mod patient;
mod segments;
mod streaming;
mod study;
mod supramaximal;
