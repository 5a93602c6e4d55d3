//! Port names and listing.

use ncs_serial::{list_ports, PortSpec, SerialError};

#[test]
fn port_specs_parse_paths_and_usb_ids() {
    assert_eq!(
        "usb=2e8a:000A".parse::<PortSpec>().expect("usb id"),
        PortSpec::Usb {
            vid: 0x2e8a,
            pid: 0x000a
        }
    );
    assert_eq!(
        "/dev/ttyACM0".parse::<PortSpec>().expect("path"),
        PortSpec::Path("/dev/ttyACM0".into())
    );
    for bad in ["usb=2e8a", "usb=xyz:1", "usb=1:123456", ""] {
        let e = bad.parse::<PortSpec>().expect_err(bad);
        assert!(e.to_string().contains("must"), "{e}");
    }
    assert_eq!(
        PortSpec::Usb { vid: 1, pid: 0xabc }.to_string(),
        "usb=0001:0abc"
    );
}

#[test]
fn listing_ports_works_and_a_missing_usb_id_is_a_clear_error() {
    let ports = list_ports().expect("ports listed");
    for p in &ports {
        assert!(p.path.starts_with("/dev/"), "{p}");
    }
    // ffff:fffe is not a real vendor/product.
    let missing = PortSpec::Usb {
        vid: 0xffff,
        pid: 0xfffe,
    };
    match missing.resolve() {
        Err(SerialError::NoUsbDevice { vid, pid }) => assert_eq!((vid, pid), (0xffff, 0xfffe)),
        other => panic!("expected NoUsbDevice, got {other:?}"),
    }
    let e = ncs_serial::SerialSource::open(ncs_serial::SerialConfig::new(missing))
        .expect_err("no device");
    assert!(e.to_string().contains("ffff:fffe"), "{e}");
}
