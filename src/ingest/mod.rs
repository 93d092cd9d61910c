//! Transports: they receive payloads, store what they accept in the outbox, and acknowledge. They do
//! not parse device formats beyond what an acknowledgement needs.

pub mod http;
pub mod mllp;
pub mod mqtt;
pub mod tls;
