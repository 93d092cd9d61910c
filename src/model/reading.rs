//! One payload's worth of measurements from one device, with who and where they came from.

use chrono::{DateTime, FixedOffset};

use super::device::{DeviceIdentity, GatewayIdentity};
use super::measurement::Measurement;
use super::patient::PatientRef;

/// Which family of devices a reading comes from: it decides which FHIR IG the mapper follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// Personal health devices (Bluetooth, 11073-20601/-10206): the PHD IG.
    #[default]
    PersonalHealth,
    /// Point-of-care devices (monitors, pumps via IHE PCD): the PoCD IG where it speaks.
    PointOfCare,
}

/// Where the patient was when the device measured (HL7 v2 PV1-3 point of care, room, bed, facility).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CareLocation {
    /// The nursing unit or ward (`3 West ICU`).
    pub point_of_care: Option<String>,
    pub room: Option<String>,
    pub bed: Option<String>,
    pub facility: Option<String>,
}

/// What an adapter produces from one payload: the canonical form that every later stage consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub device: DeviceIdentity,
    pub gateway: Option<GatewayIdentity>,
    /// `None` when the payload names no patient; delivery must then associate one before sending.
    pub patient: Option<PatientRef>,
    /// Why the payload's patient was not taken, when it named one the bridge must not file under: a
    /// placeholder (`Unknown Patient`), an identity the sender marks unknown, an identifier without
    /// an assigning authority. Names the rule, never the identifier.
    pub patient_withheld: Option<String>,
    /// What tells this reading apart from another received at the same instant when the device gave
    /// no time of its own: a digest of the payload's bytes and the position in its batch, so distinct
    /// notifications stay distinct and a resend of the same payload stays one reading.
    pub receipt_key: Option<String>,
    /// When the gateway received the data.
    pub received_at: DateTime<FixedOffset>,
    pub measurements: Vec<Measurement>,
    /// Reports the device sent whole (an implant's PDF), delivered as documents.
    pub documents: Vec<super::document::Document>,
    pub origin: Origin,
    /// Where the measurements were taken, when the payload says.
    pub location: Option<CareLocation>,
}
