//! The deliverer empties the outbox into a [`Sink`]: it takes the oldest stored payloads (up to a
//! batch, waiting a short linger for one to fill), asks the [`Planner`] what each becomes, writes the
//! transactions of the batch as one Bundle and removes the payloads only once the sink has committed
//! it. Failures the sink may recover from are retried with exponential backoff and jitter, for as long
//! as it takes; what can never be delivered (a payload the pipeline refuses, a Bundle the sink refuses)
//! goes to the dead-letter store with the reason. One deliverer per store, sending in store order, so
//! readings of a device reach the destination in the order they were accepted.
//!
//! Delivery is at least once: a crash after the sink committed and before the removal sends the same
//! Bundle again. That is harmless because every entry is a conditional create on its identifier.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fhirbolt::model::r4::resources::{Bundle, BundleEntry};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::config::FhirConfig;
use super::plan::{LeftOut, Plan, Planner, Transaction};
use super::recent::{Fate, Recent};
use super::sink::{Outcome, Refusal, Sink};
use crate::metrics::Metrics;
use crate::store::{DeadLetter, Outbox, OutboxError, OutboxRecord};

pub struct Deliverer<S> {
    outbox: Outbox,
    sink: S,
    planner: Arc<dyn Planner>,
    config: FhirConfig,
    metrics: Arc<Metrics>,
    /// Payloads the sink committed that the outbox could not remove yet (its disk failing): removed
    /// before anything else is sent, so a failing store never makes the same Bundle go out again.
    unremoved: Vec<u64>,
    /// What became of the latest payloads, for the console.
    recent: Option<Arc<Recent>>,
}

/// The outcome of one attempt at a batch.
enum Progress {
    /// Every payload of the batch was delivered or dead-lettered.
    Done,
    /// The sink could not take it now; nothing was removed.
    Retry { reason: String, after: Option<Duration> },
}

/// One stored payload and its transaction.
struct Planned {
    id: u64,
    record: OutboxRecord,
    transaction: Box<Transaction>,
}

impl<S: Sink> Deliverer<S> {
    /// A deliverer of `outbox` into `sink`, asking `planner` what each payload becomes; `config` gives
    /// the batch size, linger and backoff.
    pub fn new(outbox: Outbox, sink: S, planner: Arc<dyn Planner>, config: FhirConfig, metrics: Arc<Metrics>) -> Self {
        Deliverer {
            outbox,
            sink,
            planner,
            config,
            metrics,
            unremoved: Vec::new(),
            recent: None,
        }
    }

    /// Keeps what became of the latest payloads in `recent` (the console's flow view).
    pub fn with_recent(mut self, recent: Arc<Recent>) -> Self {
        self.recent = Some(recent);
        self
    }

    fn finished(&self, id: u64, record: OutboxRecord, fate: Fate, reason: Option<String>, bundle: Option<Bundle>) {
        if let Some(recent) = &self.recent {
            recent.push(id, record, fate, reason, bundle);
        }
    }

    /// Delivers until `stop` turns true. An attempt in flight when it does is finished (its answer
    /// recorded) before returning; a backoff wait is cut short.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        // Store failures back off like the sink's: a full disk is not fixed in a second.
        let mut store_failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            let attempt = match self.remove_unremoved() {
                Ok(()) => match self.next_batch(&mut stop).await {
                    Ok(Some(batch)) => self.deliver(batch).await,
                    Ok(None) => continue,
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match attempt {
                Ok(Progress::Done) => {
                    failures = 0;
                    store_failures = 0;
                }
                Ok(Progress::Retry { reason, after }) => {
                    self.metrics.retried.inc();
                    store_failures = 0;
                    // Never sooner than the backoff, so a `Retry-After: 0` cannot make a hot loop.
                    let wait = after.unwrap_or_default().max(backoff(&self.config, failures));
                    failures = failures.saturating_add(1);
                    warn!(%reason, wait_ms = wait.as_millis() as u64, "delivery will be retried");
                    // A server that said when to come back is not asked sooner.
                    if self.wait_or_probe(wait, after.is_none(), &mut stop).await {
                        break;
                    }
                }
                Err(error) => {
                    let wait = backoff(&self.config, store_failures);
                    store_failures = store_failures.saturating_add(1);
                    error!(%error, wait_ms = wait.as_millis() as u64, "the outbox failed during delivery");
                    if sleep_or_stop(wait, &mut stop).await {
                        break;
                    }
                }
            }
        }
        self.update_depth();
    }

    /// Removes what the sink committed but the outbox could not remove before.
    fn remove_unremoved(&mut self) -> Result<(), OutboxError> {
        if !self.unremoved.is_empty() {
            self.outbox.remove(&self.unremoved)?;
            self.unremoved.clear();
        }
        Ok(())
    }

    /// Waits `wait` before a retry; when `probe` and the wait is long, asks the sink every
    /// `probe_interval_ms` whether it answers again and ends the wait when it does. True when stopping.
    async fn wait_or_probe(&mut self, wait: Duration, probe: bool, stop: &mut watch::Receiver<bool>) -> bool {
        let every = Duration::from_millis(self.config.probe_interval_ms);
        if !probe || every.is_zero() || wait <= every {
            return sleep_or_stop(wait, stop).await;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            if sleep_or_stop(every.min(deadline - now), stop).await {
                return true;
            }
            if tokio::time::Instant::now() < deadline && self.sink.probe().await {
                info!("the destination answers again; delivery resumes");
                return false;
            }
        }
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

    /// Plans every payload of the batch once, writes MedTech merges one by one as they come, and the
    /// transactions together.
    async fn deliver(&mut self, batch: Vec<(u64, OutboxRecord)>) -> Result<Progress, OutboxError> {
        let mut planned = Vec::with_capacity(batch.len());
        for (id, record) in batch {
            match self.planner.plan(&record) {
                Plan::Transaction(transaction) => planned.push(Planned {
                    id,
                    record,
                    transaction,
                }),
                // MedTech messages merge into what is on the server: one read-merge-write each.
                Plan::Merge(merge) => match self.sink.merge(&merge).await {
                    Outcome::Delivered { entries } => {
                        self.remove_delivered(std::iter::once((id, &record)))?;
                        self.finished(id, record, Fate::Delivered, None, None);
                        info!(payloads = 1, entries, "delivered");
                    }
                    Outcome::Retry { reason, after } => return Ok(Progress::Retry { reason, after }),
                    Outcome::Refused(refusal) => self.bury(id, record, refusal, None)?,
                },
                // The reason names a rule, never a value.
                Plan::Nothing(reason) => {
                    self.outbox.remove(&[id])?;
                    self.finished(id, record, Fate::Nothing, Some(reason.clone()), None);
                    info!(outbox_id = id, %reason, "nothing to deliver in the payload");
                }
                Plan::Refuse(refused) => self.bury(id, record, Refusal::because(refused.reason), refused.device)?,
            }
        }
        if planned.is_empty() {
            return Ok(Progress::Done);
        }
        match self.send(&planned).await? {
            Sent::Done => {
                self.finished_delivered(planned);
                Ok(Progress::Done)
            }
            Sent::Retry(progress) => Ok(progress),
            Sent::Refused(refusal) if planned.len() == 1 => {
                if let Some(one) = planned.pop() {
                    self.bury(one.id, one.record, refusal, None)?;
                }
                Ok(Progress::Done)
            }
            // One bad payload must not hold back the others: send each alone to find it.
            Sent::Refused(_) => {
                for one in planned {
                    let single = [one];
                    match self.send(&single).await? {
                        Sent::Done => self.finished_delivered(single),
                        Sent::Retry(progress) => return Ok(progress),
                        Sent::Refused(refusal) => {
                            let [one] = single;
                            self.bury(one.id, one.record, refusal, None)?;
                        }
                    }
                }
                Ok(Progress::Done)
            }
        }
    }

    /// Writes the transactions of `planned` as one Bundle; removes the payloads when delivered.
    async fn send(&mut self, planned: &[Planned]) -> Result<Sent, OutboxError> {
        let bundle = batch_bundle(planned.iter().map(|p| &p.transaction.bundle));
        debug!(
            payloads = planned.len(),
            entries = bundle.entry.len(),
            "posting a transaction"
        );
        match self.sink.transaction(bundle).await {
            Outcome::Delivered { entries } => {
                self.remove_delivered(planned.iter().map(|p| (p.id, &p.record)))?;
                // Never silently: what an adapter left out is said, by path and rule (no values).
                for one in planned {
                    for LeftOut { what, reason } in &one.transaction.left_out {
                        warn!(
                            outbox_id = one.id,
                            left_out = %what,
                            reason = %reason,
                            "delivered without a measurement the mapping left out"
                        );
                    }
                }
                info!(payloads = planned.len(), entries, "delivered");
                Ok(Sent::Done)
            }
            Outcome::Retry { reason, after } => Ok(Sent::Retry(Progress::Retry { reason, after })),
            Outcome::Refused(refusal) => Ok(Sent::Refused(refusal)),
        }
    }

    /// Counts delivered payloads, with their accept-to-commit latency, and removes them from the
    /// outbox; those it cannot remove now are remembered and removed before anything else is sent.
    fn remove_delivered<'a>(
        &mut self,
        delivered: impl Iterator<Item = (u64, &'a OutboxRecord)>,
    ) -> Result<(), OutboxError> {
        let delivered: Vec<(u64, &OutboxRecord)> = delivered.collect();
        let ids: Vec<u64> = delivered.iter().map(|(id, _)| *id).collect();
        let now = Utc::now();
        for (_, record) in &delivered {
            let latency = (now - record.received_at.with_timezone(&Utc)).num_milliseconds();
            self.metrics.delivery_latency.observe(latency.max(0) as f64 / 1000.0);
        }
        self.metrics.delivered.inc_by(ids.len() as u64);
        if let Err(error) = self.outbox.remove(&ids) {
            self.unremoved.extend(ids);
            return Err(error);
        }
        Ok(())
    }

    /// Hands delivered payloads, with their Bundles, to the console's list of the latest.
    fn finished_delivered(&self, planned: impl IntoIterator<Item = Planned>) {
        for one in planned {
            self.finished(one.id, one.record, Fate::Delivered, None, Some(one.transaction.bundle));
        }
    }

    /// Moves a payload to the dead-letter store with the reason, and what the destination answered.
    fn bury(
        &self,
        id: u64,
        record: OutboxRecord,
        refusal: Refusal,
        device: Option<serde_json::Value>,
    ) -> Result<(), OutboxError> {
        let kind = if refusal.status.is_some() { "server" } else { "mapping" };
        let mut letter = DeadLetter::refused(record, refusal.reason);
        letter.device = device;
        letter.status = refusal.status;
        letter.outcome = refusal.answer;
        letter.bundle = refusal.sent;
        let dead_id = self.outbox.bury(id, &letter)?;
        let reason = letter.reason;
        self.finished(id, letter.record, Fate::DeadLettered, Some(reason.clone()), None);
        self.metrics.dead_lettered(kind);
        // The reason names rules and statuses, never patient data; the payload stays in the store.
        warn!(outbox_id = id, dead_letter_id = dead_id, reason = %reason, "moved to the dead-letter store");
        Ok(())
    }
}

/// How one transaction went.
enum Sent {
    Done,
    Retry(Progress),
    Refused(Refusal),
}

/// The transactions of a batch as one Bundle. Entries they share (their gateway, their device) are
/// written once: the same fullUrl is the same conditional identity.
fn batch_bundle<'a>(bundles: impl Iterator<Item = &'a Bundle>) -> Bundle {
    let mut entries: Vec<BundleEntry> = Vec::new();
    let mut urls: HashSet<String> = HashSet::new();
    for entry in bundles.flat_map(|b| b.entry.iter()) {
        let url = entry.full_url.as_ref().and_then(|u| u.value.clone());
        if url.is_none_or(|url| urls.insert(url)) {
            entries.push(entry.clone());
        }
    }
    Bundle {
        entry: entries,
        ..crate::fhir::empty_transaction()
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

    #[test]
    fn a_batch_writes_shared_entries_once_in_order() {
        let entry = |url: &str| BundleEntry {
            full_url: Some(url.into()),
            ..Default::default()
        };
        let bundle = |urls: &[&str]| Bundle {
            entry: urls.iter().map(|u| entry(u)).collect(),
            ..crate::fhir::empty_transaction()
        };
        let merged = batch_bundle(
            [
                bundle(&["urn:a", "urn:d1", "urn:o1"]),
                bundle(&["urn:a", "urn:d1", "urn:o2"]),
            ]
            .iter(),
        );
        let urls: Vec<_> = merged
            .entry
            .iter()
            .filter_map(|e| e.full_url.as_ref().and_then(|u| u.value.clone()))
            .collect();
        assert_eq!(urls, ["urn:a", "urn:d1", "urn:o1", "urn:o2"]);
        assert_eq!(merged.r#type.value.as_deref(), Some("transaction"));
    }
}
