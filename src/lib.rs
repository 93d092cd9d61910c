//! fhirgate: takes readings from medical devices and delivers them to an EHR as HL7 FHIR R4.
//!
//! Data flows one way (see ARCHITECTURE.md): [`ingest`] transports receive payloads and store them
//! in the [`store`]; the [`pipeline`] runs an [`adapters`] adapter into the canonical [`model`] and
//! the [`mapping`] into FHIR, producing a plan; [`delivery`] executes plans into a sink. [`fhir`] and
//! [`codes`] are shared below them.

pub mod adapters;
pub mod admin;
pub mod codes;
pub mod config;
pub mod console;
pub mod delivery;
pub mod demo;
pub mod fhir;
pub mod ingest;
pub mod logging;
pub mod mapping;
pub mod mappings_cli;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod privacy;
pub mod serve;
pub mod simulate;
pub mod store;
pub mod tls;
