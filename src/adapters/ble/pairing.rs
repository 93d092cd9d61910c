//! Combines the decoded values of one envelope into measurement groups. Most values stand alone;
//! a glucose context belongs to the glucose measurement with its sequence number (GLS 1.0 §3.2), and
//! CGM records need the session start time (0x2AAA) to have a time at all (CGMS 1.0.1 §3.3). Nothing
//! is dropped: a value that cannot be paired is an error that names it.

use super::error::EnvelopeError;
use super::time_context::TimeContext;
use super::{cgm, Decoded};
use crate::model::Measurement;

/// Says which envelope field each measurement was decoded from.
fn sourced(measurements: Vec<Measurement>, field: String) -> Vec<Measurement> {
    measurements.into_iter().map(|m| m.with_source(field.clone())).collect()
}

/// One group of measurements per measurement value, in envelope order.
pub fn pair(decoded: &[Decoded], time: &TimeContext) -> Result<Vec<Vec<Measurement>>, EnvelopeError> {
    let single = decoded.len() == 1;
    let field = |index: usize| {
        if single {
            "value".to_string()
        } else {
            format!("notifications[{index}]")
        }
    };
    let contexts: Vec<(usize, &super::glucose_context::GlucoseContext)> = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d {
            Decoded::GlucoseContext(c) => Some((i, c)),
            _ => None,
        })
        .collect();
    let session_starts: Vec<&cgm::CgmSessionStart> = decoded
        .iter()
        .filter_map(|d| match d {
            Decoded::CgmSessionStart(s) => Some(s),
            _ => None,
        })
        .collect();
    if session_starts.len() > 1 {
        return Err(EnvelopeError::Field {
            field: "notifications".into(),
            rule: "more than one CGM Session Start Time (2AAA); send one per envelope".into(),
        });
    }
    let mut used_contexts = vec![false; contexts.len()];
    let mut has_cgm = false;
    let mut groups = Vec::new();
    for (index, value) in decoded.iter().enumerate() {
        match value {
            Decoded::Glucose(glucose) => {
                let matching: Vec<usize> = (0..contexts.len())
                    .filter(|&k| contexts[k].1.sequence_number == glucose.sequence_number)
                    .collect();
                if matching.len() > 1 {
                    return Err(EnvelopeError::Field {
                        field: field(index),
                        rule: format!(
                            "several glucose contexts (2A34) carry sequence number {}",
                            glucose.sequence_number
                        ),
                    });
                }
                let context = matching.first().map(|&k| {
                    used_contexts[k] = true;
                    contexts[k].1
                });
                groups.push(sourced(glucose.measurements(time, context), field(index)));
            }
            Decoded::Cgm(records) => {
                has_cgm = true;
                let session_start = session_starts.first().ok_or_else(|| EnvelopeError::Field {
                    field: field(index),
                    rule: "CGM records (2AA7) carry only minutes since the session start; the envelope must also \
                           carry the CGM Session Start Time (2AAA) in `notifications`"
                        .into(),
                })?;
                groups.push(sourced(
                    cgm::notification_measurements(records, session_start, time),
                    field(index),
                ));
            }
            Decoded::GlucoseContext(_) | Decoded::CgmSessionStart(_) => {}
            other => groups.extend(other.standalone_measurements(time).map(|m| sourced(m, field(index)))),
        }
    }
    if let Some(k) = used_contexts.iter().position(|used| !used) {
        let (index, context) = contexts[k];
        return Err(EnvelopeError::Field {
            field: field(index),
            rule: format!(
                "glucose context (2A34) with sequence number {} has no glucose measurement (2A18) with that sequence \
                 number in this envelope; send them together",
                context.sequence_number
            ),
        });
    }
    if !session_starts.is_empty() && !has_cgm {
        return Err(EnvelopeError::Field {
            field: "notifications".into(),
            rule: "a CGM Session Start Time (2AAA) alone carries no measurement; send it with the CGM records (2AA7)"
                .into(),
        });
    }
    Ok(groups)
}
