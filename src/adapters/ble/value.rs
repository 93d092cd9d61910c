//! Small helpers shared by the decoders for turning decoded fields into model values.

use super::float::MderFloat;
use crate::model::{AbsentReason, Decimal, Flag, Quantity, Value};

/// A quantity in `unit`, or the reason the float carries no number.
pub fn quantity_or_absent(value: MderFloat, unit: &str) -> Value {
    match value.number() {
        Ok(number) => Value::Quantity(Quantity::new(number, unit)),
        Err(reason) => Value::Absent(reason),
    }
}

/// A quantity from a fixed-point field, or "measurement unsuccessful" for the 0xFFFF sentinel that
/// the weight scale and body composition services use.
pub fn fixed_point_or_unsuccessful(raw: u16, factor: i64, exponent: i32, unit: &str) -> Value {
    if raw == 0xFFFF {
        return Value::Absent(AbsentReason::MeasurementUnsuccessful);
    }
    match Decimal::from_fixed_point(i64::from(raw), factor, exponent) {
        Some(number) => Value::Quantity(Quantity::new(number, unit)),
        None => Value::Absent(AbsentReason::NotAtThisResolution),
    }
}

pub fn flag(bit: u8, name: &'static str, set: bool) -> Flag {
    Flag { bit, name, set }
}
