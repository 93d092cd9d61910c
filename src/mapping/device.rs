//! Device identities → FHIR R4 Device resources per the PHD IG (PhdDevice, PhgDevice).

use fhirbolt::model::r4::resources::{Device, DeviceSpecialization, DeviceVersion};
use fhirbolt::model::r4::types::{Identifier, Meta, Reference};

use super::dedup;
use super::fhir_types::{coding, concept};
use super::terminology::*;
use crate::model::{DeviceIdentity, DeviceKind, DevicePart, Eui64, GatewayIdentity, InstanceId, Origin};

/// A Device resource with the identifier it is conditionally created on.
pub struct MappedDevice {
    pub resource: Device,
    /// `system|value` of the identifier that identifies it (EUI-64 preferred, else Bluetooth).
    pub conditional_identifier: (String, String),
}

/// The identifier of an IEEE EUI-64 system id (`SYSID`), for PHDs and gateways alike.
fn system_id_identifier(eui: Eui64) -> Identifier {
    typed_identifier(
        "SYSID",
        "IEEE 11073 System Identifier",
        EUI64_SYSTEM_ID_SYSTEM,
        eui.dashed(),
    )
}

fn typed_identifier(type_code: &str, display: &str, system: &str, value: String) -> Identifier {
    Identifier {
        r#type: Some(Box::new(concept(
            vec![coding(CONTINUA_DEVICE_IDENTIFIERS_SYSTEM, type_code, Some(display))],
            None,
        ))),
        system: Some(system.into()),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn version(kind: (&str, &str), text: &str, value: &Option<String>) -> Option<DeviceVersion> {
    value.as_ref().map(|v| DeviceVersion {
        r#type: Some(Box::new(concept(
            vec![coding(MDC_SYSTEM, kind.0, Some(kind.1))],
            Some(text),
        ))),
        value: v.as_str().into(),
        ..Default::default()
    })
}

/// The device specialization of each kind (PHD IG value set DeviceTypes11073MDC).
fn specialization(kind: DeviceKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        DeviceKind::PulseOximeter => ("528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM", "Pulse oximeter"),
        DeviceKind::BloodPressureMonitor => ("528391", "MDC_DEV_SPEC_PROFILE_BP", "Blood pressure monitor"),
        DeviceKind::Thermometer => ("528392", "MDC_DEV_SPEC_PROFILE_TEMP", "Thermometer"),
        DeviceKind::WeightScale => ("528399", "MDC_DEV_SPEC_PROFILE_SCALE", "Weight scale"),
        DeviceKind::GlucoseMeter => ("528401", "MDC_DEV_SPEC_PROFILE_GLUCOSE", "Glucose meter"),
        DeviceKind::BodyCompositionAnalyzer => ("528404", "MDC_DEV_SPEC_PROFILE_BCA", "Body composition analyzer"),
        DeviceKind::HeartRateSensor => ("528525", "MDC_DEV_SUB_SPEC_PROFILE_HR", "Heart rate monitor"),
        DeviceKind::ContinuousGlucoseMonitor => ("528409", "MDC_DEV_SPEC_PROFILE_CGM", "Continuous glucose monitor"),
    }
}

/// An 11073 system id that is not an EUI-64: a UUID as an RFC 3986 URI (`urn:ietf:rfc:3986`,
/// `urn:uuid:…`, FHIR's way to write one), any other text under the sender's namespace. Never the
/// EUI-64 system.
fn system_id_text_identifier(id: &InstanceId) -> Identifier {
    let (system, value) = match uuid::Uuid::parse_str(&id.value) {
        Ok(uuid) => ("urn:ietf:rfc:3986".to_string(), format!("urn:uuid:{uuid}")),
        Err(_) => (
            crate::model::namespace_system(id.namespace.as_deref(), SYSTEM_ID_TEXT_SYSTEM_PREFIX),
            id.value.clone(),
        ),
    };
    Identifier {
        r#type: Some(Box::new(concept(Vec::new(), Some("MDC_ATTR_SYS_ID")))),
        system: Some(system.as_str().into()),
        value: Some(value.as_str().into()),
        ..Default::default()
    }
}

/// The identifier system of a non-EUI equipment instance id: `urn:oid:` for an OID namespace, else a
/// fhirgate URN naming the namespace (HL7 v2 EI has no URI of its own).
pub fn instance_id_system(id: &InstanceId) -> String {
    crate::model::namespace_system(id.namespace.as_deref(), EQUIPMENT_ID_SYSTEM_PREFIX)
}

/// The measuring device: a PhdDevice for personal health devices; for point-of-care devices a Device
/// typed by its MDS code. `None` when it has no identifier to be found by.
pub fn measuring_device(device: &DeviceIdentity, origin: Origin) -> Option<MappedDevice> {
    let mut identifiers = Vec::new();
    if let Some(eui) = device.system_id {
        identifiers.push(system_id_identifier(eui));
    }
    if let Some(address) = device.bluetooth_address {
        identifiers.push(typed_identifier(
            "BTMAC",
            "Bluetooth MAC address",
            BLUETOOTH_ADDRESS_SYSTEM,
            address.dashed(),
        ));
    }
    if let Some(system_id) = &device.system_id_text {
        identifiers.push(system_id_text_identifier(system_id));
    }
    if let Some(instance) = &device.instance_id {
        identifiers.push(Identifier {
            system: Some(instance_id_system(instance).into()),
            value: Some(instance.value.as_str().into()),
            ..Default::default()
        });
    }
    let conditional_identifier = identifiers
        .first()
        .and_then(|i| Some((i.system.as_ref()?.value.clone()?, i.value.as_ref()?.value.clone()?)))?;
    let specialization = device
        .kind
        .map(specialization)
        .map(|(code, refid, text)| DeviceSpecialization {
            system_type: Box::new(concept(vec![coding(MDC_SYSTEM, code, Some(refid))], Some(text))),
            ..Default::default()
        });
    let personal_health = origin == Origin::PersonalHealth;
    // A personal health device is a simple PHD (65573); a point-of-care device is typed by its MDS
    // row, and left untyped when the message has none (an alert-only message) rather than mistyped.
    let device_type = match (&device.mds_type, personal_health) {
        (Some((code, refid)), _) => Some(concept(
            vec![coding(MDC_SYSTEM, &code.to_string(), refid.as_deref())],
            None,
        )),
        (None, true) => Some(concept(
            vec![coding(MDC_SYSTEM, MDC_MOC_VMS_MDS_SIMP.0, Some(MDC_MOC_VMS_MDS_SIMP.1))],
            Some("Simple PHD"),
        )),
        (None, false) => None,
    };
    let resource = Device {
        meta: personal_health.then(|| {
            Box::new(Meta {
                profile: vec![PROFILE_PHD_DEVICE.into()],
                ..Default::default()
            })
        }),
        identifier: identifiers,
        manufacturer: device.manufacturer.as_deref().map(Into::into),
        serial_number: device.serial_number.as_deref().map(Into::into),
        model_number: device.model_number.as_deref().map(Into::into),
        r#type: device_type.map(Box::new),
        // The device it is part of is an entry of the same Bundle, at its conditional identity's URL.
        parent: device.part_of.as_ref().map(|whole| {
            Box::new(Reference {
                reference: Some(
                    super::full_url::full_url("Device", &format!("{}|{}", instance_id_system(whole), whole.value))
                        .into(),
                ),
                ..Default::default()
            })
        }),
        specialization: specialization.into_iter().collect(),
        version: [
            version(MDC_ID_PROD_SPEC_FW, "Firmware revision", &device.firmware_revision),
            version(MDC_ID_PROD_SPEC_SW, "Software revision", &device.software_revision),
            version(MDC_ID_PROD_SPEC_HW, "Hardware revision", &device.hardware_revision),
        ]
        .into_iter()
        .flatten()
        .collect(),
        ..Default::default()
    };
    Some(MappedDevice {
        resource,
        conditional_identifier,
    })
}

/// A VMD or channel of a point-of-care device (HL7 PoCD: a Device per level of the 11073 containment
/// tree), typed by its MDC code and linked to the level above by `parent`. Its identifier joins the
/// MDS's with the part's path and code (`{MDS system}:{MDS value}/{path}:{code}`): senders number parts per message, so a part renumbered in a
/// later message becomes another Device rather than being taken for a different part.
pub fn device_part(mds: &(String, String), part: &DevicePart, parent_url: &str) -> MappedDevice {
    let value = format!(
        "{}:{}/{}:{}",
        mds.0,
        mds.1,
        dedup::dotted(&part.path),
        dedup::code_identity(part.code, part.reference_id.as_deref())
    );
    // Nor is it an MDC coding; the reference id is then the only name.
    let (codings, text) = if part.code.0 == 0 {
        (Vec::new(), part.reference_id.as_deref())
    } else {
        (
            vec![coding(MDC_SYSTEM, &part.code.to_string(), part.reference_id.as_deref())],
            None,
        )
    };
    let resource = Device {
        identifier: vec![Identifier {
            system: Some(DEVICE_PART_SYSTEM.into()),
            value: Some(value.as_str().into()),
            ..Default::default()
        }],
        r#type: Some(Box::new(concept(codings, text))),
        parent: Some(Box::new(Reference {
            reference: Some(parent_url.into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    MappedDevice {
        resource,
        conditional_identifier: (DEVICE_PART_SYSTEM.to_string(), value),
    }
}

/// The gateway (a PhgDevice for personal health devices): identified by its EUI-64 when it has one,
/// and always by its deployment id under `gateway_id_system`.
pub fn gateway_device(gateway: &GatewayIdentity, gateway_id_system: &str, origin: Origin) -> MappedDevice {
    let mut identifiers = Vec::new();
    if let Some(eui) = gateway.system_id {
        identifiers.push(system_id_identifier(eui));
    }
    identifiers.push(Identifier {
        system: Some(gateway_id_system.into()),
        value: Some(gateway.id.as_str().into()),
        ..Default::default()
    });
    let conditional_identifier = match gateway.system_id {
        Some(eui) => (EUI64_SYSTEM_ID_SYSTEM.to_string(), eui.dashed()),
        None => (gateway_id_system.to_string(), gateway.id.clone()),
    };
    let resource = Device {
        meta: (origin == Origin::PersonalHealth).then(|| {
            Box::new(Meta {
                profile: vec![PROFILE_PHG_DEVICE.into()],
                ..Default::default()
            })
        }),
        identifier: identifiers,
        manufacturer: gateway.manufacturer.as_deref().map(Into::into),
        model_number: gateway.model_number.as_deref().map(Into::into),
        r#type: Some(Box::new(concept(
            vec![coding(MDC_SYSTEM, MDC_MOC_VMS_MDS_AHD.0, Some(MDC_MOC_VMS_MDS_AHD.1))],
            Some("Personal health gateway"),
        ))),
        version: version(MDC_ID_PROD_SPEC_FW, "Firmware revision", &gateway.firmware_revision)
            .into_iter()
            .collect(),
        ..Default::default()
    };
    MappedDevice {
        resource,
        conditional_identifier,
    }
}
