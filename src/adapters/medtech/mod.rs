//! Azure MedTech (iomt-fhir) device mappings, run unchanged: a `CollectionContent` of
//! `JsonPathContent`, `IotJsonPathContent` and `CalculatedContent` templates turns each device message
//! into MedTech's normalized measurements (type, device, patient, time, named values). What becomes of
//! them in FHIR is the FHIR destination mapping's business (`crate::mapping::medtech`).

pub mod device_mapping;
pub mod expression;
pub mod jmespath_functions;

pub use crate::model::NormalizedMeasurement;
pub use device_mapping::{DeviceMapping, MedtechError};
