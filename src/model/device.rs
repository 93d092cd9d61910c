//! Who measured: the device, and the gateway (hub) that forwarded its data.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A hardware identifier that did not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the {kind} ({} characters) is not {bytes} hexadecimal byte pairs (separators ':' or '-' allowed)", .text.chars().count())]
pub struct HardwareIdError {
    kind: &'static str,
    text: String,
    bytes: usize,
}

fn parse_hex_bytes<const N: usize>(text: &str, kind: &'static str) -> Result<[u8; N], HardwareIdError> {
    let error = || HardwareIdError {
        kind,
        text: text.to_string(),
        bytes: N,
    };
    let compact: String = text.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    let bytes = hex::decode(&compact).map_err(|_| error())?;
    bytes.try_into().map_err(|_| error())
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8], separator: &str) -> fmt::Result {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write!(f, "{byte:02X}")?;
    }
    Ok(())
}

/// An IEEE EUI-64, as in the Bluetooth System ID characteristic (0x2A23) and the 11073 system id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Eui64(pub [u8; 8]);

impl Eui64 {
    /// Upper-case hex pairs joined by dashes, the PHD IG's identifier value form (`71-10-00-FE-…`).
    pub fn dashed(&self) -> String {
        Dashed(&self.0).to_string()
    }

    /// Sixteen upper-case hex digits, the device part of the PHD dedup identifier.
    pub fn compact(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// True when the EUI-64 cannot name one device: its device-specific part (the 40 bits after the
    /// 24-bit OUI) is all zeros or all ones. Gateways send such values for every device of a maker
    /// (B. Braun's `0012210000000000` in OBX-18 of every pump), so they identify the maker, not the
    /// device.
    pub fn is_placeholder(&self) -> bool {
        let device = &self.0[3..];
        device.iter().all(|&b| b == 0) || device.iter().all(|&b| b == 0xFF)
    }
}

impl FromStr for Eui64 {
    type Err = HardwareIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_bytes::<8>(s, "EUI-64").map(Eui64)
    }
}

/// A Bluetooth device address (EUI-48), most significant byte first as people write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BluetoothAddress(pub [u8; 6]);

impl BluetoothAddress {
    /// Upper-case hex pairs joined by dashes (`B0-49-5F-00-10-71`), the PHD IG's BTMAC value form.
    pub fn dashed(&self) -> String {
        Dashed(&self.0).to_string()
    }

    /// Twelve upper-case hex digits, the device part of the dedup identifier when there is no EUI-64.
    pub fn compact(&self) -> String {
        hex::encode_upper(self.0)
    }
}

impl FromStr for BluetoothAddress {
    type Err = HardwareIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_bytes::<6>(s, "Bluetooth address").map(BluetoothAddress)
    }
}

struct Dashed<'a>(&'a [u8]);

impl fmt::Display for Dashed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, self.0, "-")
    }
}

/// What kind of personal health device this is, as far as the payload tells. Drives the PHD
/// `Device.specialization` (the 11073-104xx device specialization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    BloodPressureMonitor,
    HeartRateSensor,
    Thermometer,
    WeightScale,
    BodyCompositionAnalyzer,
    GlucoseMeter,
    ContinuousGlucoseMonitor,
    PulseOximeter,
}

/// An equipment instance identifier that is not an EUI (HL7 v2 `EI`: a vendor GUID or serial with
/// the namespace that issued it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub value: String,
    /// Where the value is unique: the issuing namespace or universal id, e.g. `mindray.com`.
    pub namespace: Option<String>,
}

/// The identity of a measuring device. Every field is optional because transports reveal different
/// parts of it; a device needs at least one hardware identifier to be addressable
/// (see [`DeviceIdentity::has_hardware_id`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub system_id: Option<Eui64>,
    pub bluetooth_address: Option<BluetoothAddress>,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub model_number: Option<String>,
    pub firmware_revision: Option<String>,
    pub hardware_revision: Option<String>,
    pub software_revision: Option<String>,
    pub kind: Option<DeviceKind>,
    /// The device's 11073 system id (`MDC_ATTR_SYS_ID`) when it is not an EUI-64: B. Braun pumps send
    /// a UUID there. It is the device's own identity, under a system of its own (never the EUI-64 one).
    /// A UUID has no namespace (it is unique by itself); any other text is unique only within the
    /// sender's namespace.
    pub system_id_text: Option<InstanceId>,
    /// An equipment instance id that is not an EUI: a vendor GUID, serial or the label a hospital gave
    /// the device (OBX-18.1 beside a placeholder EUI), with the namespace that issued it.
    pub instance_id: Option<InstanceId>,
    /// The 11073 MDS type of a point-of-care device (e.g. 69965 multi-parameter monitor, 70049
    /// large-volume infusion pump), with its reference id.
    pub mds_type: Option<(super::measurement::MdcCode, Option<String>)>,
    /// The VMDs and channels inside a point-of-care MDS, as its message describes them.
    pub parts: Vec<DevicePart>,
    /// The device this one is part of, by its instance id, when the same payload names it too (an
    /// implant's lead is part of the implant).
    pub part_of: Option<InstanceId>,
}

/// A part of a point-of-care device in the IEEE 11073 containment tree: a VMD (virtual medical
/// device, e.g. the NIBP module) inside the MDS, or a channel inside a VMD (an infusion pump's primary
/// source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePart {
    /// The containment path without its zeros: `[1, 2]` for the VMD `1.2.0.0`, `[1, 2, 1]` for the
    /// channel `1.2.1.0`. Senders number parts per message, so the path names a part only together
    /// with its code.
    pub path: Vec<u32>,
    /// The part's MDC code (`0` when the sender marks it pending), with the sender's reference id.
    pub code: super::measurement::MdcCode,
    pub reference_id: Option<String>,
}

impl DeviceIdentity {
    pub fn has_hardware_id(&self) -> bool {
        self.system_id.is_some() || self.bluetooth_address.is_some()
    }

    /// True when the device can be identified at all.
    pub fn is_identifiable(&self) -> bool {
        self.has_hardware_id() || self.system_id_text.is_some() || self.instance_id.is_some()
    }
}

/// The namespace prefix of a device that stands for many: a vendor mapping whose payload names no
/// device. An association can never apply to it, because it would give every user's readings one
/// patient; such readings need their patient in the payload or from the sender (`?patient=`).
pub const SHARED_DEVICE_NAMESPACE: &str = "urn:fhirgate:no-device-id:";

/// The gateway (a Bluetooth hub, a PHG) that forwarded the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayIdentity {
    /// The gateway's own name for itself, e.g. `hub-ward-7`, unique within the deployment.
    pub id: String,
    pub system_id: Option<Eui64>,
    pub manufacturer: Option<String>,
    pub model_number: Option<String>,
    pub firmware_revision: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_accepts_common_spellings_and_renders_phd_forms() {
        for text in ["71-10-00-FE-FF-5F-49-B0", "711000feff5f49b0", "71:10:00:fe:ff:5f:49:b0"] {
            let eui: Eui64 = text.parse().unwrap();
            assert_eq!(eui.dashed(), "71-10-00-FE-FF-5F-49-B0");
            assert_eq!(eui.compact(), "711000FEFF5F49B0");
        }
    }

    #[test]
    fn wrong_lengths_and_non_hex_are_rejected_with_the_text() {
        let err = "71-10-00".parse::<Eui64>().unwrap_err();
        assert!(err.to_string().contains("the EUI-64 (8 characters) is not 8"), "{err}");
        assert!(!err.to_string().contains("71-10-00"), "never the text: {err}");
        assert!("C4:7C:8D:6A:1F:2G".parse::<BluetoothAddress>().is_err());
        assert!("C4:7C:8D:6A:1F:20:00".parse::<BluetoothAddress>().is_err());
    }

    #[test]
    fn an_eui64_that_names_only_its_maker_is_a_placeholder() {
        for placeholder in ["0012210000000000", "001221FFFFFFFFFF", "0000000000000000"] {
            assert!(placeholder.parse::<Eui64>().unwrap().is_placeholder(), "{placeholder}");
        }
        for device in ["0012211839000001", "00A037009B023649", "711000FEFF5F49B0"] {
            assert!(!device.parse::<Eui64>().unwrap().is_placeholder(), "{device}");
        }
    }

    #[test]
    fn bluetooth_address_renders_like_the_phd_example() {
        let addr: BluetoothAddress = "b0:49:5f:00:10:71".parse().unwrap();
        assert_eq!(addr.dashed(), "B0-49-5F-00-10-71");
        assert_eq!(addr.compact(), "B0495F001071");
    }
}
