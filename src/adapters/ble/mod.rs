//! Bluetooth GATT health characteristics: raw characteristic values in, model measurements out.
//!
//! Each characteristic has a decoder that turns bytes into a typed value (so tests can check every
//! field against the public vectors) and a conversion of that value into model measurements.
//! [`envelope`] reads the JSON a hub posts and assembles a [`crate::model::Reading`].

pub mod blood_pressure;
pub mod body_composition;
pub mod cgm;
pub mod characteristic;
pub mod date_time;
pub mod envelope;
pub mod error;
pub mod float;
pub mod glucose;
pub mod glucose_context;
pub mod heart_rate;
mod pairing;
pub mod polar_ecg;
pub mod pulse_oximetry;
pub mod reader;
pub mod temperature;
pub mod time_context;
mod value;
pub mod weight;

pub use characteristic::{Characteristic, CharacteristicIdError};
pub use error::FrameError;
pub use float::MderFloat;
pub use time_context::TimeContext;

use crate::model::{DeviceKind, Measurement};

/// A decoded characteristic value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    BloodPressure(blood_pressure::BloodPressureMeasurement),
    HeartRate(heart_rate::HeartRateMeasurement),
    Temperature(temperature::TemperatureMeasurement),
    Weight(weight::WeightMeasurement),
    BodyComposition(body_composition::BodyCompositionMeasurement),
    PulseOximetry(pulse_oximetry::PulseOximetryMeasurement),
    Glucose(glucose::GlucoseMeasurement),
    GlucoseContext(glucose_context::GlucoseContext),
    /// The records of one CGM notification.
    Cgm(Vec<cgm::CgmRecord>),
    CgmSessionStart(cgm::CgmSessionStart),
    /// A Polar H10 ECG frame.
    PolarEcg(polar_ecg::EcgFrame),
}

/// Decodes one characteristic value.
pub fn decode(characteristic: Characteristic, bytes: &[u8]) -> Result<Decoded, FrameError> {
    use Characteristic as C;
    Ok(match characteristic {
        C::BloodPressureMeasurement | C::IntermediateCuffPressure => {
            Decoded::BloodPressure(blood_pressure::decode(characteristic, bytes)?)
        }
        C::HeartRateMeasurement => Decoded::HeartRate(heart_rate::decode(bytes)?),
        C::TemperatureMeasurement => Decoded::Temperature(temperature::decode(bytes)?),
        C::WeightMeasurement => Decoded::Weight(weight::decode(bytes)?),
        C::BodyCompositionMeasurement => Decoded::BodyComposition(body_composition::decode(bytes)?),
        C::PlxSpotCheckMeasurement | C::PlxContinuousMeasurement => {
            Decoded::PulseOximetry(pulse_oximetry::decode(characteristic, bytes)?)
        }
        C::GlucoseMeasurement => Decoded::Glucose(glucose::decode(bytes)?),
        C::GlucoseMeasurementContext => Decoded::GlucoseContext(glucose_context::decode(bytes)?),
        C::CgmMeasurement => Decoded::Cgm(cgm::decode(bytes)?),
        C::CgmSessionStartTime => Decoded::CgmSessionStart(cgm::decode_session_start(bytes)?),
        C::PolarPmdData => Decoded::PolarEcg(polar_ecg::decode(bytes)?),
    })
}

impl Decoded {
    /// The model measurements of a value that stands on its own; `None` for values that need a partner
    /// from the same envelope (glucose context, CGM records, the CGM session start), which
    /// [`pairing`] combines.
    pub fn standalone_measurements(&self, time: &TimeContext) -> Option<Vec<Measurement>> {
        Some(match self {
            Decoded::BloodPressure(value) => value.measurements(time),
            Decoded::HeartRate(value) => value.measurements(time),
            Decoded::Temperature(value) => value.measurements(time),
            Decoded::Weight(value) => value.measurements(time),
            Decoded::BodyComposition(value) => value.measurements(time),
            Decoded::PulseOximetry(value) => value.measurements(time),
            Decoded::Glucose(value) => value.measurements(time, None),
            Decoded::PolarEcg(value) => value.measurements(time),
            Decoded::GlucoseContext(_) | Decoded::Cgm(_) | Decoded::CgmSessionStart(_) => return None,
        })
    }

    /// The kind of device that sends this characteristic.
    pub fn device_kind(&self) -> Option<DeviceKind> {
        Some(match self {
            Decoded::BloodPressure(_) => DeviceKind::BloodPressureMonitor,
            Decoded::HeartRate(_) => DeviceKind::HeartRateSensor,
            Decoded::Temperature(_) => DeviceKind::Thermometer,
            Decoded::Weight(_) => DeviceKind::WeightScale,
            Decoded::BodyComposition(_) => DeviceKind::BodyCompositionAnalyzer,
            Decoded::PulseOximetry(_) => DeviceKind::PulseOximeter,
            Decoded::Glucose(_) | Decoded::GlucoseContext(_) => DeviceKind::GlucoseMeter,
            Decoded::Cgm(_) | Decoded::CgmSessionStart(_) => DeviceKind::ContinuousGlucoseMonitor,
            // The H10 is a heart-rate chest strap that also streams its ECG.
            Decoded::PolarEcg(_) => DeviceKind::HeartRateSensor,
        })
    }
}
