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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn reading(at: &str, quality: ClockQuality) -> Reading {
        let received_at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let t = DateTime::parse_from_rfc3339(at).unwrap();
        let stamp = Timestamp {
            local: t.naive_local(),
            offset: *t.offset(),
            quality,
        };
        Reading {
            device: DeviceIdentity::default(),
            gateway: None,
            patient: None,
            patient_withheld: None,
            receipt_key: None,
            received_at,
            origin: Origin::PersonalHealth,
            documents: Vec::new(),
            location: None,
            measurements: vec![Measurement::simple(
                crate::codes::mdc::MASS_BODY_ACTUAL,
                Value::Text("x".into()),
                EffectiveTime::Instant(stamp),
            )
            .with_source("record 3 `@.t`")],
        }
    }

    #[test]
    fn a_clock_never_set_or_far_ahead_is_refused_naming_where_and_the_rule() {
        let device = ClockQuality::DeviceClock {
            offset: OffsetSource::Envelope,
        };
        let window = TimeWindow::default();
        assert_eq!(window.check(&reading("2026-11-21T09:00:00Z", device)), Ok(()));
        assert_eq!(
            window.check(&reading("2026-11-22T09:00:00Z", device)),
            Ok(()),
            "within a day ahead"
        );
        let early = window.check(&reading("1970-01-01T00:00:00Z", device)).unwrap_err();
        assert!(
            early.contains("record 3 `@.t`") && early.contains("mapping.earliest_time"),
            "{early}"
        );
        assert!(
            !early.contains("1970"),
            "a date of care stays out of the reason: {early}"
        );
        let ahead = window.check(&reading("2027-01-01T00:00:00Z", device)).unwrap_err();
        assert!(ahead.contains("mapping.future_tolerance_secs"), "{ahead}");
    }
}
