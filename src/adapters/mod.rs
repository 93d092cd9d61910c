//! Adapters: one per device family. Bytes, JSON, XML or HL7 in; the canonical model out. No FHIR.

pub mod ble;
pub mod hl7v2;
pub mod medtech;
pub mod vendor;
