//! Naming and finding serial ports.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::SerialError;

/// Where the amplifier is: a device path, or the first port with a USB vendor/product id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// A device path (`/dev/ttyACM0`, a pseudo-terminal, a symbolic link to one).
    Path(PathBuf),
    /// A USB id, looked up again at every (re)connection since the path may change.
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
    },
}

impl FromStr for PortSpec {
    type Err = SerialError;

    /// `usb=VID:PID` (hexadecimal, e.g. `usb=2e8a:000a`) or a path.
    fn from_str(s: &str) -> Result<Self, SerialError> {
        let bad = |rule| SerialError::Spec {
            spec: s.to_owned(),
            rule,
        };
        if let Some(id) = s.strip_prefix("usb=") {
            let (v, p) = id
                .split_once(':')
                .ok_or_else(|| bad("must be usb=VID:PID (hexadecimal)"))?;
            let hex = |x: &str| {
                u16::from_str_radix(x.trim_start_matches("0x"), 16)
                    .map_err(|_| bad("must be usb=VID:PID with 16-bit hexadecimal ids"))
            };
            Ok(Self::Usb {
                vid: hex(v)?,
                pid: hex(p)?,
            })
        } else if s.is_empty() {
            Err(bad("must name a port path or usb=VID:PID"))
        } else {
            Ok(Self::Path(PathBuf::from(s)))
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Usb { vid, pid } => write!(f, "usb={vid:04x}:{pid:04x}"),
        }
    }
}

impl PortSpec {
    /// The path to open now.
    pub fn resolve(&self) -> Result<PathBuf, SerialError> {
        match self {
            Self::Path(p) => Ok(p.clone()),
            Self::Usb { vid, pid } => list_ports()?
                .into_iter()
                .find(|p| p.usb == Some((*vid, *pid)))
                .map(|p| PathBuf::from(p.path))
                .ok_or(SerialError::NoUsbDevice {
                    vid: *vid,
                    pid: *pid,
                }),
        }
    }
}

/// One serial port present on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// Device path.
    pub path: String,
    /// `usb`, `pci`, `bluetooth` or `unknown`.
    pub kind: &'static str,
    /// USB vendor and product id, for USB ports.
    #[serde(serialize_with = "usb_id")]
    pub usb: Option<(u16, u16)>,
    /// USB manufacturer string.
    pub manufacturer: Option<String>,
    /// USB product string.
    pub product: Option<String>,
    /// USB serial number.
    pub serial_number: Option<String>,
}

fn usb_id<S: serde::Serializer>(id: &Option<(u16, u16)>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some((v, p)) => s.serialize_some(&format!("{v:04x}:{p:04x}")),
        None => s.serialize_none(),
    }
}

impl fmt::Display for PortInfo {
    /// `/dev/ttyACM0  usb 2e8a:000a  Raspberry Pi Pico`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {}", self.path, self.kind)?;
        if let Some((v, p)) = self.usb {
            write!(f, " {v:04x}:{p:04x}")?;
        }
        for s in [&self.manufacturer, &self.product].into_iter().flatten() {
            write!(f, "  {s}")?;
        }
        Ok(())
    }
}

/// Serial ports present, with their USB ids (for `ncs devices`).
pub fn list_ports() -> Result<Vec<PortInfo>, SerialError> {
    let ports = serialport::available_ports().map_err(|source| SerialError::Open {
        port: "(listing ports)".into(),
        source,
    })?;
    Ok(ports
        .into_iter()
        .map(|p| {
            let mut info = PortInfo {
                path: p.port_name,
                kind: "unknown",
                usb: None,
                manufacturer: None,
                product: None,
                serial_number: None,
            };
            match p.port_type {
                serialport::SerialPortType::UsbPort(u) => {
                    info.kind = "usb";
                    info.usb = Some((u.vid, u.pid));
                    info.manufacturer = u.manufacturer;
                    info.product = u.product;
                    info.serial_number = u.serial_number;
                }
                serialport::SerialPortType::PciPort => info.kind = "pci",
                serialport::SerialPortType::BluetoothPort => info.kind = "bluetooth",
                serialport::SerialPortType::Unknown => {}
            }
            info
        })
        .collect())
}

/// Opens `path` raw, with reads that wait at most `timeout`.
pub(crate) fn open_port(
    path: &std::path::Path,
    baud: u32,
    timeout: std::time::Duration,
) -> Result<Box<dyn serialport::SerialPort>, SerialError> {
    serialport::new(path.to_string_lossy(), baud)
        .timeout(timeout)
        .open()
        .map_err(|source| SerialError::Open {
            port: path.display().to_string(),
            source,
        })
}
