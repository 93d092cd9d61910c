//! fhirgate: takes readings from medical devices and delivers them to an EHR as HL7 FHIR R4.
//!
//! The pipeline runs one way: [`adapters`] parse device payloads into the canonical [`model`];
//! [`mapping`] turns the model into FHIR R4 resources (pure functions); [`fhir`] serializes them.

pub mod adapters;
pub mod admin;
pub mod association;
pub mod codes;
pub mod config;
pub mod delivery;
pub mod fhir;
pub mod ingest;
pub mod mapping;
pub mod mapping_files;
pub mod medtech_templates;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod privacy;
pub mod serve;
