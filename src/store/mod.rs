//! The store below every stage: the durable outbox the transports write accepted payloads to, the
//! dead-letter store beside it, and the associations added at run time. Transports append, the
//! pipeline reads associations, delivery reads and removes; the store knows none of their formats.

pub mod config;
pub mod database;
pub mod outbox;

pub use config::StoreConfig;
pub use outbox::{DeadLetter, Outbox, OutboxError, OutboxRecord};
