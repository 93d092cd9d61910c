//! The store below every stage: the durable outbox the transports write accepted payloads to, the
//! dead-letter store beside it, the associations added at run time, and the index of what the embedded
//! destination holds. Transports append, the
//! pipeline reads associations, delivery reads and removes; the store knows none of their formats.

pub mod config;
pub mod database;
pub mod outbox;
pub mod resource_index;

pub use config::StoreConfig;
pub use outbox::{DeadLetter, Outbox, OutboxError, OutboxRecord};
pub use resource_index::{IndexUpdate, Place, ResourceIndex};
