//! A cursor over one characteristic value that never reads out of bounds: every read names the field
//! it wants and the rule that put it there, so a short frame becomes a precise [`FrameError`].

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;

/// Reads little-endian fields from a characteristic value, front to back.
pub struct FrameReader<'a> {
    characteristic: Characteristic,
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> FrameReader<'a> {
    pub fn new(characteristic: Characteristic, bytes: &'a [u8]) -> Self {
        FrameReader {
            characteristic,
            bytes,
            offset: 0,
        }
    }

    /// The offset of the next unread byte.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn characteristic(&self) -> Characteristic {
        self.characteristic
    }

    /// Takes `N` bytes for `field`, or reports that the frame ends too early.
    fn take<const N: usize>(&mut self, field: &'static str, rule: &'static str) -> Result<[u8; N], FrameError> {
        let available = self.remaining();
        let chunk = self
            .bytes
            .get(self.offset..self.offset + N)
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or(FrameError::Truncated {
                characteristic: self.characteristic,
                field,
                offset: self.offset,
                needed: N,
                available,
                rule,
            })?;
        self.offset += N;
        Ok(chunk)
    }

    pub fn u8(&mut self, field: &'static str, rule: &'static str) -> Result<u8, FrameError> {
        self.take::<1>(field, rule).map(|[b]| b)
    }

    pub fn u16(&mut self, field: &'static str, rule: &'static str) -> Result<u16, FrameError> {
        self.take::<2>(field, rule).map(u16::from_le_bytes)
    }

    pub fn i16(&mut self, field: &'static str, rule: &'static str) -> Result<i16, FrameError> {
        self.take::<2>(field, rule).map(i16::from_le_bytes)
    }

    pub fn u24(&mut self, field: &'static str, rule: &'static str) -> Result<u32, FrameError> {
        self.take::<3>(field, rule)
            .map(|[a, b, c]| u32::from_le_bytes([a, b, c, 0]))
    }

    pub fn sfloat(&mut self, field: &'static str, rule: &'static str) -> Result<MderFloat, FrameError> {
        self.u16(field, rule).map(MderFloat::from_sfloat)
    }

    pub fn float(&mut self, field: &'static str, rule: &'static str) -> Result<MderFloat, FrameError> {
        self.take::<4>(field, rule)
            .map(|b| MderFloat::from_float(u32::from_le_bytes(b)))
    }

    /// Reads and validates a 7-byte Date Time.
    pub fn date_time(&mut self, field: &'static str, rule: &'static str) -> Result<DeviceDateTime, FrameError> {
        let start = self.offset;
        let [y0, y1, month, day, hours, minutes, seconds] = self.take::<7>(field, rule)?;
        let value = DeviceDateTime {
            year: u16::from_le_bytes([y0, y1]),
            month,
            day,
            hours,
            minutes,
            seconds,
        };
        value
            .validate()
            .map_err(|violation| self.invalid_at(field, start, violation.0))?;
        Ok(value)
    }

    /// An error for a field whose bytes were present but whose value breaks a rule.
    pub fn invalid_at(&self, field: &'static str, offset: usize, rule: String) -> FrameError {
        FrameError::InvalidField {
            characteristic: self.characteristic,
            field,
            offset,
            rule,
        }
    }

    /// Ends the frame: anything left over means the flags and the length disagree.
    pub fn finish(self, flags: u16) -> Result<(), FrameError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(FrameError::TrailingBytes {
                characteristic: self.characteristic,
                offset: self.offset,
                count,
                flags,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_read_names_field_offset_and_rule() {
        let mut reader = FrameReader::new(Characteristic::BloodPressureMeasurement, &[0x02, 0x7B]);
        reader.u8("flags", "always present").unwrap();
        let err = reader
            .date_time("timestamp", "flags bit 1 says a timestamp follows")
            .unwrap_err();
        assert_eq!(
            err,
            FrameError::Truncated {
                characteristic: Characteristic::BloodPressureMeasurement,
                field: "timestamp",
                offset: 1,
                needed: 7,
                available: 1,
                rule: "flags bit 1 says a timestamp follows",
            }
        );
        assert!(err.to_string().contains("2A35"));
    }

    #[test]
    fn leftover_bytes_are_an_error() {
        let mut reader = FrameReader::new(Characteristic::HeartRateMeasurement, &[0x00, 0x50, 0x99]);
        reader.u8("flags", "").unwrap();
        reader.u8("heart rate", "").unwrap();
        assert!(matches!(
            reader.finish(0),
            Err(FrameError::TrailingBytes {
                offset: 2,
                count: 1,
                ..
            })
        ));
    }

    #[test]
    fn u24_is_little_endian() {
        let mut reader = FrameReader::new(Characteristic::PlxSpotCheckMeasurement, &[0x22, 0x00, 0x01]);
        assert_eq!(reader.u24("device and sensor status", "").unwrap(), 0x01_0022);
    }
}
