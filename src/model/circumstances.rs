//! What the sender said about how a reading was taken, beyond its value: where on the body, in which
//! position, the person's own note, and whether the person typed the value in. Open mHealth data points carry them; Bluetooth and 11073 devices
//! code the site into the measurement itself (a rectal temperature), so they leave these empty.

/// A concept as the sender said it, with the standard code for it where the mapping knows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The sender's own words ("left wrist"), kept whether or not a code was found.
    pub text: String,
    pub code: Option<TermCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermCode {
    /// The code system's URI (SNOMED CT: `http://snomed.info/sct`).
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Circumstances {
    /// Where on the body the reading was taken (a blood-pressure cuff's "left upper arm").
    pub body_site: Option<Term>,
    /// The body's position ("sitting").
    pub body_position: Option<Term>,
    /// The person's own note about the reading. It is health information: never logged.
    pub note: Option<String>,
    /// The person typed the value in (a vendor app's manual entry); no device measured it.
    pub self_reported: bool,
}
