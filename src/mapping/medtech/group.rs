//! Measurements into Observation groups, as MedTech groups them: by device, patient, encounter and
//! type, then by the template's window (the UTC hour or day of the measurement, the measurement time
//! itself, or the correlation id). A group becomes one Observation whose identifier names the window.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};

use super::error::MedtechMappingError;
use super::template::{FhirTemplates, PeriodInterval};
use crate::model::NormalizedMeasurement;

/// The measurements of one Observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationGroup {
    /// The type name as the device mapping wrote it.
    pub type_name: String,
    pub device_id: String,
    pub patient_id: Option<String>,
    pub encounter_id: Option<String>,
    /// Set for `periodInterval` -1.
    pub correlation_id: Option<String>,
    /// The window (inclusive at both ends).
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `valueName` → (time, value) sorted by time; at one time the first value received is kept.
    pub values: BTreeMap<String, Vec<(DateTime<Utc>, String)>>,
}

/// .NET's tick: MedTech ends a window one tick before the next (`19:59:59.9999999`).
pub const TICK: TimeDelta = TimeDelta::nanoseconds(100);

impl ObservationGroup {
    /// The identifier's last segment: the window as `yyyyMMddHHmmssZ.yyyyMMddHHmmssZ`, or the
    /// correlation id.
    pub fn id_segment(&self) -> String {
        match &self.correlation_id {
            Some(id) => id.clone(),
            None => format!(
                "{}.{}",
                self.start.format("%Y%m%d%H%M%SZ"),
                self.end.format("%Y%m%d%H%M%SZ")
            ),
        }
    }

    fn add(&mut self, time: DateTime<Utc>, values: &[(String, String)]) {
        for (name, value) in values {
            let series = self.values.entry(name.clone()).or_default();
            let at = series.partition_point(|(t, _)| *t <= time);
            let duplicate = at > 0 && series.get(at - 1).is_some_and(|(t, _)| *t == time);
            if !duplicate {
                series.insert(at, (time, value.clone()));
            }
        }
    }
}

/// The window a measurement time falls in.
fn window(period: PeriodInterval, time: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), MedtechMappingError> {
    let floor = |length: Duration| {
        time.duration_trunc(length)
            .map_err(|e| MedtechMappingError::Time(format!("cannot find the window of the measurement time: {e}")))
    };
    Ok(match period {
        PeriodInterval::Single | PeriodInterval::CorrelationId => (time, time),
        PeriodInterval::Hourly => {
            let start = floor(Duration::hours(1))?;
            (start, start + Duration::hours(1) - TICK)
        }
        PeriodInterval::Daily => {
            let start = floor(Duration::days(1))?;
            (start, start + Duration::days(1) - TICK)
        }
    })
}

/// Groups measurements into Observations, in the order their groups first appear. A type without a
/// FHIR template, or a correlation window without a correlation id, is an error.
pub fn group(
    measurements: &[NormalizedMeasurement],
    templates: &FhirTemplates,
) -> Result<Vec<ObservationGroup>, MedtechMappingError> {
    let mut groups: Vec<ObservationGroup> = Vec::new();
    for m in measurements {
        let template = templates.for_type(&m.type_name)?;
        let correlation_id = match template.period {
            PeriodInterval::CorrelationId => Some(m.correlation_id.clone().ok_or_else(|| {
                MedtechMappingError::Measurement(format!(
                    "{}: periodInterval -1 groups by correlation id, and the message has none",
                    m.type_name
                ))
            })?),
            _ => None,
        };
        let (start, end) = window(template.period, m.occurrence)?;
        let same = |g: &ObservationGroup| {
            g.type_name == m.type_name
                && g.device_id == m.device_id
                && g.patient_id == m.patient_id
                && g.encounter_id == m.encounter_id
                && match &correlation_id {
                    Some(id) => g.correlation_id.as_ref() == Some(id),
                    None => g.start == start,
                }
        };
        let index = match groups.iter().position(same) {
            Some(index) => index,
            None => {
                groups.push(ObservationGroup {
                    type_name: m.type_name.clone(),
                    device_id: m.device_id.clone(),
                    patient_id: m.patient_id.clone(),
                    encounter_id: m.encounter_id.clone(),
                    correlation_id: correlation_id.clone(),
                    start,
                    end,
                    values: BTreeMap::new(),
                });
                groups.len() - 1
            }
        };
        if let Some(group) = groups.get_mut(index) {
            if correlation_id.is_some() {
                group.start = group.start.min(m.occurrence);
                group.end = group.end.max(m.occurrence);
            }
            group.add(m.occurrence, &m.values);
        }
    }
    Ok(groups)
}
