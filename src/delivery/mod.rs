//! Delivery: the durable outbox every transport writes accepted payloads to. The FHIR client,
//! retries and dead letters that empty it are still to come.

pub mod outbox;
