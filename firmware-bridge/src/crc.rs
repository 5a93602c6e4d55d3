//! The two checksums of the protocol.
//!
//! The header check is short because it guards only six bytes; its job is to make a corrupted
//! length field harmless. The frame check is CRC-32C because it detects every burst of up to 32
//! bits and every odd number of flipped bits, which is what a noisy UART or a dropped USB packet
//! produces.

use crc::{Crc, Table, CRC_16_IBM_3740, CRC_32_ISCSI};

/// CRC-16/IBM-3740 (a.k.a. CRC-16/CCITT-FALSE): poly 0x1021, init 0xFFFF, not reflected,
/// xorout 0. Check value over ASCII `123456789` is 0x29B1.
const HEADER: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// CRC-32C (Castagnoli, iSCSI): poly 0x1EDC6F41, init 0xFFFFFFFF, reflected in and out,
/// xorout 0xFFFFFFFF. Check value over ASCII `123456789` is 0xE3069283.
const FRAME: Crc<u32, Table<LANES>> = Crc::<u32, Table<LANES>>::new(&CRC_32_ISCSI);

/// Slice-by-16 tables (16 KiB) with `fast-crc`, for the host; one 1 KiB table otherwise, for
/// small microcontrollers.
#[cfg(feature = "fast-crc")]
const LANES: usize = 16;
#[cfg(not(feature = "fast-crc"))]
const LANES: usize = 1;

/// CRC-16/IBM-3740 of `bytes` (the header check).
pub fn crc16(bytes: &[u8]) -> u16 {
    HEADER.checksum(bytes)
}

/// CRC-32C of `bytes` (the frame check).
pub fn crc32c(bytes: &[u8]) -> u32 {
    FRAME.checksum(bytes)
}
