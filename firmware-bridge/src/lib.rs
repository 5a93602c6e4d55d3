//! firmware-bridge
#![no_std]
