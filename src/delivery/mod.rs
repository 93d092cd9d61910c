//! Delivery: executes the pipeline's plans into a destination. The [`deliverer`] batches, retries
//! with backoff and dead-letters; a [`sink::Sink`] writes (the FHIR server, [`fhir_server`]; the embedded NDJSON destination, [`ndjson`]). It
//! reads the outbox (`crate::store`) and never looks inside a measurement: a [`plan::Plan`] holds FHIR
//! and identities only.

pub mod config;
pub mod deliverer;
pub mod fhir_server;
pub mod ndjson;
pub mod plan;
pub mod recent;
pub mod sink;

pub use deliverer::Deliverer;
pub use fhir_server::FhirServerSink;
pub use ndjson::NdjsonSink;
pub use plan::{Plan, Planner, Refused};
pub use sink::{Outcome, Sink};
