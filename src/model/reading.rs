//! One payload's worth of measurements from one device, with who and where they came from.

use chrono::{DateTime, FixedOffset};

use super::device::{DeviceIdentity, GatewayIdentity};
use super::measurement::Measurement;
use super::patient::PatientRef;

/// What an adapter produces from one payload: the canonical form that every later stage consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub device: DeviceIdentity,
    pub gateway: Option<GatewayIdentity>,
    /// `None` when the payload names no patient; delivery must then associate one before sending.
    pub patient: Option<PatientRef>,
    /// When the gateway received the data.
    pub received_at: DateTime<FixedOffset>,
    pub measurements: Vec<Measurement>,
}
