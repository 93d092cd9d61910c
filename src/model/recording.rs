//! Long recordings become pieces an EHR can store: the splitting rule of [`super::waveform`], applied
//! to the measurements of a reading.

use super::measurement::{Measurement, Value};
use super::waveform::{Sample, SampledSeries};

/// The waveforms a measurement carries: its value, or its components' (the leads of an ECG).
fn series_of(measurement: &Measurement) -> Vec<&SampledSeries> {
    let mut all = Vec::new();
    if let Some(Value::Samples(series)) = &measurement.value {
        all.push(series);
    }
    for component in &measurement.components {
        if let Value::Samples(series) = &component.value {
            all.push(series);
        }
    }
    all
}

/// Splits every waveform longer than one piece into pieces (see the module's rules). The first piece
/// stays where the recording was, so indices other measurements refer to (`qualifies`) still hold;
/// the later pieces are appended in order.
///
/// The channels of one measurement (the leads of an ECG) are split together, so they must share a
/// rate and a length; a measurement whose channels do not is left whole (its adapter makes such
/// channels their own measurements). The samples are moved into their pieces, never copied whole: a
/// recording costs its own size once, however many pieces it becomes.
pub fn split_long_recordings(measurements: &mut Vec<Measurement>) {
    let mut appended = Vec::new();
    for measurement in measurements.iter_mut() {
        let series = series_of(measurement);
        let Some(first) = series.first() else {
            continue;
        };
        let (rate, len) = (first.rate, first.samples.len());
        if series.iter().any(|s| s.rate != rate || s.samples.len() != len) {
            continue;
        }
        let piece = rate.piece_len();
        if len <= piece {
            continue;
        }
        // The channels' samples, taken out; what is left is the template of every piece.
        let mut channels: Vec<std::vec::IntoIter<Sample>> = samples_of(measurement)
            .into_iter()
            .map(|samples| std::mem::take(samples).into_iter())
            .collect();
        let template = measurement.clone();
        let start = template.time;
        let mut pieces = Vec::with_capacity(len.div_ceil(piece));
        let mut index = 0;
        while index < len {
            let end = (index + piece).min(len);
            let mut next = template.clone();
            for (slot, channel) in samples_of(&mut next).into_iter().zip(channels.iter_mut()) {
                *slot = channel.by_ref().take(end - index).collect();
            }
            next.time = start.shifted(rate.offset_of(index));
            if let Some(source) = &template.source {
                next.source = Some(format!("{source}, samples {}–{}", index + 1, end));
            }
            pieces.push(next);
            index = end;
        }
        let mut pieces = pieces.into_iter();
        if let Some(first_piece) = pieces.next() {
            *measurement = first_piece;
        }
        appended.extend(pieces);
    }
    measurements.extend(appended);
}

/// The sample vectors of a measurement's waveforms, in the order of [`series_of`].
fn samples_of(measurement: &mut Measurement) -> Vec<&mut Vec<Sample>> {
    let mut all = Vec::new();
    if let Some(Value::Samples(series)) = measurement.value.as_mut() {
        all.push(&mut series.samples);
    }
    for component in &mut measurement.components {
        if let Value::Samples(series) = &mut component.value {
            all.push(&mut series.samples);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClockQuality, Decimal, EffectiveTime, MdcCode, OffsetSource, SampleRate, Timestamp};
    use chrono::{FixedOffset, NaiveDate};

    fn rate(text: &str) -> SampleRate {
        SampleRate::new(text.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_long_recording_is_split_without_losing_a_sample() {
        let start = Timestamp {
            local: NaiveDate::from_ymd_opt(2026, 5, 30)
                .unwrap()
                .and_hms_opt(16, 32, 18)
                .unwrap(),
            offset: FixedOffset::west_opt(7 * 3600).unwrap(),
            quality: ClockQuality::DeviceClock {
                offset: OffsetSource::Envelope,
            },
        };
        let samples: Vec<Sample> = (0..7000).map(|i| Sample::Value(Decimal::integer(i))).collect();
        let series = SampledSeries::of_values("uV", rate("300"), samples);
        let other = Measurement::simple(MdcCode(1), Value::Text("x".into()), EffectiveTime::Instant(start));
        let mut measurements = vec![
            Measurement::simple(MdcCode(131329), Value::Samples(series), EffectiveTime::Instant(start))
                .with_source("signal"),
            other.clone(),
        ];
        split_long_recordings(&mut measurements);
        assert_eq!(measurements.len(), 4);
        assert_eq!(measurements[1], other, "the other measurement keeps its index");
        let pieces = [&measurements[0], &measurements[2], &measurements[3]];
        let lens: Vec<usize> = pieces
            .iter()
            .map(|m| match &m.value {
                Some(Value::Samples(s)) => s.samples.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(lens, vec![3000, 3000, 1000]);
        let firsts: Vec<Sample> = pieces
            .iter()
            .map(|m| match &m.value {
                Some(Value::Samples(s)) => s.samples[0],
                _ => Sample::Error,
            })
            .collect();
        assert_eq!(
            firsts,
            vec![
                Sample::Value(Decimal::integer(0)),
                Sample::Value(Decimal::integer(3000)),
                Sample::Value(Decimal::integer(6000))
            ]
        );
        let times: Vec<String> = pieces.iter().map(|m| m.time.anchor().local.to_string()).collect();
        assert_eq!(
            times,
            vec!["2026-05-30 16:32:18", "2026-05-30 16:32:28", "2026-05-30 16:32:38"]
        );
        assert_eq!(pieces[2].source.as_deref(), Some("signal, samples 6001–7000"));
    }
}
