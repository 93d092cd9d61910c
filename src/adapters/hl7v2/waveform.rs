//! IHE PCD waveforms (the Waveform Content Module in PCD-01): an OBX of value type `NA` holds the
//! samples (`-0.53714565^-0.54203324^…`), and rows one level deeper in OBX-4 are its attributes:
//! `MDC_ATTR_SAMP_RATE` (samples per second), `MDC_ATTR_DATA_RANGE` (`NR`, `low^high`) and
//! `MDC_ATTR_NU_MSMT_RES` (the resolution, read but not emitted: SampledData has no place for it).
//!
//! What becomes of them:
//! * ECG leads of one channel that share a start time, a rate and a length become one ECG
//!   measurement (`MDC_ECG_ELEC_POTL`) with a component per lead, as the R4 `Observation/ekg`
//!   example has them; any other waveform is a measurement of its own, coded by its OBX-3.
//! * A lead is taken by its code. When the sender's reference id names another lead than the code
//!   (`131331^MDC_ECG_LEAD_III`: 131331 is V1), the row is left out with that reason: the bridge does
//!   not guess which lead it is. A code the table does not know is delivered as sent.
//! * A waveform without a sampling rate, or with one not in samples per second, cannot be timed: it
//!   is left out with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::left_out::LeftOutRow;
use super::report::{ObxRow, ObxValue};
use super::time::Hl7DateTime;
use crate::codes::{ecg_lead, mdc};
use crate::model::{Component, EffectiveTime, MdcCode, Measurement, Sample, SampleRate, SampledSeries, Value};

/// The waveforms of one device's rows.
#[derive(Debug, Default)]
pub struct Waveforms {
    pub measurements: Vec<Measurement>,
    pub left_out: Vec<LeftOutRow>,
    /// The segments read here (waveform rows and their attributes), which are no metrics of their own.
    pub consumed: HashSet<usize>,
}

const MDC_ATTR_SAMP_RATE: &str = "MDC_ATTR_SAMP_RATE";
const MDC_ATTR_DATA_RANGE: &str = "MDC_ATTR_DATA_RANGE";
const MDC_ATTR_NU_MSMT_RES: &str = "MDC_ATTR_NU_MSMT_RES";

/// True when the row is the attribute named `reference_id`. Senders name these attributes by
/// reference id, with the code pending (`0^MDC_ATTR_SAMP_RATE`) or as a bare term
/// (`2327^MDC_ATTR_NU_MSMT_RES`), so the name decides.
fn is(row: &ObxRow, reference_id: &str) -> bool {
    row.code.reference_id.as_deref() == Some(reference_id)
}

/// One waveform row with what its attribute rows said.
struct Channel<'a> {
    row: &'a ObxRow,
    series: SampledSeries,
    time: EffectiveTime,
    part: Vec<u32>,
}

/// Reads the waveforms among `rows` (each with its OBR's time).
pub fn waveforms(
    rows: &[&(&ObxRow, Option<Hl7DateTime>)],
    time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime,
    part_of: &dyn Fn(&[u32]) -> Vec<u32>,
) -> Waveforms {
    let mut out = Waveforms::default();
    let mut channels: Vec<Channel<'_>> = Vec::new();
    // Rows by the path of the row they are one level below, looked up once per waveform (a message
    // of many waveforms must not cost rows × waveforms).
    let is_waveform = |r: &ObxRow| matches!(r.value, ObxValue::Samples(_));
    let waveform_paths: HashSet<&[u32]> = rows
        .iter()
        .map(|x| x.0)
        .filter(|r| is_waveform(r))
        .map(|r| r.path.0.as_slice())
        .collect();
    let mut below: HashMap<&[u32], Vec<&ObxRow>> = HashMap::new();
    for row in rows.iter().map(|x| x.0) {
        if let Some((_, parent)) = row.path.0.split_last() {
            if waveform_paths.contains(parent) {
                below.entry(parent).or_default().push(row);
            }
        }
    }
    for (row, obr_time) in rows.iter().map(|x| **x) {
        let ObxValue::Samples(samples) = &row.value else {
            continue;
        };
        out.consumed.insert(row.segment);
        // Its attributes: the rows one level below it.
        let attributes: &[&ObxRow] = below.get(row.path.0.as_slice()).map_or(&[], Vec::as_slice);
        out.consumed.extend(attributes.iter().map(|r| r.segment));
        let place = format!("OBX segment {} ({})", row.segment, row.path);
        let mut leave_out = |reason: String| {
            out.left_out.push(LeftOutRow {
                segment: row.segment,
                reason,
            })
        };
        if let Some(conflict) = lead_conflict(row) {
            leave_out(conflict);
            continue;
        }
        let rate_row = attributes.iter().find(|r| is(r, MDC_ATTR_SAMP_RATE));
        let rate = match rate_row.map(|r| (&r.value, r.unit.as_deref())) {
            Some((ObxValue::Numeric(rate), None | Some("/s" | "Hz" | "1/s"))) => SampleRate::new(*rate),
            Some((ObxValue::Numeric(_), Some(_))) => {
                leave_out(format!(
                    "{place}: the waveform's MDC_ATTR_SAMP_RATE is not in samples per second (/s, Hz); its samples \
                     cannot be timed"
                ));
                continue;
            }
            _ => {
                leave_out(format!(
                    "{place}: the waveform (NA) has no numeric MDC_ATTR_SAMP_RATE row below it in OBX-4; its samples \
                     cannot be timed"
                ));
                continue;
            }
        };
        let Ok(rate) = rate else {
            leave_out(format!(
                "{place}: the waveform's MDC_ATTR_SAMP_RATE is not a positive rate with at most 12 decimals"
            ));
            continue;
        };
        let unit = row.unit.clone().unwrap_or_default();
        let mut series = SampledSeries::of_values(&unit, rate, samples.iter().map(|s| Sample::Value(*s)).collect());
        if let Some(range) = attributes.iter().find(|r| is(r, MDC_ATTR_DATA_RANGE)) {
            match (&range.value, range.unit.as_deref()) {
                (ObxValue::Range(low, high), None) => (series.lower_limit, series.upper_limit) = (*low, *high),
                (ObxValue::Range(low, high), Some(range_unit)) if range_unit == unit => {
                    (series.lower_limit, series.upper_limit) = (*low, *high)
                }
                _ => out.left_out.push(LeftOutRow {
                    segment: range.segment,
                    reason: format!(
                        "OBX segment {} ({}): the waveform's MDC_ATTR_DATA_RANGE is not a range (NR) in the waveform's \
                         unit; the waveform is sent without its limits",
                        range.segment, range.path
                    ),
                }),
            }
        }
        for other in attributes
            .iter()
            .filter(|r| !is(r, MDC_ATTR_SAMP_RATE) && !is(r, MDC_ATTR_DATA_RANGE) && !is(r, MDC_ATTR_NU_MSMT_RES))
        {
            out.left_out.push(LeftOutRow {
                segment: other.segment,
                reason: format!(
                    "OBX segment {} ({}): an attribute of a waveform the bridge does not read",
                    other.segment, other.path
                ),
            });
        }
        channels.push(Channel {
            row,
            series,
            time: time_of(row, obr_time),
            part: part_of(&row.path.0),
        });
    }

    // ECG leads of one channel with one start, rate and length are one ECG.
    let mut ecgs: BTreeMap<(Vec<u32>, String, String, usize), Vec<Channel<'_>>> = BTreeMap::new();
    for channel in channels {
        if ecg_lead(MdcCode(channel.row.code.code)).is_some() {
            let key = (
                channel.part.clone(),
                format!("{:?}", channel.time),
                channel.series.rate.per_second().to_string(),
                channel.series.samples.len(),
            );
            ecgs.entry(key).or_default().push(channel);
        } else {
            out.measurements.push(single(channel));
        }
    }
    for (_, leads) in ecgs {
        if leads.len() == 1 {
            out.measurements.extend(leads.into_iter().map(single));
            continue;
        }
        let Some(first) = leads.first() else { continue };
        let (time, part) = (first.time, first.part.clone());
        let segments: Vec<String> = leads.iter().map(|l| l.row.segment.to_string()).collect();
        let source = format!("OBX segments {}", segments.join(", "));
        let components = leads
            .into_iter()
            .map(|lead| Component {
                code: MdcCode(lead.row.code.code),
                label: lead.row.code.reference_id.clone(),
                value: Value::Samples(lead.series),
            })
            .collect();
        out.measurements.push(
            Measurement::compound(mdc::ECG_ELEC_POTL, components, time)
                .with_device_part(part)
                .with_source(source),
        );
    }
    out
}

fn single(channel: Channel<'_>) -> Measurement {
    Measurement::simple(
        MdcCode(channel.row.code.code),
        Value::Samples(channel.series),
        channel.time,
    )
    .with_label(channel.row.code.reference_id.clone())
    .with_device_part(channel.part)
    .with_source(format!("OBX segment {} ({})", channel.row.segment, channel.row.path))
}

/// Why a lead's code and its reference id disagree, when they do: the reference id names a lead
/// (`MDC_ECG_LEAD_III`, `MDC_ECG_ELEC_POTL_III`) other than the one the code is.
fn lead_conflict(row: &ObxRow) -> Option<String> {
    let label = row.code.reference_id.as_deref()?;
    let named = label
        .strip_prefix("MDC_ECG_ELEC_POTL_")
        .or_else(|| label.strip_prefix("MDC_ECG_LEAD_"))?;
    let named_code = crate::codes::ecg_lead_by_name(named)?;
    let named = ecg_lead(named_code)?;
    let code = MdcCode(row.code.code);
    (named_code != code).then(|| {
        let coded = ecg_lead(code).map_or_else(|| "no lead the code table knows".to_string(), |l| format!("lead {l}"));
        format!(
            "OBX segment {} ({}): OBX-3 code {code} is {coded}, but its reference id names lead {named}; the bridge \
             does not guess which lead the samples are",
            row.segment, row.path
        )
    })
}
