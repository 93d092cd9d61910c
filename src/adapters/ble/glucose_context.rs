//! Glucose Measurement Context (0x2A34), Bluetooth GLS 1.0.
//!
//! Layout: flags u8; sequence number u16 (the same number as the Glucose Measurement it completes);
//! [extended flags u8] (b7, directly after the sequence number); then, in flag order: [carbohydrate
//! id u8 + carbohydrate SFLOAT kg] (b0); [meal u8] (b1); [tester and health u8: tester = low nibble,
//! health = high nibble] (b2); [exercise duration u16 s + intensity u8 %] (b3); [medication id u8 +
//! medication SFLOAT, kg or L per b5] (b4); [HbA1c SFLOAT %] (b6).
//!
//! The context has no time of its own: it is paired with its glucose measurement by sequence number
//! and its measurements take that measurement's time (see `glucose::GlucoseMeasurement::measurements`).
//! Codes follow the 11073-10417 context observations (`MDC_CTXT_GLU_*`, `MDC_CTXT_MEDICATION_*`).

use super::characteristic::Characteristic;
use super::error::FrameError;
use super::float::MderFloat;
use super::reader::FrameReader;
use super::value::quantity_or_absent;
use crate::codes::mdc;
use crate::model::{Decimal, EffectiveTime, MdcCode, Measurement, Quantity, Value};

/// The carbohydrate id: which meal the carbohydrates belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarbohydrateId {
    Breakfast,
    Lunch,
    Dinner,
    Snack,
    Drink,
    Supper,
    Brunch,
    /// 0 and 8–255 are reserved; kept so nothing the device sent is lost.
    Reserved(u8),
}

impl CarbohydrateId {
    fn from_raw(raw: u8) -> Self {
        match raw {
            1 => CarbohydrateId::Breakfast,
            2 => CarbohydrateId::Lunch,
            3 => CarbohydrateId::Dinner,
            4 => CarbohydrateId::Snack,
            5 => CarbohydrateId::Drink,
            6 => CarbohydrateId::Supper,
            7 => CarbohydrateId::Brunch,
            other => CarbohydrateId::Reserved(other),
        }
    }

    /// 11073-10417 reports carbohydrates under a code per meal; a reserved id gets the generic code.
    pub fn code(self) -> MdcCode {
        match self {
            CarbohydrateId::Breakfast => mdc::CTXT_GLU_CARB_BREAKFAST,
            CarbohydrateId::Lunch => mdc::CTXT_GLU_CARB_LUNCH,
            CarbohydrateId::Dinner => mdc::CTXT_GLU_CARB_DINNER,
            CarbohydrateId::Snack => mdc::CTXT_GLU_CARB_SNACK,
            CarbohydrateId::Drink => mdc::CTXT_GLU_CARB_DRINK,
            CarbohydrateId::Supper => mdc::CTXT_GLU_CARB_SUPPER,
            CarbohydrateId::Brunch => mdc::CTXT_GLU_CARB_BRUNCH,
            CarbohydrateId::Reserved(_) => mdc::CTXT_GLU_CARB,
        }
    }
}

/// Carbohydrates taken, as sent: the SFLOAT is in kilograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carbohydrate {
    pub id: CarbohydrateId,
    pub kilograms: MderFloat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meal {
    Preprandial,
    Postprandial,
    Fasting,
    /// Casual (snacks, drinks, etc.).
    Casual,
    Bedtime,
    Reserved(u8),
}

impl Meal {
    fn from_raw(raw: u8) -> Self {
        match raw {
            1 => Meal::Preprandial,
            2 => Meal::Postprandial,
            3 => Meal::Fasting,
            4 => Meal::Casual,
            5 => Meal::Bedtime,
            other => Meal::Reserved(other),
        }
    }

    /// The coded value of `MDC_CTXT_GLU_MEAL`; none for a reserved value.
    pub fn code(self) -> Option<MdcCode> {
        Some(match self {
            Meal::Preprandial => mdc::CTXT_GLU_MEAL_PREPRANDIAL,
            Meal::Postprandial => mdc::CTXT_GLU_MEAL_POSTPRANDIAL,
            Meal::Fasting => mdc::CTXT_GLU_MEAL_FASTING,
            Meal::Casual => mdc::CTXT_GLU_MEAL_CASUAL,
            Meal::Bedtime => mdc::CTXT_GLU_MEAL_BEDTIME,
            Meal::Reserved(_) => return None,
        })
    }
}

/// Who took the sample (low nibble of the tester-health octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tester {
    SelfTest,
    HealthCareProfessional,
    Laboratory,
    /// 15: the device does not know.
    NotAvailable,
    Reserved(u8),
}

impl Tester {
    fn from_nibble(raw: u8) -> Self {
        match raw {
            1 => Tester::SelfTest,
            2 => Tester::HealthCareProfessional,
            3 => Tester::Laboratory,
            15 => Tester::NotAvailable,
            other => Tester::Reserved(other),
        }
    }

    /// The coded value of `MDC_CTXT_GLU_TESTER`; none when not available or reserved.
    pub fn code(self) -> Option<MdcCode> {
        match self {
            Tester::SelfTest => Some(mdc::CTXT_GLU_TESTER_SELF),
            Tester::HealthCareProfessional => Some(mdc::CTXT_GLU_TESTER_HCP),
            Tester::Laboratory => Some(mdc::CTXT_GLU_TESTER_LAB),
            Tester::NotAvailable | Tester::Reserved(_) => None,
        }
    }
}

/// The patient's state of health (high nibble of the tester-health octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    MinorIssues,
    MajorIssues,
    Menses,
    Stress,
    NoIssues,
    /// 15: the device does not know.
    NotAvailable,
    Reserved(u8),
}

impl Health {
    fn from_nibble(raw: u8) -> Self {
        match raw {
            1 => Health::MinorIssues,
            2 => Health::MajorIssues,
            3 => Health::Menses,
            4 => Health::Stress,
            5 => Health::NoIssues,
            15 => Health::NotAvailable,
            other => Health::Reserved(other),
        }
    }

    /// The coded value of `MDC_CTXT_GLU_HEALTH`; none when not available or reserved.
    pub fn code(self) -> Option<MdcCode> {
        match self {
            Health::MinorIssues => Some(mdc::CTXT_GLU_HEALTH_MINOR),
            Health::MajorIssues => Some(mdc::CTXT_GLU_HEALTH_MAJOR),
            Health::Menses => Some(mdc::CTXT_GLU_HEALTH_MENSES),
            Health::Stress => Some(mdc::CTXT_GLU_HEALTH_STRESS),
            Health::NoIssues => Some(mdc::CTXT_GLU_HEALTH_NONE),
            Health::NotAvailable | Health::Reserved(_) => None,
        }
    }
}

/// Exercise before the measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exercise {
    /// Seconds; 65535 means "overrun" (longer than the field can hold).
    pub duration_seconds: u16,
    /// 0–100 %.
    pub intensity_percent: u8,
}

impl Exercise {
    pub fn duration_overrun(self) -> bool {
        self.duration_seconds == 0xFFFF
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationId {
    RapidActingInsulin,
    ShortActingInsulin,
    IntermediateActingInsulin,
    LongActingInsulin,
    PreMixedInsulin,
    Reserved(u8),
}

impl MedicationId {
    fn from_raw(raw: u8) -> Self {
        match raw {
            1 => MedicationId::RapidActingInsulin,
            2 => MedicationId::ShortActingInsulin,
            3 => MedicationId::IntermediateActingInsulin,
            4 => MedicationId::LongActingInsulin,
            5 => MedicationId::PreMixedInsulin,
            other => MedicationId::Reserved(other),
        }
    }

    /// 11073-10417 reports medication under a code per insulin type; a reserved id gets the generic code.
    pub fn code(self) -> MdcCode {
        match self {
            MedicationId::RapidActingInsulin => mdc::CTXT_MEDICATION_RAPIDACTING,
            MedicationId::ShortActingInsulin => mdc::CTXT_MEDICATION_SHORTACTING,
            MedicationId::IntermediateActingInsulin => mdc::CTXT_MEDICATION_INTERMEDIATEACTING,
            MedicationId::LongActingInsulin => mdc::CTXT_MEDICATION_LONGACTING,
            MedicationId::PreMixedInsulin => mdc::CTXT_MEDICATION_PREMIX,
            MedicationId::Reserved(_) => mdc::CTXT_MEDICATION,
        }
    }
}

/// Flags bit 5: the unit of the medication SFLOAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationUnit {
    Kilogram,
    Litre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Medication {
    pub id: MedicationId,
    /// In `unit` (kg or L), as sent.
    pub amount: MderFloat,
    pub unit: MedicationUnit,
}

/// A decoded 2A34 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlucoseContext {
    /// Pairs the context with the Glucose Measurement of the same sequence number.
    pub sequence_number: u16,
    /// Flags bit 7. All its bits are reserved for future use in GLS 1.0; kept as sent.
    pub extended_flags: Option<u8>,
    pub carbohydrate: Option<Carbohydrate>,
    pub meal: Option<Meal>,
    pub tester: Option<Tester>,
    pub health: Option<Health>,
    pub exercise: Option<Exercise>,
    pub medication: Option<Medication>,
    /// Percent.
    pub hba1c: Option<MderFloat>,
}

/// Decodes 2A34.
pub fn decode(bytes: &[u8]) -> Result<GlucoseContext, FrameError> {
    let mut frame = FrameReader::new(Characteristic::GlucoseMeasurementContext, bytes);
    let flags = frame.u8("flags", "every context starts with flags")?;
    let sequence_number = frame.u16("sequence number", "the sequence number is mandatory")?;
    let extended_flags = (flags & 0x80 != 0)
        .then(|| {
            frame.u8(
                "extended flags",
                "flags bit 7 says extended flags follow the sequence number",
            )
        })
        .transpose()?;
    let carbohydrate = if flags & 0x01 != 0 {
        let rule = "flags bit 0 says a carbohydrate id and amount follow";
        let id = CarbohydrateId::from_raw(frame.u8("carbohydrate id", rule)?);
        Some(Carbohydrate {
            id,
            kilograms: frame.sfloat("carbohydrate amount", rule)?,
        })
    } else {
        None
    };
    let meal = (flags & 0x02 != 0)
        .then(|| frame.u8("meal", "flags bit 1 says a meal follows"))
        .transpose()?
        .map(Meal::from_raw);
    let tester_health = (flags & 0x04 != 0)
        .then(|| frame.u8("tester and health", "flags bit 2 says a tester-health octet follows"))
        .transpose()?;
    // Tester is the low nibble, health the high nibble (GLS 3.107, same layout as type/location in 2A18).
    let tester = tester_health.map(|octet| Tester::from_nibble(octet & 0x0F));
    let health = tester_health.map(|octet| Health::from_nibble(octet >> 4));
    let exercise = if flags & 0x08 != 0 {
        let rule = "flags bit 3 says exercise duration and intensity follow";
        let duration_seconds = frame.u16("exercise duration", rule)?;
        Some(Exercise {
            duration_seconds,
            intensity_percent: frame.u8("exercise intensity", rule)?,
        })
    } else {
        None
    };
    let medication = if flags & 0x10 != 0 {
        let rule = "flags bit 4 says a medication id and amount follow";
        let id = MedicationId::from_raw(frame.u8("medication id", rule)?);
        let amount = frame.sfloat("medication amount", rule)?;
        let unit = if flags & 0x20 != 0 {
            MedicationUnit::Litre
        } else {
            MedicationUnit::Kilogram
        };
        Some(Medication { id, amount, unit })
    } else {
        None
    };
    let hba1c = (flags & 0x40 != 0)
        .then(|| frame.sfloat("HbA1c", "flags bit 6 says an HbA1c follows"))
        .transpose()?;
    frame.finish(u16::from(flags))?;
    Ok(GlucoseContext {
        sequence_number,
        extended_flags,
        carbohydrate,
        meal,
        tester,
        health,
        exercise,
        medication,
        hba1c,
    })
}

/// Moves the decimal point: kg → g is ×10^3, kg → mg ×10^6, L → mL ×10^3. Exact; the number of
/// significant digits the device sent is kept.
fn scaled(value: MderFloat, shift: i32) -> MderFloat {
    match value {
        MderFloat::Number(number) => MderFloat::Number(number.scaled_by_power_of_ten(shift)),
        special => special,
    }
}

impl GlucoseContext {
    /// The context as model measurements, all at `time` (the paired glucose measurement's time) and
    /// each qualifying the measurement at index `qualifies` (the glucose concentration), if any.
    ///
    /// Mapped: carbohydrates (g, code per meal), meal (coded), tester and health (coded, unless "not
    /// available"), exercise intensity (%), medication (mg or mL, code per insulin type), HbA1c (%).
    /// Not mapped (kept in the struct only): the exercise duration — 11073-10417 carries it as the
    /// exercise observation's measure-active-period, and the Bluetooth field does not say when the
    /// exercise happened, so no effective period can be built honestly — and the extended flags.
    pub fn measurements(&self, time: EffectiveTime, qualifies: Option<usize>) -> Vec<Measurement> {
        let mut out = Vec::new();
        if let Some(carbohydrate) = self.carbohydrate {
            let grams = quantity_or_absent(scaled(carbohydrate.kilograms, 3), "g");
            out.push(Measurement::simple(carbohydrate.id.code(), grams, time));
        }
        if let Some(value) = self.meal.and_then(Meal::code) {
            out.push(Measurement::simple(mdc::CTXT_GLU_MEAL, Value::Coded(value), time));
        }
        if let Some(value) = self.tester.and_then(Tester::code) {
            out.push(Measurement::simple(mdc::CTXT_GLU_TESTER, Value::Coded(value), time));
        }
        if let Some(value) = self.health.and_then(Health::code) {
            out.push(Measurement::simple(mdc::CTXT_GLU_HEALTH, Value::Coded(value), time));
        }
        if let Some(exercise) = self.exercise {
            let intensity = Quantity::new(Decimal::integer(i64::from(exercise.intensity_percent)), "%");
            out.push(Measurement::simple(
                mdc::CTXT_GLU_EXERCISE,
                Value::Quantity(intensity),
                time,
            ));
        }
        if let Some(medication) = self.medication {
            let value = match medication.unit {
                MedicationUnit::Kilogram => quantity_or_absent(scaled(medication.amount, 6), "mg"),
                MedicationUnit::Litre => quantity_or_absent(scaled(medication.amount, 3), "mL"),
            };
            out.push(Measurement::simple(medication.id.code(), value, time));
        }
        if let Some(hba1c) = self.hba1c {
            out.push(Measurement::simple(
                mdc::CONC_HBA1C,
                quantity_or_absent(hba1c, "%"),
                time,
            ));
        }
        if let Some(index) = qualifies {
            out = out.into_iter().map(|m| m.qualifying(index)).collect();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClockQuality, OffsetSource, Timestamp};
    use chrono::{FixedOffset, NaiveDate};

    fn number(mantissa: i64, exponent: i32) -> MderFloat {
        MderFloat::Number(Decimal::new(mantissa, exponent))
    }

    fn when() -> EffectiveTime {
        EffectiveTime::Instant(Timestamp {
            local: NaiveDate::from_ymd_opt(2019, 2, 27)
                .unwrap()
                .and_hms_opt(11, 5, 30)
                .unwrap(),
            offset: FixedOffset::east_opt(3600).unwrap(),
            quality: ClockQuality::DeviceClockWithRelativeOffset {
                offset: OffsetSource::Envelope,
            },
        })
    }

    fn full_frame() -> Vec<u8> {
        let hex = [
            "ff", "2a00", // flags (every field, medication in litres), sequence 42
            "00",   // extended flags
            "01", "32d0", // carbohydrate: breakfast, 50e-3 kg
            "05",   // meal: bedtime
            "51",   // tester self (low nibble 1), health none (high nibble 5)
            "1027", "50", // exercise 10000 s at 80 %
            "01", "0cd0", // medication: rapid-acting, 12e-3 L
            "4ff0", // HbA1c 7.9 %
        ]
        .concat();
        hex::decode(hex).unwrap()
    }

    #[test]
    fn full_context_decodes_every_field() {
        let context = decode(&full_frame()).unwrap();
        assert_eq!(context.sequence_number, 42);
        assert_eq!(context.extended_flags, Some(0));
        assert_eq!(
            context.carbohydrate,
            Some(Carbohydrate {
                id: CarbohydrateId::Breakfast,
                kilograms: number(50, -3)
            })
        );
        assert_eq!(context.meal, Some(Meal::Bedtime));
        assert_eq!(context.tester, Some(Tester::SelfTest));
        assert_eq!(context.health, Some(Health::NoIssues));
        assert_eq!(
            context.exercise,
            Some(Exercise {
                duration_seconds: 10000,
                intensity_percent: 80
            })
        );
        assert_eq!(
            context.medication,
            Some(Medication {
                id: MedicationId::RapidActingInsulin,
                amount: number(12, -3),
                unit: MedicationUnit::Litre
            })
        );
        assert_eq!(context.hba1c, Some(number(79, -1)));
    }

    #[test]
    fn measurements_convert_units_exactly_and_qualify_the_glucose() {
        let context = decode(&full_frame()).unwrap();
        let out = context.measurements(when(), Some(0));
        let codes: Vec<_> = out.iter().map(|m| m.code).collect();
        assert_eq!(
            codes,
            vec![
                mdc::CTXT_GLU_CARB_BREAKFAST,
                mdc::CTXT_GLU_MEAL,
                mdc::CTXT_GLU_TESTER,
                mdc::CTXT_GLU_HEALTH,
                mdc::CTXT_GLU_EXERCISE,
                mdc::CTXT_MEDICATION_RAPIDACTING,
                mdc::CONC_HBA1C,
            ]
        );
        assert!(out.iter().all(|m| m.qualifies == Some(0) && m.time == when()));
        let quantity = |i: usize| match &out[i].value {
            Some(Value::Quantity(Quantity { value, unit })) => (value.to_string(), unit.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(quantity(0), ("50".to_string(), "g".to_string()));
        assert_eq!(out[1].value, Some(Value::Coded(mdc::CTXT_GLU_MEAL_BEDTIME)));
        assert_eq!(out[2].value, Some(Value::Coded(mdc::CTXT_GLU_TESTER_SELF)));
        assert_eq!(out[3].value, Some(Value::Coded(mdc::CTXT_GLU_HEALTH_NONE)));
        assert_eq!(quantity(4), ("80".to_string(), "%".to_string()));
        assert_eq!(quantity(5), ("12".to_string(), "mL".to_string()));
        assert_eq!(quantity(6), ("7.9".to_string(), "%".to_string()));
    }

    #[test]
    fn medication_in_kilograms_becomes_milligrams() {
        // flags 0x10 (medication, kg), sequence 7, long-acting, 25e-6 kg = 25 mg.
        let context = decode(&hex::decode("1007000419a0").unwrap()).unwrap();
        let medication = context.medication.unwrap();
        assert_eq!(medication.unit, MedicationUnit::Kilogram);
        let out = context.measurements(when(), None);
        assert_eq!(out[0].code, mdc::CTXT_MEDICATION_LONGACTING);
        assert_eq!(
            out[0].value,
            Some(Value::Quantity(Quantity::new(Decimal::new(25, 0), "mg")))
        );
        assert_eq!(out[0].qualifies, None);
    }

    #[test]
    fn not_available_tester_and_health_are_not_mapped() {
        let context = decode(&hex::decode("040100ff").unwrap()).unwrap();
        assert_eq!(
            (context.tester, context.health),
            (Some(Tester::NotAvailable), Some(Health::NotAvailable))
        );
        assert!(context.measurements(when(), Some(0)).is_empty());
    }

    #[test]
    fn short_and_long_frames_are_rejected_with_offsets() {
        let err = decode(&hex::decode("4001").unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "sequence number",
                    offset: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = decode(&hex::decode("0801001027").unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "exercise intensity",
                    offset: 5,
                    ..
                }
            ),
            "{err}"
        );
        let err = decode(&hex::decode("02010001ff").unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::TrailingBytes {
                    offset: 4,
                    count: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}
