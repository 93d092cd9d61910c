//! Characteristic values as a device writes them (Bluetooth SIG service specifications): the bytes a
//! hub forwards, built from simulated values. The layouts are the ones `adapters::ble` reads; the
//! simulator's tests read every one back through it.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// IEEE 11073-20601 SFLOAT: a 4-bit exponent and a 12-bit mantissa, `value` to `decimals` places.
fn sfloat(value: f64, decimals: u8) -> [u8; 2] {
    let mantissa = (value * 10f64.powi(i32::from(decimals))).round() as i32;
    // The reserved mantissas (NaN, NRes, ±INF) are ±2045..2047: stay inside them.
    let mantissa = mantissa.clamp(-2000, 2000);
    let exponent = -i32::from(decimals);
    let raw = (((exponent & 0x0F) as u16) << 12) | ((mantissa as u16) & 0x0FFF);
    raw.to_le_bytes()
}

/// IEEE 11073-20601 FLOAT: an 8-bit exponent and a 24-bit mantissa.
fn float(value: f64, decimals: u8) -> [u8; 4] {
    let mantissa = (value * 10f64.powi(i32::from(decimals))).round() as i32;
    let exponent = -i32::from(decimals);
    let raw = ((exponent as u32) << 24) | ((mantissa as u32) & 0x00FF_FFFF);
    raw.to_le_bytes()
}

/// The Date Time characteristic: year (u16), month, day, hours, minutes, seconds.
fn date_time(at: DateTime<Utc>) -> [u8; 7] {
    let [year_low, year_high] = (at.year() as u16).to_le_bytes();
    [
        year_low,
        year_high,
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    ]
}

/// Blood Pressure Measurement (2A35), mmHg, with a timestamp and the pulse rate.
pub fn blood_pressure(systolic: f64, diastolic: f64, pulse: f64, at: DateTime<Utc>) -> Vec<u8> {
    let mean = diastolic + (systolic - diastolic) / 3.0;
    let mut bytes = vec![0b0000_0110];
    bytes.extend(sfloat(systolic, 0));
    bytes.extend(sfloat(diastolic, 0));
    bytes.extend(sfloat(mean, 0));
    bytes.extend(date_time(at));
    bytes.extend(sfloat(pulse, 0));
    bytes
}

/// Heart Rate Measurement (2A37): 8-bit beats per minute, sensor contact detected.
pub fn heart_rate(bpm: f64) -> Vec<u8> {
    vec![0b0000_0110, bpm.round().clamp(0.0, 255.0) as u8]
}

/// Temperature Measurement (2A1C), °C to 0.1, with a timestamp.
pub fn temperature(celsius: f64, at: DateTime<Utc>) -> Vec<u8> {
    let mut bytes = vec![0b0000_0010];
    bytes.extend(float(celsius, 1));
    bytes.extend(date_time(at));
    bytes
}

/// Weight Measurement (2A9D), SI (0.005 kg steps), with a timestamp.
pub fn weight(kg: f64, at: DateTime<Utc>) -> Vec<u8> {
    let steps = (kg / 0.005).round().clamp(0.0, 65_534.0) as u16;
    let mut bytes = vec![0b0000_0010];
    bytes.extend(steps.to_le_bytes());
    bytes.extend(date_time(at));
    bytes
}

/// Body Composition Measurement (2A9C), SI: body fat % (0.1 % steps) with a timestamp and the
/// fat-free mass (0.005 kg steps) of a body of `weight_kg`.
pub fn body_composition(fat_percent: f64, weight_kg: f64, at: DateTime<Utc>) -> Vec<u8> {
    // Flags (u16): timestamp (bit 1), fat-free mass (bit 6).
    let flags: u16 = (1 << 1) | (1 << 6);
    let fat_free = weight_kg * (1.0 - fat_percent / 100.0);
    let mut bytes = flags.to_le_bytes().to_vec();
    bytes.extend(((fat_percent * 10.0).round().clamp(0.0, 1000.0) as u16).to_le_bytes());
    bytes.extend(date_time(at));
    bytes.extend(((fat_free / 0.005).round().clamp(0.0, 65_534.0) as u16).to_le_bytes());
    bytes
}

/// Glucose Measurement (2A18): sequence number, base time, concentration in kg/L (from mg/dL),
/// capillary whole blood from a finger.
pub fn glucose(sequence: u16, mg_per_dl: f64, at: DateTime<Utc>) -> Vec<u8> {
    let mut bytes = vec![0b0000_0010];
    bytes.extend(sequence.to_le_bytes());
    bytes.extend(date_time(at));
    // mg/dL → kg/L is ×1e-5: the mantissa in mg/dL with exponent −5.
    let mantissa = (mg_per_dl.round() as i32).clamp(0, 2000) as u16;
    bytes.extend(((0xB_u16 << 12) | mantissa).to_le_bytes());
    // Type 1 (capillary whole blood) in the low nibble, location 1 (finger) in the high nibble.
    bytes.push(0x11);
    bytes
}

/// PLX Spot-Check Measurement (2A5E): SpO2 % and pulse rate, with a timestamp.
pub fn spot_check(spo2: f64, pulse: f64, at: DateTime<Utc>) -> Vec<u8> {
    let mut bytes = vec![0b0000_0001];
    bytes.extend(sfloat(spo2, 0));
    bytes.extend(sfloat(pulse, 0));
    bytes.extend(date_time(at));
    bytes
}

/// Intermediate Cuff Pressure (2A36), mmHg: the cuff's pressure while it deflates (diastolic and MAP
/// unused: NaN), with the measurement's timestamp.
pub fn cuff_pressure(mm_hg: f64, at: DateTime<Utc>) -> Vec<u8> {
    const NAN: [u8; 2] = 0x07FF_u16.to_le_bytes();
    let mut bytes = vec![0b0000_0010];
    bytes.extend(sfloat(mm_hg, 0));
    bytes.extend(NAN);
    bytes.extend(NAN);
    bytes.extend(date_time(at));
    bytes
}

/// Glucose Measurement (2A18) announcing its context (flags bit 4), and the Glucose Measurement
/// Context (2A34) with the same sequence number and a meal (1 preprandial, 2 postprandial, 3 fasting).
pub fn glucose_with_context(sequence: u16, mg_per_dl: f64, meal: u8, at: DateTime<Utc>) -> (Vec<u8>, Vec<u8>) {
    let mut measurement = glucose(sequence, mg_per_dl, at);
    if let Some(flags) = measurement.first_mut() {
        *flags |= 0b0001_0000;
    }
    let mut context = vec![0b0000_0010];
    context.extend(sequence.to_le_bytes());
    context.push(meal);
    (measurement, context)
}

/// PLX Continuous Measurement (2A5F): SpO2 % and pulse rate (normal averaging), no timestamp.
pub fn continuous_oximetry(spo2: f64, pulse: f64) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend(sfloat(spo2, 0));
    bytes.extend(sfloat(pulse, 0));
    bytes
}

/// CRC-16/MCRF4XX, the CGMS E2E-CRC.
const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MCRF4XX);

fn e2e_crc(bytes: &[u8]) -> [u8; 2] {
    CRC.checksum(bytes).to_le_bytes()
}

/// CGM Measurement (2AA7): one record, glucose in mg/dL, `minutes` after the session start, with its
/// E2E-CRC.
pub fn cgm_record(mg_per_dl: f64, minutes: u16) -> Vec<u8> {
    let mut record = vec![8, 0];
    record.extend(sfloat(mg_per_dl, 0));
    record.extend(minutes.to_le_bytes());
    let crc = e2e_crc(&record);
    record.extend(crc);
    record
}

/// CGM Session Start Time (2AAA): the start in UTC (time zone 0, standard time), with its E2E-CRC.
pub fn cgm_session_start(start: DateTime<Utc>) -> Vec<u8> {
    let mut bytes = date_time(start).to_vec();
    bytes.extend([0, 0]);
    let crc = e2e_crc(&bytes);
    bytes.extend(crc);
    bytes
}

/// A Polar PMD ECG data frame (the H10's frame type 0): measurement type 0, the sensor's timestamp
/// in ns (little-endian u64), frame type 0, then each sample as 3-byte little-endian signed µV.
pub fn polar_ecg(sensor_ns: u64, microvolts: &[i32]) -> Vec<u8> {
    let mut bytes = vec![0x00];
    bytes.extend(sensor_ns.to_le_bytes());
    bytes.push(0x00);
    for uv in microvolts {
        let [a, b, c, _] = (*uv).clamp(-8_388_608, 8_388_607).to_le_bytes();
        bytes.extend([a, b, c]);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sfloat_and_float_encode_as_the_standard_says() {
        // 120 mmHg: exponent 0, mantissa 0x078.
        assert_eq!(sfloat(120.0, 0), [0x78, 0x00]);
        // 36.6: mantissa 366 = 0x16E, exponent -1 = 0xF.
        assert_eq!(sfloat(36.6, 1), [0x6E, 0xF1]);
        // 36.6 as FLOAT: mantissa 0x00016E, exponent 0xFF.
        assert_eq!(float(36.6, 1), [0x6E, 0x01, 0x00, 0xFF]);
    }

    #[test]
    fn cgm_values_carry_the_crc_the_cgms_check_value_gives() {
        // CRC-16/MCRF4XX of "123456789" is 0x6F91 (the catalogue's check value).
        assert_eq!(e2e_crc(b"123456789"), 0x6F91_u16.to_le_bytes());
        let record = cgm_record(110.0, 5);
        assert_eq!(record.len(), 8);
        assert_eq!(record[0], 8, "the size byte counts the whole record");
    }

    #[test]
    fn polar_samples_are_three_byte_little_endian_signed() {
        // Polar's vector: -32766 µV is 02 80 FF, 32770 µV is 02 80 00.
        assert_eq!(
            polar_ecg(2_000_000_000, &[-32766, 32770]),
            vec![0x00, 0x00, 0x94, 0x35, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0xFF, 0x02, 0x80, 0x00]
        );
    }
}
