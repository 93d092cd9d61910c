//! Unit conversions a mapping may ask for. A converted value keeps the number of significant digits it
//! was sent with (at least three), so 160.2 [lb_av] becomes 72.67 kg, not 72.665497674 kg.

use crate::model::Decimal;

/// Glucose molar mass: 1 mmol/L is 18.0156 mg/dL.
const GLUCOSE_MG_PER_MMOL: f64 = 18.0156;

/// Volumes in litres, and flows in litres per second: spirometers send centilitres (FEV1 `fev1_cL`),
/// peak flows in L/s, L/min or cL/s, and apps confuse them.
const VOLUMES: &[(&str, f64)] = &[("L", 1.0), ("dL", 0.1), ("cL", 0.01), ("mL", 0.001)];
const FLOWS: &[(&str, f64)] = &[
    ("L/s", 1.0),
    ("L/min", 1.0 / 60.0),
    ("cL/s", 0.01),
    ("mL/s", 0.001),
    ("mL/min", 0.001 / 60.0),
];

/// The factor between two units of one of the tables above.
fn scaled(from: &str, to: &str) -> Option<f64> {
    [VOLUMES, FLOWS].iter().find_map(|table| {
        let of = |unit: &str| table.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f);
        Some(of(from)? / of(to)?)
    })
}

/// `value` in `from` expressed in `to` (UCUM codes).
pub fn convert(value: Decimal, from: &str, to: &str) -> Result<Decimal, String> {
    if from == to {
        return Ok(value);
    }
    let x = value.to_f64();
    let converted = match (from, to) {
        ("[lb_av]", "kg") => x * 0.453_592_37,
        ("kg", "[lb_av]") => x / 0.453_592_37,
        ("[oz_av]", "g") => x * 28.349_523_125,
        ("g", "kg") => x / 1000.0,
        ("kg", "g") => x * 1000.0,
        ("[degF]", "Cel") => (x - 32.0) * 5.0 / 9.0,
        ("Cel", "[degF]") => x * 9.0 / 5.0 + 32.0,
        ("K", "Cel") => x - 273.15,
        ("mg/dL", "mmol/L") => x / GLUCOSE_MG_PER_MMOL,
        ("mmol/L", "mg/dL") => x * GLUCOSE_MG_PER_MMOL,
        ("m", "cm") => x * 100.0,
        ("cm", "m") => x / 100.0,
        ("[in_i]", "cm") => x * 2.54,
        ("[ft_i]", "cm") => x * 30.48,
        ("kPa", "mm[Hg]") => x * 7.500_615_75,
        _ => match scaled(from, to) {
            Some(factor) => x * factor,
            None => return Err(format!("no conversion from {from} to {to}")),
        },
    };
    with_significant_digits(converted, significant_digits(value).max(3))
        .ok_or_else(|| format!("the value is out of range in {to}"))
}

/// The significant digits of a decimal as written (`160.2` has 4, `0.05` has 1).
fn significant_digits(value: Decimal) -> usize {
    let digits = value.mantissa().unsigned_abs().to_string();
    digits.len().max(1)
}

fn with_significant_digits(x: f64, digits: usize) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    let magnitude = if x == 0.0 { 0 } else { x.abs().log10().floor() as i32 };
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn conversions_keep_the_precision_sent() {
        assert_eq!(convert(d("160.2"), "[lb_av]", "kg").unwrap().to_string(), "72.67");
        assert_eq!(convert(d("98.6"), "[degF]", "Cel").unwrap().to_string(), "37.0");
        assert_eq!(convert(d("100"), "mg/dL", "mmol/L").unwrap().to_string(), "5.55");
        assert_eq!(convert(d("5.5"), "mmol/L", "mg/dL").unwrap().to_string(), "99.1");
        assert_eq!(convert(d("1.93"), "m", "cm").unwrap().to_string(), "193");
        assert_eq!(convert(d("74.126"), "kg", "kg").unwrap().to_string(), "74.126");
        assert!(convert(d("1"), "kg", "Cel").unwrap_err().contains("no conversion"));
        // Spirometry's traps: centilitres, and peak flows per second or per minute.
        assert_eq!(convert(d("320"), "cL", "L").unwrap().to_string(), "3.20");
        assert_eq!(convert(d("820"), "cL/s", "L/min").unwrap().to_string(), "492");
        assert_eq!(convert(d("8.2"), "L/s", "L/min").unwrap().to_string(), "492");
        assert_eq!(convert(d("492"), "L/min", "L/s").unwrap().to_string(), "8.20");
        assert!(convert(d("1"), "L", "L/min").unwrap_err().contains("no conversion"));
    }
}
