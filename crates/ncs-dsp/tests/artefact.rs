//! artefact tests.
