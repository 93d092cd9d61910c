//! Impossible values. A number outside what a living person can have (the code table's
//! [`PlausibleRange`](crate::codes::PlausibleRange)s) is a placeholder or a device fault: it is never
//! sent as a value a clinician could read as real, and never dropped in silence either.
//! * Some values of a reading implausible: each becomes absent (`dataAbsentReason` error, with a text
//!   saying why), and what was kept out is said at delivery, by measurement and rule.
//! * Every value implausible (a scale's back-fill stub: body fat 0 %, lean mass 0, water 0): the
//!   payload is refused, with the reason, at the door or into the dead-letter store.

use crate::codes::plausible_range;
use crate::model::{AbsentReason, MdcCode, Measurement, Reading, Value};

/// A value kept out, by measurement and rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptOut {
    pub measurement: String,
    pub rule: String,
}

/// Replaces the implausible values of `reading` by [`AbsentReason::Implausible`]; what was kept out,
/// or `Err` when nothing plausible is left.
pub fn apply(reading: &mut Reading) -> Result<Vec<KeptOut>, String> {
    let mut kept_out = Vec::new();
    let mut plausible = 0usize;
    for measurement in &mut reading.measurements {
        let name = name_of(measurement);
        let code = measurement.code;
        if let Some(value) = &mut measurement.value {
            judge(code, value, &name, &mut kept_out, &mut plausible);
        }
        for component in &mut measurement.components {
            let name = format!("{name} component MDC {}", component.code);
            judge(
                component.code,
                &mut component.value,
                &name,
                &mut kept_out,
                &mut plausible,
            );
        }
    }
    if !kept_out.is_empty() && plausible == 0 {
        let rules: Vec<String> = kept_out
            .iter()
            .map(|k| format!("{}: {}", k.measurement, k.rule))
            .collect();
        return Err(format!(
            "every value of the reading is outside what a living person can have, so the device sent a placeholder \
             frame (a scale back-filling its history does), not a measurement: {}",
            rules.join("; ")
        ));
    }
    Ok(kept_out)
}

fn name_of(measurement: &Measurement) -> String {
    let code = measurement
        .label
        .clone()
        .or_else(|| crate::codes::lookup(measurement.code).map(|e| e.reference_id.to_string()))
        .unwrap_or_else(|| format!("MDC {}", measurement.code));
    match &measurement.source {
        Some(source) => format!("{code} ({source})"),
        None => code,
    }
}

/// Judges one value: counts what is plausible, replaces and records what is not. Values that are
/// not numbers, or have no range in the table, count as plausible.
fn judge(code: MdcCode, value: &mut Value, name: &str, kept_out: &mut Vec<KeptOut>, plausible: &mut usize) {
    let Value::Quantity(quantity) = value else {
        if !matches!(value, Value::Absent(_)) {
            *plausible += 1;
        }
        return;
    };
    let Some(range) = plausible_range(code, &quantity.unit) else {
        *plausible += 1;
        return;
    };
    let number = quantity.value.to_f64();
    if (range.min..=range.max).contains(&number) {
        *plausible += 1;
        return;
    }
    kept_out.push(KeptOut {
        measurement: name.to_string(),
        rule: format!(
            "outside the plausible range {} to {} {} (the code table's)",
            range.min, range.max, range.unit
        ),
    });
    *value = Value::Absent(AbsentReason::Implausible);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::mdc;
    use crate::model::*;
    use chrono::DateTime;

    fn reading(values: &[(MdcCode, i64, &str)]) -> Reading {
        let received_at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let time = EffectiveTime::Instant(Timestamp::gateway_receipt(received_at, NoDeviceTimeReason::NotSent));
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
            measurements: values
                .iter()
                .map(|(code, v, unit)| {
                    Measurement::simple(*code, Value::Quantity(Quantity::new(Decimal::integer(*v), unit)), time)
                })
                .collect(),
        }
    }

    #[test]
    fn a_placeholder_value_beside_real_ones_becomes_absent_and_is_said() {
        let mut r = reading(&[(mdc::BODY_FAT, 0, "%"), (mdc::MASS_BODY_ACTUAL, 80, "kg")]);
        let kept_out = apply(&mut r).unwrap();
        assert_eq!(r.measurements[0].value, Some(Value::Absent(AbsentReason::Implausible)));
        assert!(matches!(r.measurements[1].value, Some(Value::Quantity(_))));
        assert_eq!(kept_out.len(), 1);
        assert!(kept_out[0].measurement.starts_with("MDC_BODY_FAT"), "{kept_out:?}");
        assert!(kept_out[0].rule.contains("1 to 75 %"), "{kept_out:?}");
    }

    #[test]
    fn a_frame_of_nothing_but_placeholders_is_refused_and_an_unknown_unit_is_left_alone() {
        let mut stub = reading(&[(mdc::BODY_FAT, 0, "%"), (mdc::BODY_WATER, 0, "kg")]);
        let error = apply(&mut stub).unwrap_err();
        assert!(
            error.contains("placeholder frame") && error.contains("MDC_BODY_WATER"),
            "{error}"
        );
        let mut spo2 = reading(&[(mdc::PULS_OXIM_SAT_O2, 101, "%")]);
        assert!(apply(&mut spo2).is_err(), "SpO2 above 100 % cannot be");
        let mut odd_unit = reading(&[(mdc::BODY_FAT, 0, "[ppth]")]);
        assert_eq!(apply(&mut odd_unit).unwrap(), Vec::new());
    }
}
