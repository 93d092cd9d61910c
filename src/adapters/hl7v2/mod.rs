//! HL7 v2 messages: a strict generic parser (`message`, `error`), HL7 date-times (`time`), and the IHE
//! PCD device observation report read from a message (`report`), and PCD-01 readings (`pcd`) with their waveforms (`waveform`).

pub mod error;
pub mod message;
pub mod pcd;
pub mod report;
pub mod time;
pub mod waveform;
