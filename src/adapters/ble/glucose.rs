//! Glucose Measurement (0x2A18), Bluetooth GLS 1.0.
//!
//! Layout: flags u8; sequence number u16; base time (7-byte Date Time); [time offset s16 minutes]
//! (b0); [concentration SFLOAT + type/sample-location u8] (b1); [sensor status annunciation u16]
//! (b3). Flags b2 gives the concentration unit (0 = kg/L, 1 = mol/L); b4 says a Glucose Measurement
//! Context (0x2A34) with the same sequence number follows.
//!
//! The type/sample-location octet holds the sample TYPE in its LOW nibble and the LOCATION in its
//! HIGH nibble (GLS; the Nordic vector `0x12` is capillary plasma from a finger).

use chrono::Duration;

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;
use super::glucose_context::GlucoseContext;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::{flag, quantity_or_absent};
use crate::codes::mdc;
use crate::model::{EffectiveTime, MdcCode, Measurement, QualityFlag, Value};

/// The concentration unit flags bit 2 selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcentrationUnit {
    /// kg/L on the wire; emitted as mg/dL (×10^5).
    KilogramPerLitre,
    /// mol/L on the wire; emitted as mmol/L (×10^3).
    MolePerLitre,
}

impl ConcentrationUnit {
    /// The UCUM unit the bridge emits: the units meters display and clinicians read.
    pub fn ucum(self) -> &'static str {
        match self {
            ConcentrationUnit::KilogramPerLitre => "mg/dL",
            ConcentrationUnit::MolePerLitre => "mmol/L",
        }
    }

    /// The power of ten from the wire unit to [`Self::ucum`]: 1 kg/L = 10^5 mg/dL, 1 mol/L = 10^3 mmol/L.
    pub fn shift(self) -> i32 {
        match self {
            ConcentrationUnit::KilogramPerLitre => 5,
            ConcentrationUnit::MolePerLitre => 3,
        }
    }
}

/// The sample type (low nibble of the type/location octet). 0 and 11–15 are reserved and rejected:
/// the type decides the code, so a reserved type leaves nothing to report the value under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    CapillaryWholeBlood,
    CapillaryPlasma,
    VenousWholeBlood,
    VenousPlasma,
    ArterialWholeBlood,
    ArterialPlasma,
    UndeterminedWholeBlood,
    UndeterminedPlasma,
    InterstitialFluid,
    ControlSolution,
}

impl SampleType {
    /// The sample type a Type nibble (1–10) names; `None` for reserved values.
    pub fn from_nibble(raw: u8) -> Option<Self> {
        Some(match raw {
            1 => SampleType::CapillaryWholeBlood,
            2 => SampleType::CapillaryPlasma,
            3 => SampleType::VenousWholeBlood,
            4 => SampleType::VenousPlasma,
            5 => SampleType::ArterialWholeBlood,
            6 => SampleType::ArterialPlasma,
            7 => SampleType::UndeterminedWholeBlood,
            8 => SampleType::UndeterminedPlasma,
            9 => SampleType::InterstitialFluid,
            10 => SampleType::ControlSolution,
            _ => return None,
        })
    }

    /// The 11073-10417 concentration code for this sample type.
    pub fn code(self) -> MdcCode {
        match self {
            SampleType::CapillaryWholeBlood => mdc::CONC_GLU_CAPILLARY_WHOLEBLOOD,
            SampleType::CapillaryPlasma => mdc::CONC_GLU_CAPILLARY_PLASMA,
            SampleType::VenousWholeBlood => mdc::CONC_GLU_VENOUS_WHOLEBLOOD,
            SampleType::VenousPlasma => mdc::CONC_GLU_VENOUS_PLASMA,
            SampleType::ArterialWholeBlood => mdc::CONC_GLU_ARTERIAL_WHOLEBLOOD,
            SampleType::ArterialPlasma => mdc::CONC_GLU_ARTERIAL_PLASMA,
            SampleType::UndeterminedWholeBlood => mdc::CONC_GLU_UNDETERMINED_WHOLEBLOOD,
            SampleType::UndeterminedPlasma => mdc::CONC_GLU_UNDETERMINED_PLASMA,
            SampleType::InterstitialFluid => mdc::CONC_GLU_ISF,
            SampleType::ControlSolution => mdc::CONC_GLU_CONTROL,
        }
    }
}

/// The sample location (high nibble of the type/location octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleLocation {
    Finger,
    /// Alternate site test (AST), e.g. palm or forearm.
    AlternateSite,
    Earlobe,
    ControlSolution,
    /// 15: the device does not know.
    NotAvailable,
    /// 0 and 5–14. Kept, not rejected: the location only adds context to the value.
    Reserved(u8),
}

impl SampleLocation {
    /// The sample location a Location nibble names.
    pub fn from_nibble(raw: u8) -> Self {
        match raw {
            1 => SampleLocation::Finger,
            2 => SampleLocation::AlternateSite,
            3 => SampleLocation::Earlobe,
            4 => SampleLocation::ControlSolution,
            15 => SampleLocation::NotAvailable,
            other => SampleLocation::Reserved(other),
        }
    }

    /// The coded value of `MDC_CTXT_GLU_SAMPLELOCATION`; none when not available or reserved.
    pub fn code(self) -> Option<MdcCode> {
        match self {
            SampleLocation::Finger => Some(mdc::CTXT_GLU_SAMPLELOCATION_FINGER),
            SampleLocation::AlternateSite => Some(mdc::CTXT_GLU_SAMPLELOCATION_AST),
            SampleLocation::Earlobe => Some(mdc::CTXT_GLU_SAMPLELOCATION_EARLOBE),
            SampleLocation::ControlSolution => Some(mdc::CTXT_GLU_SAMPLELOCATION_CTRLSOLUTION),
            SampleLocation::NotAvailable | SampleLocation::Reserved(_) => None,
        }
    }
}

/// The concentration with what it was measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlucoseConcentration {
    /// As sent, in the wire unit (kg/L or mol/L).
    pub value: MderFloat,
    pub unit: ConcentrationUnit,
    pub sample_type: SampleType,
    pub sample_location: SampleLocation,
}

impl GlucoseConcentration {
    /// The value in the emitted unit (mg/dL or mmol/L): only the exponent moves, so SFLOAT 30 kg/L
    /// becomes 3000000 mg/dL and 120e-5 kg/L becomes 120 mg/dL — exact, never via `f64`.
    pub fn converted(&self) -> MderFloat {
        match self.value {
            MderFloat::Number(number) => MderFloat::Number(number.scaled_by_power_of_ten(self.unit.shift())),
            special => special,
        }
    }
}

/// Names of bits 0–10 of the Sensor Status Annunciation. The Bluetooth bits 0–10 are the bits of the
/// 11073-10417 `MDC_GLU_METER_DEV_STATUS` BITs attribute, so the names are the PHD IG's ASN1 names
/// (code system ASN1ToHL7, `8417752.<bit>`).
const SENSOR_STATUS_BITS: [&str; 11] = [
    "device-battery-low",
    "sensor-malfunction",
    "sensor-sample-size-insufficient",
    "sensor-strip-insertion",
    "sensor-strip-type-incorrect",
    "sensor-result-too-high",
    "sensor-result-too-low",
    "sensor-temp-too-high",
    "sensor-temp-too-low",
    "sensor-read-interrupt",
    "device-gen-fault",
];

/// The 16-bit Sensor Status Annunciation field (bits 0–11 defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorStatus(pub u16);

impl SensorStatus {
    fn bit(self, bit: u8) -> bool {
        self.0 & (1 << bit) != 0
    }
    pub fn battery_low(self) -> bool {
        self.bit(0)
    }
    pub fn sensor_malfunction(self) -> bool {
        self.bit(1)
    }
    /// Bit 2 (Nordic's test comment calls it "device fault"; GLS says sample size insufficient).
    pub fn sample_size_insufficient(self) -> bool {
        self.bit(2)
    }
    pub fn strip_insertion_error(self) -> bool {
        self.bit(3)
    }
    pub fn strip_type_incorrect(self) -> bool {
        self.bit(4)
    }
    /// The result is higher than the device can process.
    pub fn result_too_high(self) -> bool {
        self.bit(5)
    }
    /// The result is lower than the device can process.
    pub fn result_too_low(self) -> bool {
        self.bit(6)
    }
    pub fn temperature_too_high(self) -> bool {
        self.bit(7)
    }
    pub fn temperature_too_low(self) -> bool {
        self.bit(8)
    }
    /// The strip was pulled too soon.
    pub fn read_interrupted(self) -> bool {
        self.bit(9)
    }
    pub fn general_device_fault(self) -> bool {
        self.bit(10)
    }
    /// Bit 11: the device's clock had a fault. Decoded but not emitted as a flag: bit 11 of
    /// `MDC_GLU_METER_DEV_STATUS` means something else in the PHD IG (`8417752.11`,
    /// sensor-temp-out-of-range), so emitting it there would misstate it.
    pub fn time_fault(self) -> bool {
        self.bit(11)
    }

    /// Whether the device says the value cannot be relied on: the sensor, sample or strip was bad, the
    /// read was interrupted or the device faulted. "Result too high/low" is not among them: it says the
    /// value is out of the measuring range, which the flags carry; it does not make the value wrong.
    pub fn makes_value_questionable(self) -> bool {
        self.sensor_malfunction()
            || self.sample_size_insufficient()
            || self.strip_insertion_error()
            || self.strip_type_incorrect()
            || self.read_interrupted()
            || self.general_device_fault()
    }
}

/// A decoded 2A18 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlucoseMeasurement {
    /// Pairs the measurement with its context (2A34) and identifies it in the device's record store.
    pub sequence_number: u16,
    pub base_time: DeviceDateTime,
    /// Minutes to add to the base time (may be negative).
    pub time_offset_minutes: Option<i16>,
    pub concentration: Option<GlucoseConcentration>,
    pub status: Option<SensorStatus>,
    /// Flags bit 4: a Glucose Measurement Context with the same sequence number follows.
    pub context_follows: bool,
}

/// Decodes 2A18.
pub fn decode(bytes: &[u8]) -> Result<GlucoseMeasurement, FrameError> {
    let mut frame = FrameReader::new(Characteristic::GlucoseMeasurement, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let sequence_number = frame.u16("sequence number", "the sequence number is mandatory")?;
    let base_time = frame.date_time("base time", "the base time is mandatory")?;
    let time_offset_minutes = (flags & 0x01 != 0)
        .then(|| frame.i16("time offset", "flags bit 0 says a time offset follows"))
        .transpose()?;
    let concentration = if flags & 0x02 != 0 {
        let rule = "flags bit 1 says a concentration and type/sample location follow";
        let value = frame.sfloat("glucose concentration", rule)?;
        let octet_offset = frame.offset();
        let octet = frame.u8("type and sample location", rule)?;
        let sample_type = SampleType::from_nibble(octet & 0x0F).ok_or_else(|| {
            frame.invalid_at(
                "type and sample location",
                octet_offset,
                format!(
                    "sample type {} (low nibble of 0x{octet:02X}) is reserved; GLS defines 1–10",
                    octet & 0x0F
                ),
            )
        })?;
        let unit = if flags & 0x04 != 0 {
            ConcentrationUnit::MolePerLitre
        } else {
            ConcentrationUnit::KilogramPerLitre
        };
        Some(GlucoseConcentration {
            value,
            unit,
            sample_type,
            sample_location: SampleLocation::from_nibble(octet >> 4),
        })
    } else {
        None
    };
    let status = (flags & 0x08 != 0)
        .then(|| {
            frame.u16(
                "sensor status annunciation",
                "flags bit 3 says a sensor status annunciation follows",
            )
        })
        .transpose()?
        .map(SensorStatus);
    frame.finish(u16::from(flags))?;
    Ok(GlucoseMeasurement {
        sequence_number,
        base_time,
        time_offset_minutes,
        concentration,
        status,
        context_follows: flags & 0x10 != 0,
    })
}

impl GlucoseMeasurement {
    /// Base time plus the time offset. GLS has the device keep the base time and report clock changes
    /// as an offset, so the sum is the time the user saw (Nordic: 11:10:30 − 5 min = 11:05:30). An
    /// incomplete base time falls back to the receipt time (see [`TimeContext`]).
    pub fn effective_time(&self, time: &TimeContext) -> EffectiveTime {
        match self.time_offset_minutes {
            Some(minutes) => time.offset_time(self.base_time, Duration::minutes(i64::from(minutes))),
            None => time.measurement_time(Some(self.base_time)),
        }
    }

    /// The model measurements, in this order: the concentration (index 0, when flagged); its sample
    /// location (coded, when known); the sensor status as flags; then the context's measurements. All
    /// but the concentration qualify it (`qualifies = Some(0)`); without a concentration they qualify
    /// nothing. All share the glucose's effective time.
    ///
    /// `context` is the 2A34 the caller paired with this measurement by sequence number; it is used as
    /// given (pairing is the caller's job).
    ///
    /// Quality: status bits that make the value unreliable → `Questionable`; a control-solution type or
    /// location → `TestData` (a control-solution check is a test of the meter, not a patient value).
    pub fn measurements(&self, time: &TimeContext, context: Option<&GlucoseContext>) -> Vec<Measurement> {
        let when = self.effective_time(time);
        let mut out = Vec::new();
        let anchor = self.concentration.map(|concentration| {
            let mut quality = Vec::new();
            if self.status.is_some_and(SensorStatus::makes_value_questionable) {
                quality.push(QualityFlag::Questionable);
            }
            if concentration.sample_type == SampleType::ControlSolution
                || concentration.sample_location == SampleLocation::ControlSolution
            {
                quality.push(QualityFlag::TestData);
            }
            let value = quantity_or_absent(concentration.converted(), concentration.unit.ucum());
            out.push(Measurement::simple(concentration.sample_type.code(), value, when).with_quality(quality));
            if let Some(location) = concentration.sample_location.code() {
                out.push(Measurement::simple(mdc::CTXT_GLU_SAMPLELOCATION, Value::Coded(location), when).qualifying(0));
            }
            0
        });
        if let Some(status) = self.status {
            let flags = SENSOR_STATUS_BITS
                .iter()
                .zip(0u8..)
                .map(|(name, bit)| flag(bit, name, status.bit(bit)))
                .collect();
            let measurement = Measurement::simple(mdc::GLU_METER_DEV_STATUS, Value::Flags(flags), when);
            out.push(match anchor {
                Some(index) => measurement.qualifying(index),
                None => measurement,
            });
        }
        if let Some(context) = context {
            out.extend(context.measurements(when, anchor));
        }
        out
    }
}

#[cfg(test)]
mod tests;
