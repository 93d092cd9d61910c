//! Polar's ECG stream: the PMD (Polar Measurement Data) service's data characteristic
//! `FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8`, as the Polar H10 chest strap sends it.
//!
//! Layout (Polar BLE SDK, `PmdDataFrame.kt` and `EcgData.kt`): byte 0 the measurement type (low six
//! bits; 0 is ECG); bytes 1–8 the sensor's timestamp of the frame's last sample, unsigned
//! little-endian nanoseconds; byte 9 the frame type (bit 7 set: a delta-compressed frame); then the
//! samples. Frame type 0 is what the H10 sends: each sample three bytes, little-endian, signed, in µV,
//! at 130 Hz (Polar's H10 documentation: "ECG data in µV with sample rate 130Hz").
//!
//! What the bridge decides:
//! * Frame types 1–3 and compressed frames come from other Polar sensors whose sampling rate is set
//!   by PMD settings the hub does not forward (and type 3's two channels are not documented as any
//!   lead): they are refused, never timed by a guess.
//! * The sensor's clock counts from an epoch the bridge cannot place, so the frame is timed by the
//!   hub's receipt, and the clock quality says why.
//! * The strap's two chest electrodes are no standard limb or chest lead: the samples are coded
//!   `MDC_ECG_ELEC_POTL` (an ECG), not a lead.

use super::characteristic::Characteristic;
use super::error::FrameError;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use crate::codes::mdc;
use crate::model::{
    Decimal, EffectiveTime, Measurement, NoDeviceTimeReason, Sample, SampleRate, SampledSeries, Timestamp, Value,
};

/// The H10's ECG sampling rate.
pub const H10_ECG_SAMPLES_PER_SECOND: i64 = 130;

/// One PMD ECG data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcgFrame {
    /// The sensor's timestamp of the last sample, in ns since the sensor's own epoch.
    pub sensor_timestamp_ns: u64,
    /// The samples in µV, oldest first.
    pub microvolts: Vec<i32>,
}

pub fn decode(bytes: &[u8]) -> Result<EcgFrame, FrameError> {
    let characteristic = Characteristic::PolarPmdData;
    let mut frame = FrameReader::new(characteristic, bytes);
    let kind = frame.u8("measurement type", "every PMD frame starts with its measurement type")?;
    if kind & 0x3F != 0 {
        return Err(frame.invalid_at(
            "measurement type",
            0,
            format!(
                "measurement type {} is not ECG (0); the bridge reads only Polar's ECG stream",
                kind & 0x3F
            ),
        ));
    }
    let low = frame.u16("timestamp", "bytes 1-8 are the frame's timestamp")? as u64;
    let mid = frame.u16("timestamp", "bytes 1-8 are the frame's timestamp")? as u64;
    let high = frame.u16("timestamp", "bytes 1-8 are the frame's timestamp")? as u64;
    let top = frame.u16("timestamp", "bytes 1-8 are the frame's timestamp")? as u64;
    let sensor_timestamp_ns = low | mid << 16 | high << 32 | top << 48;
    let frame_type = frame.u8("frame type", "byte 9 is the frame type")?;
    if frame_type & 0x80 != 0 {
        return Err(frame.invalid_at(
            "frame type",
            9,
            "a compressed (delta) ECG frame; Polar's own SDK refuses these for ECG".into(),
        ));
    }
    if frame_type != 0 {
        return Err(frame.invalid_at(
            "frame type",
            9,
            format!(
                "frame type {frame_type} is not the H10's (0): its sampling rate is set by PMD settings the hub \
                 does not forward, so its samples cannot be timed"
            ),
        ));
    }
    if frame.remaining() == 0 {
        return Err(FrameError::NoMeasurement {
            characteristic,
            rule: "an ECG frame without samples",
        });
    }
    if frame.remaining() % 3 != 0 {
        return Err(frame.invalid_at(
            "samples",
            frame.offset(),
            format!(
                "{} byte(s) after the header are not whole 3-byte samples",
                frame.remaining()
            ),
        ));
    }
    let mut microvolts = Vec::with_capacity(frame.remaining() / 3);
    while frame.remaining() > 0 {
        let raw = frame.u24("sample", "samples are 3 bytes each")?;
        // Sign-extend the 24-bit two's complement value.
        microvolts.push(((raw << 8) as i32) >> 8);
    }
    frame.finish(0)?;
    Ok(EcgFrame {
        sensor_timestamp_ns,
        microvolts,
    })
}

impl EcgFrame {
    /// The frame as one ECG waveform in µV at the H10's rate, timed by the hub's receipt.
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let Ok(rate) = SampleRate::new(Decimal::integer(H10_ECG_SAMPLES_PER_SECOND)) else {
            return Vec::new();
        };
        let samples = self
            .microvolts
            .iter()
            .map(|&uv| Sample::Value(Decimal::integer(i64::from(uv))))
            .collect();
        let received = Timestamp::gateway_receipt(time.received_at, NoDeviceTimeReason::NoEpoch);
        vec![Measurement::simple(
            mdc::ECG_ELEC_POTL,
            Value::Samples(SampledSeries::of_values("uV", rate, samples)),
            EffectiveTime::Instant(received),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polar's own vectors (polarofficial/polar-ble-sdk, `EcgDataTest.kt`, commit 8fb5311): the
    /// header `00 | 00 94 35 77 00 00 00 00 | type`, timestamp 2,000,000,000 ns.
    const HEADER: [u8; 9] = [0x00, 0x00, 0x94, 0x35, 0x77, 0x00, 0x00, 0x00, 0x00];

    fn frame(frame_type: u8, content: &[u8]) -> Vec<u8> {
        let mut bytes = HEADER.to_vec();
        bytes.push(frame_type);
        bytes.extend_from_slice(content);
        bytes
    }

    #[test]
    fn polar_type_0_vector_gives_its_microvolts_and_timestamp() {
        let decoded = decode(&frame(0x00, &[0x02, 0x80, 0xFF, 0x02, 0x80, 0x00])).unwrap();
        assert_eq!(decoded.sensor_timestamp_ns, 2_000_000_000);
        assert_eq!(decoded.microvolts, vec![-32766, 32770]);
    }

    #[test]
    fn other_frame_types_compressed_frames_and_broken_frames_are_refused_with_the_rule() {
        let type1 = decode(&frame(0x01, &[0x02, 0x80, 0xFF, 0x80, 0x02, 0x00])).unwrap_err();
        assert!(type1.to_string().contains("frame type 1 is not the H10's"), "{type1}");
        let compressed = decode(&frame(0x80, &[0x02, 0x80, 0xFF])).unwrap_err();
        assert!(compressed.to_string().contains("compressed"), "{compressed}");
        let accelerometer = decode(&[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).unwrap_err();
        assert!(accelerometer.to_string().contains("measurement type 2 is not ECG"));
        let ragged = decode(&frame(0x00, &[0x02, 0x80, 0xFF, 0x02])).unwrap_err();
        assert!(ragged.to_string().contains("4 byte(s) after the header"), "{ragged}");
        let empty = decode(&frame(0x00, &[])).unwrap_err();
        assert!(empty.to_string().contains("without samples"), "{empty}");
        let short = decode(&HEADER[..5]).unwrap_err();
        assert!(short.to_string().contains("timestamp"), "{short}");
    }
}
