//! The FHIR-side vocabulary: code system URIs, profile and extension URLs, and the coded concepts the
//! mapper emits. Kept together so that a reviewer can check every URI against the specs in one place.

/// ISO/IEEE 11073-10101 (MDC), as the PHD IG writes it.
pub const MDC_SYSTEM: &str = "urn:iso:std:iso:11073:10101";
pub const LOINC_SYSTEM: &str = "http://loinc.org";
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";

pub const OBSERVATION_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const PHD_CATEGORY_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories";
pub const DATA_ABSENT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
/// Bit codes of 11073 BITs attributes (`<attribute code>.<bit>`), PHD IG.
pub const ASN1_TO_HL7_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/ASN1ToHL7";
pub const OBSERVATION_INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// Measurement-status codes of the Point-of-Care Device IG, which the PHD IG reuses for device
/// quality statements (calibration ongoing, early indication).
pub const POCD_MEASUREMENT_STATUS_SYSTEM: &str = "http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status";
/// FHIR R4's statistics (`StatisticsCode`, 4.0.1), for `Observation.method` of a value that summarises
/// a period. R4's URI is terminology.hl7.org's; `http://hl7.org/fhir/observation-statistics` is STU3's.
pub const OBSERVATION_STATISTICS_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-statistics";
pub const ACT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

pub const CONTINUA_DEVICE_IDENTIFIERS_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers";
/// Identifier system of IEEE EUI-64 system ids (PHD IG, PhdDevice).
pub const EUI64_SYSTEM_ID_SYSTEM: &str = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680";
pub const BLUETOOTH_ADDRESS_SYSTEM: &str = "http://hl7.org/fhir/sid/eui-48/bluetooth";
/// The identifier system fhirgate gives the VMDs and channels of a point-of-care device, which carry no
/// identifier of their own: the value is `{MDS system}:{MDS value}/{path}:{code}`.
pub const DEVICE_PART_SYSTEM: &str = "urn:fhirgate:device-part";
/// Prefix of the identifier system of non-EUI equipment instance ids; the namespace follows.
pub const EQUIPMENT_ID_SYSTEM_PREFIX: &str = "urn:fhirgate:equipment-id:";
/// Prefix of the identifier system of an 11073 system id that is neither an EUI-64 nor a UUID, by
/// the namespace of the sender.
pub const SYSTEM_ID_TEXT_SYSTEM_PREFIX: &str = "urn:fhirgate:system-id:";

/// Identifier system of the PHD dedup identifier (PHD IG, PhdBaseObservation).
pub const PHD_OBSERVATION_IDENTIFIER_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation";
/// Identifier system of the same dedup identifier on point-of-care Observations, which are not PHD
/// Observations and so must not claim the PHD system.
pub const POC_OBSERVATION_IDENTIFIER_SYSTEM: &str = "urn:fhirgate:observation-dedup-id";

pub const GATEWAY_DEVICE_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice";
/// R4 core extension: the principal physical location where the event (here, the measurement) happened.
/// R4 core: the body's position during the observation, when the code does not say it.
pub const BODY_POSITION_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/observation-bodyPosition";
pub const EVENT_LOCATION_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/event-location";
pub const LOCATION_PHYSICAL_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

pub const PROFILE_PHD_NUMERIC: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdNumericObservation";
pub const PROFILE_PHD_COMPOUND_NUMERIC: &str =
    "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCompoundNumericObservation";
pub const PROFILE_PHD_CODED: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCodedEnumerationObservation";
pub const PROFILE_PHD_BITS: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBitsEnumerationObservation";
pub const PROFILE_PHD_RTSA: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdRtsaObservation";
pub const PROFILE_PHD_STRING: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdStringObservation";
pub const PROFILE_PHD_DEVICE: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdDevice";
pub const PROFILE_PHG_DEVICE: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhgDevice";

/// Device types and version kinds (MDC), PHD IG PhdDevice / PhgDevice.
pub const MDC_MOC_VMS_MDS_SIMP: (&str, &str) = ("65573", "MDC_MOC_VMS_MDS_SIMP");
pub const MDC_MOC_VMS_MDS_AHD: (&str, &str) = ("531981", "MDC_MOC_VMS_MDS_AHD");
pub const MDC_ID_PROD_SPEC_HW: (&str, &str) = ("531974", "MDC_ID_PROD_SPEC_HW");
pub const MDC_ID_PROD_SPEC_SW: (&str, &str) = ("531975", "MDC_ID_PROD_SPEC_SW");
pub const MDC_ID_PROD_SPEC_FW: (&str, &str) = ("531976", "MDC_ID_PROD_SPEC_FW");
