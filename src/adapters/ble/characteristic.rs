//! The GATT characteristics the bridge decodes, identified by their 16-bit UUIDs.

use std::fmt;

use thiserror::Error;

/// A characteristic UUID the bridge does not know, or text that is not a UUID.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CharacteristicIdError {
    #[error(
        "not a Bluetooth characteristic UUID: give the 16-bit form (e.g. 2A35) or the full \
         128-bit form (0000xxxx-0000-1000-8000-00805f9b34fb)"
    )]
    /// The text is kept for the program, never shown.
    Malformed(String),
    #[error("characteristic {0:04X} is not one the bridge decodes; supported: {supported}", supported = Characteristic::supported_list())]
    Unsupported(u16),
}

/// Polar's PMD (Polar Measurement Data) data characteristic, lower case.
pub const POLAR_PMD_DATA_UUID: &str = "fb005c82-02e7-f387-1cad-8acd2d8df0c8";

/// The Bluetooth SIG base UUID's fixed tail: a 16-bit UUID `xxxx` is `0000xxxx-` followed by this.
const BLUETOOTH_BASE_UUID_TAIL: &str = "-0000-1000-8000-00805f9b34fb";

macro_rules! characteristics {
    ($($variant:ident = $uuid:literal, $name:literal;)*) => {
        /// A supported health characteristic: the Bluetooth SIG's, by their 16-bit UUIDs, and a
        /// vendor's stream by its 128-bit UUID.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Characteristic {
            $($variant,)*
            /// Polar's PMD data characteristic (ECG from the H10): [`POLAR_PMD_DATA_UUID`].
            PolarPmdData,
        }

        impl Characteristic {
            /// Every supported characteristic: the SIG's in UUID order, then the vendors'.
            pub const ALL: &'static [Characteristic] = &[$(Characteristic::$variant,)* Characteristic::PolarPmdData];

            /// The assigned 16-bit UUID of a SIG characteristic; `None` for a vendor's.
            pub const fn short_uuid(self) -> Option<u16> {
                match self {
                    $(Characteristic::$variant => Some($uuid),)*
                    Characteristic::PolarPmdData => None,
                }
            }

            /// The characteristic's name in the Bluetooth assigned numbers (or the vendor's).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Characteristic::$variant => $name,)*
                    Characteristic::PolarPmdData => "Polar PMD Data (ECG)",
                }
            }

            fn from_uuid(uuid: u16) -> Option<Self> {
                match uuid { $($uuid => Some(Characteristic::$variant),)* _ => None }
            }
        }
    };
}

characteristics! {
    GlucoseMeasurementContext = 0x2A34, "Glucose Measurement Context";
    GlucoseMeasurement = 0x2A18, "Glucose Measurement";
    TemperatureMeasurement = 0x2A1C, "Temperature Measurement";
    BloodPressureMeasurement = 0x2A35, "Blood Pressure Measurement";
    IntermediateCuffPressure = 0x2A36, "Intermediate Cuff Pressure";
    HeartRateMeasurement = 0x2A37, "Heart Rate Measurement";
    PlxSpotCheckMeasurement = 0x2A5E, "PLX Spot-Check Measurement";
    PlxContinuousMeasurement = 0x2A5F, "PLX Continuous Measurement";
    BodyCompositionMeasurement = 0x2A9C, "Body Composition Measurement";
    WeightMeasurement = 0x2A9D, "Weight Measurement";
    CgmMeasurement = 0x2AA7, "CGM Measurement";
    CgmSessionStartTime = 0x2AAA, "CGM Session Start Time";
}

impl Characteristic {
    /// Parses `2A35`, `0x2A35`, `00002a35-0000-1000-8000-00805f9b34fb` or the same without dashes
    /// (any case).
    pub fn parse(text: &str) -> Result<Self, CharacteristicIdError> {
        let malformed = || CharacteristicIdError::Malformed(text.to_string());
        let mut lower = text.trim().to_ascii_lowercase();
        // UUIDs are ASCII; anything else would also make the byte slicing below split a character.
        if !lower.is_ascii() {
            return Err(malformed());
        }
        // 32 hex digits without dashes (nRF Cloud, some SDKs): the dashed form.
        if lower.len() == 32 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            lower = format!(
                "{}-{}-{}-{}-{}",
                &lower[..8],
                &lower[8..12],
                &lower[12..16],
                &lower[16..20],
                &lower[20..]
            );
        }
        if lower == POLAR_PMD_DATA_UUID {
            return Ok(Characteristic::PolarPmdData);
        }
        let short = if lower.len() == 36 {
            let (head, tail) = lower.split_at(8);
            if tail != BLUETOOTH_BASE_UUID_TAIL || !head.starts_with("0000") {
                return Err(malformed());
            }
            &head[4..]
        } else {
            lower.strip_prefix("0x").unwrap_or(&lower)
        };
        if short.len() != 4 {
            return Err(malformed());
        }
        let uuid = u16::from_str_radix(short, 16).map_err(|_| malformed())?;
        Characteristic::from_uuid(uuid).ok_or(CharacteristicIdError::Unsupported(uuid))
    }

    fn supported_list() -> String {
        Characteristic::ALL
            .iter()
            .map(|c| c.uuid_text())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Characteristic {
    /// The UUID as hubs send it: `2A35` for a SIG characteristic, the full 128-bit form (upper case)
    /// for a vendor's.
    pub fn uuid_text(self) -> String {
        match self.short_uuid() {
            Some(short) => format!("{short:04X}"),
            None => POLAR_PMD_DATA_UUID.to_ascii_uppercase(),
        }
    }
}

impl fmt::Display for Characteristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.uuid_text(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_short_prefixed_and_full_uuids() {
        for text in [
            "2A9D",
            "2a9d",
            "0x2A9D",
            "00002a9d-0000-1000-8000-00805f9b34fb",
            "00002A9D-0000-1000-8000-00805F9B34FB",
            "00002A9D00001000800000805F9B34FB",
        ] {
            assert_eq!(
                Characteristic::parse(text),
                Ok(Characteristic::WeightMeasurement),
                "{text}"
            );
        }
    }

    #[test]
    fn non_ascii_text_of_uuid_length_is_malformed_not_a_panic() {
        // 7 ASCII + 'é' (2 bytes) + 27 ASCII = 36 bytes: byte 8 falls inside 'é'.
        let text = format!("0000000\u{e9}{}", "a".repeat(27));
        assert_eq!(text.len(), 36);
        assert!(matches!(
            Characteristic::parse(&text),
            Err(CharacteristicIdError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_foreign_and_malformed_uuids() {
        assert_eq!(
            Characteristic::parse("2A00"),
            Err(CharacteristicIdError::Unsupported(0x2A00))
        );
        assert!(matches!(
            Characteristic::parse("2A9"),
            Err(CharacteristicIdError::Malformed(_))
        ));
        // A vendor 128-bit UUID is not on the Bluetooth base.
        assert!(matches!(
            Characteristic::parse("00002a9d-0000-1000-8000-00805f9b34fc"),
            Err(CharacteristicIdError::Malformed(_))
        ));
        let message = Characteristic::parse("2A00").unwrap_err().to_string();
        assert!(message.contains("2A35") && message.contains("2AA7"), "{message}");
    }
}
