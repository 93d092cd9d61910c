//! Temperature Measurement (0x2A1C), Bluetooth HTS 1.0.
//!
//! Layout: flags u8; temperature FLOAT; [timestamp] (bit 1); [temperature type u8] (bit 2).
//! Bit 0 selects Fahrenheit over Celsius.

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::quantity_or_absent;
use crate::codes::mdc;
use crate::model::{MdcCode, Measurement};

/// The body site the Temperature Type field (0x2A1D) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemperatureSite {
    Armpit,
    Body,
    Ear,
    Finger,
    GastroIntestinalTract,
    Mouth,
    Rectum,
    Toe,
    Tympanum,
}

impl TemperatureSite {
    /// The site a Temperature Type value (1–9) names; `None` for reserved values.
    pub fn from_type(value: u8) -> Option<Self> {
        use TemperatureSite::*;
        Some(match value {
            1 => Armpit,
            2 => Body,
            3 => Ear,
            4 => Finger,
            5 => GastroIntestinalTract,
            6 => Mouth,
            7 => Rectum,
            8 => Toe,
            9 => Tympanum,
            _ => return None,
        })
    }

    /// The site-specific 11073-10408 code (the PHD transcoding maps the type to the code, not to
    /// `bodySite`); "body (general)" is the generic body temperature.
    pub fn code(self) -> MdcCode {
        use TemperatureSite::*;
        match self {
            Armpit => mdc::TEMP_AXILLA,
            Body => mdc::TEMP_BODY,
            Ear => mdc::TEMP_EAR,
            Finger => mdc::TEMP_FINGER,
            GastroIntestinalTract => mdc::TEMP_GIT,
            Mouth => mdc::TEMP_ORAL,
            Rectum => mdc::TEMP_RECT,
            Toe => mdc::TEMP_TOE,
            Tympanum => mdc::TEMP_TYMP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemperatureMeasurement {
    pub fahrenheit: bool,
    pub temperature: MderFloat,
    pub timestamp: Option<DeviceDateTime>,
    pub site: Option<TemperatureSite>,
}

pub fn decode(bytes: &[u8]) -> Result<TemperatureMeasurement, FrameError> {
    let mut frame = FrameReader::new(Characteristic::TemperatureMeasurement, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let temperature = frame.float("temperature", "the temperature FLOAT is mandatory")?;
    let timestamp = (flags & 0x02 != 0)
        .then(|| frame.date_time("timestamp", "flags bit 1 says a timestamp follows"))
        .transpose()?;
    let site = if flags & 0x04 != 0 {
        let offset = frame.offset();
        let raw = frame.u8("temperature type", "flags bit 2 says a temperature type follows")?;
        Some(TemperatureSite::from_type(raw).ok_or_else(|| {
            frame.invalid_at(
                "temperature type",
                offset,
                format!("type {raw} is reserved (defined: 1–9)"),
            )
        })?)
    } else {
        None
    };
    frame.finish(u16::from(flags))?;
    Ok(TemperatureMeasurement {
        fahrenheit: flags & 0x01 != 0,
        temperature,
        timestamp,
        site,
    })
}

impl TemperatureMeasurement {
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let code = self.site.map_or(mdc::TEMP_BODY, TemperatureSite::code);
        let unit = if self.fahrenheit { "[degF]" } else { "Cel" };
        vec![Measurement::simple(
            code,
            quantity_or_absent(self.temperature, unit),
            time.measurement_time(self.timestamp),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Decimal;

    #[test]
    fn nordic_full_keeps_two_decimals() {
        let t = decode(&hex::decode("06b00e00fedc070c050b321b04").unwrap()).unwrap();
        assert_eq!(t.temperature, MderFloat::Number(Decimal::new(3760, -2)));
        assert!(!t.fahrenheit);
        assert_eq!(t.site, Some(TemperatureSite::Finger));
        assert_eq!(
            t.timestamp.unwrap().to_naive().unwrap().to_string(),
            "2012-12-05 11:50:27"
        );
    }

    #[test]
    fn missing_type_byte_is_named() {
        let err = decode(&hex::decode("06b00e00fedc070c050b321b").unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "temperature type",
                    offset: 12,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn reserved_type_is_rejected() {
        let err = decode(&hex::decode("04b00e00fe0a").unwrap()).unwrap_err();
        assert!(err.to_string().contains("type 10 is reserved"), "{err}");
    }
}
