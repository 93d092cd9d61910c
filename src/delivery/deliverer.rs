//! The deliverer empties the outbox into the FHIR server: it takes the oldest stored payloads (up to
//! a batch, waiting a short linger for one to fill), maps them, posts them as one transaction Bundle and
//! removes them only once the server has committed it. Failures the server may recover from are retried
//! with exponential backoff and jitter, for as long as it takes; what can never be delivered (a payload
//! that cannot be mapped, a Bundle the server refuses with a 4xx) goes to the dead-letter store with
//! the reason. One deliverer per store, sending in store order, so readings of a device reach the
//! server in the order they were accepted.
//!
//! Delivery is at least once: a crash after the server committed and before the removal sends the
//! same Bundle again. That is harmless because every entry is a conditional create on its identifier.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::association::AssociationTable;
use crate::config::FhirConfig;
use crate::delivery::fhir_client::{Answer, FhirClient};
use crate::delivery::medtech::MedtechIds;
use crate::delivery::outbox::{DeadLetter, Outbox, OutboxError, OutboxRecord};
use crate::fhir;
use crate::mapping;
use crate::metrics::Metrics;
use crate::model::Reading;
use crate::pipeline::{read_payload_explained, AdapterName, AdapterSettings};

pub struct Deliverer {
    pub outbox: Outbox,
    pub client: FhirClient,
    pub settings: AdapterSettings,
    pub config: FhirConfig,
    pub metrics: Arc<Metrics>,
    /// The current device-patient associations (they change while the bridge runs).
    pub associations: watch::Receiver<AssociationTable>,
}

/// Patients found at the EHR by identifier: (system, value) → id. Only hits are kept (a Patient's id
/// does not change); a miss is asked again next time, as the Patient may have been registered since.
type PatientIds = HashMap<(String, String), String>;

/// The outcome of one attempt at a batch.
pub(crate) enum Progress {
    /// Every payload of the batch was delivered or dead-lettered.
    Done,
    /// The server could not take it now; nothing was removed.
    Retry { reason: String, after: Option<Duration> },
}

/// One stored payload, mapped.
struct Mapped {
    id: u64,
    record: OutboxRecord,
    readings: Vec<Reading>,
    /// What a vendor mapping left out, said when the rest is delivered.
    dropped: Vec<crate::adapters::vendor::Dropped>,
}

impl Deliverer {
    /// Delivers until `stop` turns true. An attempt in flight when it does is finished (its answer
    /// recorded) before returning; a backoff wait is cut short.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        let mut patients = PatientIds::new();
        let mut medtech_ids = MedtechIds::default();
        loop {
            if *stop.borrow() {
                break;
            }
            let batch = match self.next_batch(&mut stop).await {
                Ok(Some(batch)) => batch,
                Ok(None) => continue,
                Err(error) => {
                    error!(%error, "cannot read the outbox");
                    if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                        break;
                    }
                    continue;
                }
            };
            match self.deliver(batch, &mut patients, &mut medtech_ids).await {
                Ok(Progress::Done) => failures = 0,
                Ok(Progress::Retry { reason, after }) => {
                    self.metrics.retried.inc();
                    // Never sooner than the backoff, so a `Retry-After: 0` cannot make a hot loop.
                    let wait = after.unwrap_or_default().max(backoff(&self.config, failures));
                    failures = failures.saturating_add(1);
                    warn!(%reason, wait_ms = wait.as_millis() as u64, "delivery will be retried");
                    if sleep_or_stop(wait, &mut stop).await {
                        break;
                    }
                }
                Err(error) => {
                    error!(%error, "the outbox failed during delivery");
                    if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                        break;
                    }
                }
            }
        }
        self.update_depth();
    }

    /// The oldest stored payloads, after waiting for the first and lingering for more; `None` when
    /// woken with nothing to do.
    async fn next_batch(
        &self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<(u64, OutboxRecord)>>, OutboxError> {
        let size = self.config.batch_size;
        let mut batch = self.outbox.pending(size)?;
        self.update_depth();
        if batch.is_empty() {
            tokio::select! {
                _ = self.outbox.appended() => {}
                _ = stop.changed() => {}
            }
            return Ok(None);
        }
        if batch.len() < size && self.config.linger_ms > 0 {
            if sleep_or_stop(Duration::from_millis(self.config.linger_ms), stop).await {
                // Stopping: still deliver what is at hand.
                return Ok(Some(batch));
            }
            batch = self.outbox.pending(size)?;
        }
        Ok(Some(batch))
    }

    fn update_depth(&self) {
        if let Ok(depth) = self.outbox.len() {
            self.metrics.outbox_depth.set(depth as i64);
        }
    }

    async fn deliver(
        &self,
        batch: Vec<(u64, OutboxRecord)>,
        patients: &mut PatientIds,
        medtech_ids: &mut MedtechIds,
    ) -> Result<Progress, OutboxError> {
        let mut mapped = Vec::with_capacity(batch.len());
        for (id, record) in batch {
            // MedTech messages merge into what is on the server: one read-merge-write each.
            if record.adapter == AdapterName::Medtech.as_str() {
                if let Some(retry) = self.deliver_medtech(id, record, medtech_ids).await? {
                    return Ok(retry);
                }
                continue;
            }
            match self.map(&record) {
                // A vendor poll with nothing new: nothing to deliver.
                Ok((readings, _)) if readings.is_empty() => {
                    debug!(outbox_id = id, "nothing to deliver in the payload");
                    self.outbox.remove(&[id])?;
                }
                Ok((readings, dropped)) => mapped.push(Mapped {
                    id,
                    record,
                    readings,
                    dropped,
                }),
                Err(reason) => self.bury(id, record, reason, None)?,
            }
        }
        if mapped.is_empty() {
            return Ok(Progress::Done);
        }
        let progress = self.send(&mapped, patients).await?;
        if let Some((status, body, bundle)) = progress.rejected {
            if mapped.len() == 1 {
                if let Some(one) = mapped.pop() {
                    let reason = format!("the FHIR server refused the Bundle with {status}");
                    self.bury(one.id, one.record, reason, Some((status, body, bundle)))?;
                }
                return Ok(Progress::Done);
            }
            // One bad payload must not hold back the others: send each alone to find it.
            for one in mapped {
                let single = [one];
                let progress = self.send(&single, patients).await?;
                if let Some(retry) = progress.retry {
                    return Ok(retry);
                }
                if let Some((status, body, bundle)) = progress.rejected {
                    let [one] = single;
                    let reason = format!("the FHIR server refused the Bundle with {status}");
                    self.bury(one.id, one.record, reason, Some((status, body, bundle)))?;
                }
            }
            return Ok(Progress::Done);
        }
        Ok(progress.retry.unwrap_or(Progress::Done))
    }

    /// Maps one stored payload with the time it was received (not now), so a replay maps it the same.
    fn map(&self, record: &OutboxRecord) -> Result<(Vec<Reading>, Vec<crate::adapters::vendor::Dropped>), String> {
        let adapter = AdapterName::from_name(&record.adapter)
            .ok_or_else(|| format!("stored with an unknown adapter {:?}", record.adapter))?;
        let settings = self.settings.for_adapter(adapter);
        let (mut readings, dropped) =
            read_payload_explained(&record.payload, settings, record.received_at.with_timezone(&Utc))
                .map_err(|e| e.to_string())?;
        if let Some((system, value)) = record.patient.as_deref().and_then(|p| p.split_once('|')) {
            for reading in readings.iter_mut().filter(|r| r.patient.is_none()) {
                reading.patient = Some(crate::model::PatientRef {
                    system: system.to_string(),
                    value: value.to_string(),
                });
            }
        }
        {
            let associations = self.associations.borrow();
            for reading in &mut readings {
                associations.associate(reading).map_err(|e| e.to_string())?;
            }
        }
        // Map alone once, so a payload that cannot become FHIR is found before it spoils a batch.
        if !readings.is_empty() {
            mapping::map_readings(&readings, &settings.mapping).map_err(|e| e.to_string())?;
        }
        Ok((readings, dropped))
    }

    /// Posts the readings of `mapped` as one transaction; removes them from the outbox when delivered.
    async fn send(&self, mapped: &[Mapped], patients: &mut PatientIds) -> Result<SendResult, OutboxError> {
        let readings: Vec<Reading> = mapped.iter().flat_map(|m| m.readings.iter().cloned()).collect();
        // All readings of a batch share the mapping options (they are per deployment).
        let options = &self.settings.ble.mapping;
        let mut bundle = match mapping::map_readings(&readings, options) {
            Ok(bundle) => bundle,
            // Two payloads of the batch contradict each other (different values for one identifier):
            // treat it as a refusal so each is sent alone.
            Err(error) => {
                return Ok(SendResult::rejected(0, error.to_string(), String::new()));
            }
        };
        if self.config.resolve_patients {
            if let Err(reason) = self.resolve_patients(&mut bundle, patients).await {
                return Ok(SendResult {
                    retry: Some(Progress::Retry { reason, after: None }),
                    rejected: None,
                });
            }
        }
        let json = match fhir::bundle_to_json(&bundle) {
            Ok(json) => json,
            Err(error) => return Ok(SendResult::rejected(0, error.to_string(), String::new())),
        };
        debug!(
            payloads = mapped.len(),
            entries = bundle.entry.len(),
            "posting a transaction"
        );
        match self.client.transaction(json.clone(), bundle.entry.len()).await {
            Answer::Delivered => {
                self.remove_delivered(mapped.iter().map(|m| (m.id, &m.record)))?;
                // Never silently: what a vendor mapping left out is said, by path and rule (no values).
                for one in mapped {
                    for left_out in &one.dropped {
                        warn!(
                            outbox_id = one.id,
                            record = left_out.record,
                            measurement = %left_out.measurement,
                            reason = %left_out.reason,
                            "delivered without a measurement the mapping left out"
                        );
                    }
                }
                info!(payloads = mapped.len(), entries = bundle.entry.len(), "delivered");
                Ok(SendResult::default())
            }
            Answer::Retry { reason, after } => Ok(SendResult {
                retry: Some(Progress::Retry { reason, after }),
                rejected: None,
            }),
            Answer::Rejected { status, body } => Ok(SendResult::rejected(status, body, json)),
        }
    }

    /// Removes delivered payloads from the outbox and counts them, with their accept-to-commit latency.
    pub(crate) fn remove_delivered<'a>(
        &self,
        delivered: impl Iterator<Item = (u64, &'a OutboxRecord)>,
    ) -> Result<(), OutboxError> {
        let delivered: Vec<(u64, &OutboxRecord)> = delivered.collect();
        let ids: Vec<u64> = delivered.iter().map(|(id, _)| *id).collect();
        self.outbox.remove(&ids)?;
        let now = Utc::now();
        for (_, record) in &delivered {
            let latency = (now - record.received_at.with_timezone(&Utc)).num_milliseconds();
            self.metrics.delivery_latency.observe(latency.max(0) as f64 / 1000.0);
        }
        self.metrics.delivered.inc_by(ids.len() as u64);
        Ok(())
    }

    /// Looks up the patients the Bundle names by identifier and references those found by id.
    async fn resolve_patients(
        &self,
        bundle: &mut fhirbolt::model::r4::resources::Bundle,
        patients: &mut PatientIds,
    ) -> Result<(), String> {
        for key in mapping::patient_identifiers(bundle) {
            if patients.contains_key(&key) {
                continue;
            }
            if let Some(id) = self.client.find_patient(&key.0, &key.1).await? {
                patients.insert(key, id);
            }
        }
        mapping::resolve_patients(bundle, patients);
        Ok(())
    }

    pub(crate) fn bury(
        &self,
        id: u64,
        record: OutboxRecord,
        reason: String,
        refusal: Option<(u16, String, String)>,
    ) -> Result<(), OutboxError> {
        let kind = if refusal.is_some() { "server" } else { "mapping" };
        let mut letter = DeadLetter::refused(record, reason);
        if let Some((status, body, bundle)) = refusal {
            letter.status = (status != 0).then_some(status);
            letter.outcome = Some(body);
            letter.bundle = (!bundle.is_empty()).then_some(bundle);
        }
        let dead_id = self.outbox.bury(id, &letter)?;
        self.metrics.dead_lettered(kind);
        // The reason names rules and statuses, never patient data; the payload stays in the store.
        warn!(outbox_id = id, dead_letter_id = dead_id, reason = %letter.reason, "moved to the dead-letter store");
        Ok(())
    }
}

#[derive(Default)]
struct SendResult {
    retry: Option<Progress>,
    /// Status (0 when the bridge itself refused), the server's body, and the Bundle sent.
    rejected: Option<(u16, String, String)>,
}

impl SendResult {
    fn rejected(status: u16, body: String, bundle: String) -> Self {
        SendResult {
            retry: None,
            rejected: Some((status, body, bundle)),
        }
    }
}

/// The wait before retry number `failures + 1`: the initial backoff doubled per failure, capped, and
/// between half and all of that at random, so bridges that failed together do not retry together.
pub fn backoff(config: &FhirConfig, failures: u32) -> Duration {
    let base = Duration::from_millis(config.initial_backoff_ms);
    let cap = Duration::from_secs(config.max_backoff_secs).max(base);
    let full = base.saturating_mul(2u32.saturating_pow(failures.min(20))).min(cap);
    full.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// Sleeps for `wait` unless `stop` turns true first; returns true when stopping.
async fn sleep_or_stop(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        _ = stop.wait_for(|stopping| *stopping) => true,
    };
    stopped || *stop.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let config = FhirConfig {
            initial_backoff_ms: 100,
            max_backoff_secs: 1,
            ..FhirConfig::default()
        };
        for _ in 0..50 {
            let first = backoff(&config, 0);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = backoff(&config, 2);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
                "{third:?}"
            );
            let late = backoff(&config, 30);
            assert!(
                late >= Duration::from_millis(500) && late <= Duration::from_secs(1),
                "{late:?}"
            );
        }
    }
}
