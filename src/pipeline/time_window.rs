//! Impossible times: a device clock never set (1970, 2000-01-01), or one far ahead, or milliseconds
//! read as seconds (`+54692-12-17`, which is not even a FHIR dateTime). A measurement whose time is
//! outside the window is refused with the rule and where it was read; it is never sent.

use chrono::{DateTime, Duration, FixedOffset};

use crate::model::{ClockQuality, EffectiveTime, Reading, Timestamp};

/// The times a measurement may have, relative to its receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// `mapping.earliest_time`.
    pub earliest: DateTime<FixedOffset>,
    /// `mapping.future_tolerance_secs`.
    pub future_tolerance: Duration,
}

impl Default for TimeWindow {
    fn default() -> Self {
        TimeWindow {
            earliest: DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap_or_default(),
            future_tolerance: Duration::hours(24),
        }
    }
}

impl TimeWindow {
    /// The first measurement of `reading` whose time is outside the window, as a reason naming the
    /// measurement, where it was read and the rule (never the time itself: a date of care is patient
    /// data).
    pub fn check(&self, reading: &Reading) -> Result<(), String> {
        let latest = reading.received_at + self.future_tolerance;
        for (index, measurement) in reading.measurements.iter().enumerate() {
            let stamps: Vec<&Timestamp> = match &measurement.time {
                EffectiveTime::Instant(t) => vec![t],
                EffectiveTime::Period { start, end } => vec![start, end],
            };
            for stamp in stamps {
                // The receipt time is the bridge's own clock, so nothing to doubt.
                if matches!(stamp.quality, ClockQuality::GatewayReceipt { .. }) {
                    continue;
                }
                let rule = match stamp.instant() {
                    None => Some("cannot be placed on the timeline".to_string()),
                    Some(t) if t < self.earliest => Some(format!(
                        "is before {} (mapping.earliest_time): a device clock that was never set",
                        self.earliest.to_rfc3339()
                    )),
                    Some(t) if t > latest => Some(format!(
                        "is more than {} h after the payload was received (mapping.future_tolerance_secs): a clock \
                         far ahead, or a time in the wrong unit",
                        self.future_tolerance.num_hours()
                    )),
                    _ => None,
                };
                if let Some(rule) = rule {
                    let what = measurement
                        .label
                        .clone()
                        .unwrap_or_else(|| format!("MDC {}", measurement.code));
                    let at = measurement
                        .source
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    return Err(format!("measurement {index} {what}{at}: its time {rule}"));
                }
            }
        }
        Ok(())
    }
}
