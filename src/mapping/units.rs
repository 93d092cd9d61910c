//! Unit normalization for FHIR. The R4 vital-signs profiles bind units tightly: blood pressure only in
//! `mm[Hg]`, body height only in `cm` or `[in_i]`. Devices may report kPa and metres, so those are
//! converted here, exactly, in decimal arithmetic.

use crate::model::{Decimal, Quantity};

/// The quantity in the unit FHIR receivers expect. Other units pass unchanged.
pub fn normalize(quantity: &Quantity) -> Quantity {
    match quantity.unit.as_str() {
        // A value too large to convert exactly stays in kPa rather than being corrupted.
        "kPa" => match kilopascal_to_mm_hg(quantity.value) {
            Some(mm_hg) => Quantity::new(mm_hg, "mm[Hg]"),
            None => quantity.clone(),
        },
        // 1 m = 100 cm: only the exponent moves, so precision is kept (1.830 m → 183.0 cm).
        "m" => Quantity::new(quantity.value.scaled_by_power_of_ten(2), "cm"),
        // UCUM annotations carry no meaning (`{beat}/min` is `/min`), but the vital-signs profiles
        // require the bare unit, so a leading annotation before `/` is dropped.
        unit if unit.starts_with('{') => match unit.split_once('}') {
            Some((_, rest)) if rest.starts_with('/') => Quantity::new(quantity.value, rest),
            _ => quantity.clone(),
        },
        _ => quantity.clone(),
    }
}

/// kPa → mm[Hg] with 1 mm[Hg] = 101.325/760 kPa. One kPa is about 7.5 mm[Hg], so the result keeps one
/// decimal fewer than the input (resolution 0.1 kPa ≈ 0.75 mm[Hg] → whole mm[Hg]); rounded half away
/// from zero.
fn kilopascal_to_mm_hg(kpa: Decimal) -> Option<Decimal> {
    let exponent = kpa.exponent();
    let decimals = (-exponent - 1).max(0);
    // value × 760000/101325 × 10^decimals = mantissa × 30400 × 10^(exponent + decimals) / 4053
    let scale = exponent.checked_add(decimals)?;
    let mut numerator = i128::from(kpa.mantissa()).checked_mul(30_400)?;
    let mut denominator: i128 = 4053;
    let power = 10i128.checked_pow(scale.unsigned_abs())?;
    if scale >= 0 {
        numerator = numerator.checked_mul(power)?;
    } else {
        denominator = denominator.checked_mul(power)?;
    }
    // Half away from zero: (2n ± d) / 2d.
    let rounded = numerator
        .checked_mul(2)?
        .checked_add(numerator.signum() * denominator)?
        / denominator.checked_mul(2)?;
    Some(Decimal::new(i64::try_from(rounded).ok()?, -decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kpa(mantissa: i64, exponent: i32) -> String {
        normalize(&Quantity::new(Decimal::new(mantissa, exponent), "kPa"))
            .value
            .to_string()
    }

    #[test]
    fn kilopascal_converts_with_one_decimal_less() {
        // Nordic kPa vector: 18.9 / 11.0 / 15.9 kPa.
        assert_eq!(kpa(189, -1), "142"); // 141.76
        assert_eq!(kpa(110, -1), "83"); // 82.51
        assert_eq!(kpa(159, -1), "119"); // 119.26
        assert_eq!(kpa(1600, -2), "120.0"); // 16.00 kPa = 120.01
        assert_eq!(kpa(16, 0), "120"); // 120.01
        assert_eq!(kpa(-2, 0), "-15"); // -15.0012
    }

    #[test]
    fn values_too_large_to_convert_stay_in_kilopascal() {
        // Wrapped to a negative number before; now left unconverted.
        let huge = Quantity::new(Decimal::new(1_229_782_938_247_303_442, 0), "kPa");
        assert_eq!(normalize(&huge), huge);
        let overflowing_power = Quantity::new(Decimal::new(8_388_607, 127), "kPa");
        assert_eq!(normalize(&overflowing_power), overflowing_power);
    }

    #[test]
    fn metres_become_centimetres_exactly() {
        let q = normalize(&Quantity::new(Decimal::new(1830, -3), "m"));
        assert_eq!((q.value.to_string().as_str(), q.unit.as_str()), ("183.0", "cm"));
    }

    #[test]
    fn leading_annotations_are_dropped() {
        let q = normalize(&Quantity::new(Decimal::integer(63), "{beat}/min"));
        assert_eq!(q.unit, "/min");
        assert_eq!(
            normalize(&Quantity::new(Decimal::integer(1), "{score}")).unit,
            "{score}"
        );
    }

    #[test]
    fn other_units_pass_through() {
        let q = Quantity::new(Decimal::new(657, -1), "kg");
        assert_eq!(normalize(&q), q);
    }
}
