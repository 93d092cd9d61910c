//! Transports: they receive payloads, ask the pipeline at the door whether each can be delivered
//! (`Pipeline::check`), store what it takes in the outbox, and acknowledge. They never parse a device
//! format; MLLP reads only the header its acknowledgement needs.

pub mod http;
pub mod limits;
pub mod mllp;
pub mod mqtt;
