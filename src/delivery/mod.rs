//! Delivery: the durable outbox every transport writes accepted payloads to, the dead-letter store
//! beside it, the FHIR client, and the deliverer that empties the outbox into the FHIR server.

pub mod associations;
pub mod deliverer;
pub mod fhir_client;
pub mod medtech;
pub mod outbox;
pub mod smart_auth;
