//! `PORT[,key=value…]`: which amplifier format a serial port carries and how to read it, as
//! `ncs acquire --source serial:…` takes it.
//!
//! | key | formats | default | meaning |
//! |---|---|---|---|
//! | `format` | all | `ncs` | `ncs` (the ncs wire protocol), `byb` (Backyard Brains), `text` (lines of integers) |
//! | `baud` | all | 3 000 000 (ncs), 222 222 (byb), 115 200 (text) | line rate (ignored by USB CDC and pseudo-terminals) |
//! | `channels` | byb, text | 1 | values per frame |
//! | `bits` | byb | 10 | ADC resolution (10..=14) |
//! | `volts_per_count` | byb, text | byb: 5 V / 1024 / 600 ≈ 8.138 µV; text: 5 V / 1024 / 1000 ≈ 4.883 µV | scale at the electrodes |
//! | `offset` | text | 512 | count that means 0 V |
//! | `rate` | byb, text | 10 000 Hz (byb), 1000 Hz (text) | sample rate per channel (neither format carries it) |
//!
//! The ncs protocol describes itself (rate, channels, volts per count come from the device), so
//! it takes `baud` only. The third-party defaults describe the common boards: an Arduino Uno's
//! 10-bit ADC at 5 V behind a Muscle SpikerShield (gain 600) sampling one channel at 10 kHz as
//! Spike Recorder drives it, and a sketch printing one 10-bit reading per line at 1 kHz behind
//! a gain of 1000. Any other board must state its own scale.

use std::str::FromStr;

use firmware_bridge::byb::BybConfig;
use firmware_bridge::text::TextConfig;

use crate::{PortSpec, SerialError};

/// Line rate of the ncs protocol when none is given.
pub const NCS_BAUD: u32 = 3_000_000;
/// Line rate Spike Recorder uses for Backyard Brains boards (what a 16-MHz AVR makes of
/// 230 400).
pub const BYB_BAUD: u32 = 222_222;
/// Sample rate of a one-channel Backyard Brains board under Spike Recorder (Hz).
pub const BYB_RATE_HZ: f64 = 10_000.0;
/// 5 V over a 10-bit ADC behind the Muscle SpikerShield's gain of 600 (V per count).
pub const BYB_VOLTS_PER_COUNT: f64 = 5.0 / 1024.0 / 600.0;
/// Line rate of a text sketch when none is given.
pub const TEXT_BAUD: u32 = 115_200;
/// Sample rate of a text sketch when none is given (Hz).
pub const TEXT_RATE_HZ: f64 = 1000.0;
/// 5 V over a 10-bit ADC behind a gain of 1000 (V per count).
pub const TEXT_VOLTS_PER_COUNT: f64 = 5.0 / 1024.0 / 1000.0;
/// Mid-scale of a 10-bit ADC: the count that means 0 V for a text sketch.
pub const TEXT_OFFSET_COUNTS: f64 = 512.0;

/// What the bytes on the port are.
#[derive(Debug, Clone, PartialEq)]
pub enum SerialFormat {
    /// The ncs wire protocol: rate, channels and scale come from the device.
    Ncs,
    /// Backyard Brains SpikerBox / Muscle SpikerShield frames.
    Byb {
        /// Channels, resolution and scale.
        config: BybConfig,
        /// Sample rate per channel (Hz).
        sample_rate_hz: f64,
    },
    /// Lines of integers, one frame per line.
    Text {
        /// Values per line.
        channels: usize,
        /// Volts per count.
        volts_per_count: f64,
        /// Count that means 0 V.
        offset_counts: f64,
        /// Sample rate (Hz).
        sample_rate_hz: f64,
    },
}

/// A serial amplifier: where, at what line rate, in which format. Parsed from
/// `PORT[,key=value…]` (see the module documentation for the keys), checked when parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialSpec {
    /// The port (`/dev/ttyACM0`, `usb=VID:PID`).
    pub port: PortSpec,
    /// Line rate.
    pub baud: u32,
    /// What the bytes are.
    pub format: SerialFormat,
}

const KEYS: &str = "must be one of format, baud, channels, bits, volts_per_count, offset, rate";

fn number<T: FromStr>(what: &'static str, value: &str) -> Result<T, SerialError> {
    value.parse().map_err(|_| SerialError::Config {
        what,
        rule: "must be a number",
        value: value.to_owned(),
    })
}

fn positive(what: &'static str, value: &str) -> Result<f64, SerialError> {
    let v: f64 = number(what, value)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(SerialError::Config {
            what,
            rule: "must be > 0",
            value: value.to_owned(),
        })
    }
}

impl FromStr for SerialSpec {
    type Err = SerialError;

    /// `PORT[,key=value…]`, e.g. `/dev/ttyACM0,format=byb,channels=2,volts_per_count=4e-6`.
    fn from_str(s: &str) -> Result<Self, SerialError> {
        let mut parts = s.split(',');
        let port: PortSpec = parts.next().unwrap_or_default().parse()?;
        let mut options: Vec<(&'static str, &str)> = Vec::new();
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(|| SerialError::Config {
                what: "serial option",
                rule: "must be key=value",
                value: part.to_owned(),
            })?;
            let key: &'static str = match key {
                "format" => "format",
                "baud" => "baud",
                "channels" => "channels",
                "bits" => "bits",
                "volts_per_count" => "volts_per_count",
                "offset" => "offset",
                "rate" => "rate",
                other => {
                    return Err(SerialError::Config {
                        what: "serial option",
                        rule: KEYS,
                        value: other.to_owned(),
                    })
                }
            };
            if options.iter().any(|(k, _)| *k == key) {
                return Err(SerialError::Config {
                    what: key,
                    rule: "must be given once",
                    value: s.to_owned(),
                });
            }
            options.push((key, value));
        }
        let get = |key: &str| options.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let format = get("format").unwrap_or("ncs");
        let allowed: &[&str] = match format {
            "ncs" => &["format", "baud"],
            "byb" => &[
                "format",
                "baud",
                "channels",
                "bits",
                "volts_per_count",
                "rate",
            ],
            "text" => &[
                "format",
                "baud",
                "channels",
                "volts_per_count",
                "offset",
                "rate",
            ],
            other => {
                return Err(SerialError::Config {
                    what: "format",
                    rule: "must be ncs, byb or text",
                    value: other.to_owned(),
                })
            }
        };
        if let Some((key, _)) = options.iter().find(|(k, _)| !allowed.contains(k)) {
            return Err(SerialError::Config {
                what: key,
                rule: match format {
                    "ncs" => "does not apply to format=ncs (the device states it)",
                    "byb" => "does not apply to format=byb",
                    _ => "does not apply to format=text",
                },
                value: s.to_owned(),
            });
        }
        let baud = |default| -> Result<u32, SerialError> {
            match get("baud") {
                Some(v) => {
                    let b: u32 = number("baud", v)?;
                    if b == 0 {
                        return Err(SerialError::Config {
                            what: "baud",
                            rule: "must be > 0",
                            value: v.to_owned(),
                        });
                    }
                    Ok(b)
                }
                None => Ok(default),
            }
        };
        let rate = |default| get("rate").map_or(Ok(default), |v| positive("rate", v));
        let vpc = |default| {
            get("volts_per_count").map_or(Ok(default), |v| positive("volts_per_count", v))
        };
        let channels = || get("channels").map_or(Ok(1), |v| number::<usize>("channels", v));
        let (baud, format) = match format {
            "byb" => {
                let config = BybConfig {
                    channels: channels()?,
                    bits: get("bits").map_or(Ok(10), |v| number::<u8>("bits", v))?,
                    volts_per_count: vpc(BYB_VOLTS_PER_COUNT)?,
                };
                config.build()?;
                let sample_rate_hz = rate(BYB_RATE_HZ)?;
                (
                    baud(BYB_BAUD)?,
                    SerialFormat::Byb {
                        config,
                        sample_rate_hz,
                    },
                )
            }
            "text" => {
                let channels = channels()?;
                let volts_per_count = vpc(TEXT_VOLTS_PER_COUNT)?;
                let offset_counts =
                    get("offset").map_or(Ok(TEXT_OFFSET_COUNTS), |v| number::<f64>("offset", v))?;
                TextConfig {
                    channels: Some(channels),
                    volts_per_count,
                    offset_counts,
                }
                .build()?;
                (
                    baud(TEXT_BAUD)?,
                    SerialFormat::Text {
                        channels,
                        volts_per_count,
                        offset_counts,
                        sample_rate_hz: rate(TEXT_RATE_HZ)?,
                    },
                )
            }
            _ => (baud(NCS_BAUD)?, SerialFormat::Ncs),
        };
        Ok(Self { port, baud, format })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_defaults() {
        let s: SerialSpec = "/dev/ttyACM0".parse().expect("path");
        assert_eq!(s.format, SerialFormat::Ncs);
        assert_eq!(s.baud, NCS_BAUD);
        let s: SerialSpec = "usb=2e8a:000a,baud=115200".parse().expect("usb");
        assert_eq!(
            s.port,
            PortSpec::Usb {
                vid: 0x2e8a,
                pid: 0x000a
            }
        );
        assert_eq!(s.baud, 115_200);

        let s: SerialSpec = "/dev/ttyUSB0,format=byb".parse().expect("byb");
        assert_eq!(s.baud, BYB_BAUD);
        assert_eq!(
            s.format,
            SerialFormat::Byb {
                config: BybConfig {
                    channels: 1,
                    bits: 10,
                    volts_per_count: BYB_VOLTS_PER_COUNT
                },
                sample_rate_hz: BYB_RATE_HZ
            }
        );
        let s: SerialSpec =
            "/dev/ttyUSB0,format=byb,bits=14,channels=2,volts_per_count=1e-6,rate=5000"
                .parse()
                .expect("byb with options");
        assert_eq!(
            s.format,
            SerialFormat::Byb {
                config: BybConfig {
                    channels: 2,
                    bits: 14,
                    volts_per_count: 1e-6
                },
                sample_rate_hz: 5000.0
            }
        );

        let s: SerialSpec = "/dev/ttyUSB0,format=text,channels=3,offset=0,rate=250"
            .parse()
            .expect("text");
        assert_eq!(s.baud, TEXT_BAUD);
        assert_eq!(
            s.format,
            SerialFormat::Text {
                channels: 3,
                volts_per_count: TEXT_VOLTS_PER_COUNT,
                offset_counts: 0.0,
                sample_rate_hz: 250.0
            }
        );
    }

    #[test]
    fn bad_options_name_the_rule_and_the_value() {
        let err = |s: &str| s.parse::<SerialSpec>().expect_err(s).to_string();
        assert_eq!(
            err("/dev/x,format=spi"),
            "format must be ncs, byb or text, got spi"
        );
        assert!(err("/dev/x,speed=3").contains("must be one of format, baud"));
        assert!(err("/dev/x,bits=12").contains("bits does not apply to format=ncs"));
        assert!(err("/dev/x,format=text,bits=12").contains("bits does not apply to format=text"));
        assert!(err("/dev/x,format=byb,offset=1").contains("offset does not apply to format=byb"));
        assert_eq!(
            err("/dev/x,format=byb,bits=16"),
            "amplifier format: ADC bits must be 10..=14, got 16"
        );
        assert_eq!(
            err("/dev/x,format=text,volts_per_count=-1"),
            "volts_per_count must be > 0, got -1"
        );
        assert_eq!(
            err("/dev/x,format=text,rate=fast"),
            "rate must be a number, got fast"
        );
        assert_eq!(err("/dev/x,baud=0"), "baud must be > 0, got 0");
        assert!(
            err("/dev/x,format=text,channels=0").contains("channel count must be 1..=32, got 0")
        );
        assert!(err("/dev/x,baud=1,baud=2").contains("baud must be given once"));
        assert!(err("/dev/x,rate").contains("serial option must be key=value, got rate"));
        assert!(err(",format=byb").contains("must name a port path"));
    }
}
