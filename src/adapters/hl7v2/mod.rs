//! HL7 v2 messages: a strict generic parser (`message`, `error`), HL7 date-times (`time`), the IHE
//! PCD device observation report read from a message (`report`), PCD-01 readings (`pcd`) with their
//! waveforms (`waveform`), and cardiac implant follow-ups (IHE PCD-09, `idco`). What a reader leaves
//! out is said (`left_out`).

pub mod error;
pub mod idco;
pub mod left_out;
pub mod message;
pub mod pcd;
pub mod report;
pub mod time;
pub mod waveform;
