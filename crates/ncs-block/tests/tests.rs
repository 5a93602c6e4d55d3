//! Integration tests of `ncs-block` (one binary, modules below).

mod common;
mod contract;
mod criteria_sets;
mod patient;
mod segments;
mod streaming;
mod study;
mod supramaximal;
