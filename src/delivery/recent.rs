//! The latest payloads delivery finished with, for the console's flow view: where each came from,
//! what became of it (delivered, nothing to deliver, dead-lettered), and the payload and its Bundle
//! to open side by side. Held in memory only, a bounded number, and served behind the admin guard
//! (they hold patient data, as dead letters do).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, FixedOffset, Utc};
use fhirbolt::model::r4::resources::Bundle;

use crate::store::OutboxRecord;

/// How many are kept.
pub const CAPACITY: usize = 200;

/// What became of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    Delivered,
    Nothing,
    DeadLettered,
}

/// One payload delivery finished with.
#[derive(Debug, Clone)]
pub struct Finished {
    /// A number of its own, counting up (outbox ids are reused by replays).
    pub seq: u64,
    pub outbox_id: u64,
    pub adapter: String,
    pub source: String,
    pub received_at: DateTime<FixedOffset>,
    pub finished_at: DateTime<Utc>,
    pub fate: Fate,
    /// The rule for `Nothing` and `DeadLettered` (never a value).
    pub reason: Option<String>,
    /// Resource types of the Bundle with their counts (`Observation ×3`).
    pub resources: Vec<(String, usize)>,
    pub payload: Vec<u8>,
    pub bundle: Option<Bundle>,
}

/// The ring of the latest.
#[derive(Debug, Default)]
pub struct Recent {
    inner: Mutex<(u64, VecDeque<Finished>)>,
}

impl Recent {
    pub fn new() -> Recent {
        Recent::default()
    }

    /// Keeps what became of `record`. The record and Bundle are moved in, never copied: delivery is
    /// done with them.
    pub fn push(
        &self,
        outbox_id: u64,
        record: OutboxRecord,
        fate: Fate,
        reason: Option<String>,
        bundle: Option<Bundle>,
    ) {
        let mut resources: Vec<(String, usize)> = Vec::new();
        for entry in bundle.iter().flat_map(|b| b.entry.iter()) {
            // A create's URL is its resource type (`Observation`).
            let Some(url) = entry.request.as_ref().and_then(|r| r.url.value.as_deref()) else {
                continue;
            };
            let name = url.split(['?', '/']).next().unwrap_or(url).to_string();
            match resources.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => resources.push((name, 1)),
            }
        }
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (next, ring) = &mut *guard;
        *next += 1;
        if ring.len() >= CAPACITY {
            ring.pop_front();
        }
        ring.push_back(Finished {
            seq: *next,
            outbox_id,
            adapter: record.adapter,
            source: record.source,
            received_at: record.received_at,
            finished_at: Utc::now(),
            fate,
            reason,
            resources,
            payload: record.payload,
            bundle,
        });
    }

    /// `view` of each, the latest first (a view, so that listing never copies payloads and Bundles).
    pub fn list<T>(&self, view: impl Fn(&Finished) -> T) -> Vec<T> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.iter().rev().map(view).collect()
    }

    pub fn get(&self, seq: u64) -> Option<Finished> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.iter().find(|f| f.seq == seq).cloned()
    }
}
