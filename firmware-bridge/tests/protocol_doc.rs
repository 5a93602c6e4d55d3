//! Keeps PROTOCOL.md's worked example and CRC check values true.

use firmware_bridge::crc::{crc16, crc32c};
use firmware_bridge::{
    encode_command, encode_data_frame, encode_device_info, Command, DataHeader, DeviceInfo,
    SampleFormat, SERIAL_LEN,
};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn protocol_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
        .expect("PROTOCOL.md next to Cargo.toml")
}

#[test]
fn crc_check_values_match_the_catalogue() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

/// The example data frame of PROTOCOL.md: 2 channels, i24, 2 sample-frames, sequence 7,
/// first sample 1000, a stimulus at offset 1, channel 1 saturated.
pub fn example_data_frame() -> Vec<u8> {
    let mut h = DataHeader::new(7, 1000, 2, SampleFormat::I24);
    h.marks.push(1);
    h.saturation = 0b10;
    let mut out = [0u8; 64];
    let n = encode_data_frame(&h, &[1, -1, 8_388_607, -8_388_608], &mut out).expect("fits");
    out[..n].to_vec()
}

/// The example device information of PROTOCOL.md: an amplifier without a stimulator.
pub fn example_device_info() -> Vec<u8> {
    let mut serial = [0u8; SERIAL_LEN];
    serial[..9].copy_from_slice(b"VAMP-0001");
    let info = DeviceInfo {
        channels: 1,
        max_channels: 8,
        format: SampleFormat::I24,
        sample_rate_hz: 20_000,
        samples_per_frame: 20,
        firmware_version: (0, 1, 0),
        gain: 1000.0,
        volts_per_count: 2e-8,
        serial,
        stimulator: false,
    };
    let mut out = [0u8; 64];
    let n = encode_device_info(0x0005, &info, &mut out).expect("fits");
    out[..n].to_vec()
}

#[test]
fn worked_examples_in_protocol_md_are_current() {
    let doc = protocol_md();
    let data = hex(&example_data_frame());
    assert!(
        doc.contains(&data),
        "PROTOCOL.md must contain the example data frame:\n{data}"
    );
    let mut out = [0u8; 32];
    let n = encode_command(0x0102, &Command::Ping { token: 0x0403_0201 }, &mut out).expect("fits");
    let ping = hex(&out[..n]);
    assert!(
        doc.contains(&ping),
        "PROTOCOL.md must contain the example ping:\n{ping}"
    );
    let info = hex(&example_device_info());
    assert!(
        doc.contains(&info),
        "PROTOCOL.md must contain the example device information:\n{info}"
    );
}
