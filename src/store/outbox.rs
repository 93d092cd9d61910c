//! The durable outbox: every payload the bridge accepts is stored here before the sender is told so
//! (an MLLP `AA`, later an HTTP 202 or an MQTT PUBACK). Delivery to the FHIR server reads from it and
//! removes what the server has taken, so a crash between the two loses nothing.
//!
//! Storage is redb (an embedded, crash-safe key-value store in pure Rust; chosen over SQLite for no
//! C build step and a typed API, over fjall for its simple single-file transactional model). Writes
//! are **group-committed**: one writer thread drains every append waiting at that moment into one
//! transaction and one fsync, and only then answers each of them, so durability does not cost one
//! fsync per reading under load.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

use super::database::{Failure, Files, Opener, Store};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, Notify};

/// Records by sequence number (assigned in commit order).
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending");
/// Records the bridge gave up on, with the reason, by their own sequence number.
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Device-patient associations added through the admin API (JSON entries, as in the file).
const ASSOCIATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("associations");
/// The next number of each numbered table, so a number is never given twice (an id answered to a
/// sender or shown to an operator keeps meaning one record, even after the newest one is removed).
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// The most appends one transaction takes.
const MAX_BATCH: usize = 1024;

/// A store failure. The outbox refuses to acknowledge anything it could not store.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("outbox {path}: {message}")]
pub struct OutboxError {
    pub path: String,
    pub message: String,
}

/// One accepted payload, as received. Its `Debug` form withholds the payload and the patient, so a
/// record that reaches a log says where it came from, never what it holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRecord {
    /// The adapter that will map it (`ble`, `hl7v2`).
    pub adapter: String,
    pub received_at: DateTime<FixedOffset>,
    /// Where it came from, for operators (`mllp 127.0.0.1:50412`); never patient data.
    pub source: String,
    #[serde(with = "payload_base64")]
    pub payload: Vec<u8>,
    /// The patient the sender said the payload is about (`system|value`), for payloads that do not
    /// name one themselves (a vendor-cloud poller posting one user's data with `?patient=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The payload's place in the batch it came in (an HTTP array of hub envelopes), so that two
    /// readings of one batch without device times stay two readings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<u32>,
}

impl std::fmt::Debug for OutboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRecord")
            .field("adapter", &self.adapter)
            .field("received_at", &self.received_at)
            .field("source", &self.source)
            .field("payload", &format_args!("({} bytes withheld)", self.payload.len()))
            .field("patient", &self.patient.as_ref().map(|_| "(withheld)"))
            .finish()
    }
}

mod payload_base64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Why a record is in the dead-letter store, and what an operator needs to fix it: the payload (in
/// `record`), the Bundle that was sent and the server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub record: OutboxRecord,
    /// What went wrong, for people: the mapping rule broken, or the server's status.
    pub reason: String,
    /// The HTTP status the FHIR server answered, when it was the server that refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The device a missing device-patient association would cover (as `POST /admin/associations`
    /// takes it), when that is why the payload is here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<serde_json::Value>,
    /// The transaction Bundle as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The server's response body (an OperationOutcome, usually).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub failed_at: DateTime<FixedOffset>,
}

impl DeadLetter {
    /// A payload given up on for `reason`, without a server's answer (it never reached one).
    pub fn refused(record: OutboxRecord, reason: String) -> DeadLetter {
        DeadLetter {
            record,
            reason,
            status: None,
            device: None,
            bundle: None,
            outcome: None,
            failed_at: Utc::now().fixed_offset(),
        }
    }
}

/// Several records appended together: stored in one transaction, numbered consecutively.
struct Append {
    records: Vec<Vec<u8>>,
    reply: oneshot::Sender<Result<u64, OutboxError>>,
}

/// The outbox. Cheap to clone; all clones share one database and one writer.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<Store>,
    appends: mpsc::Sender<Append>,
    /// Woken after each commit, so delivery does not poll an empty store.
    appended: Arc<Notify>,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir` (file `outbox.redb`) and starts its writer thread.
    pub fn open(dir: &Path) -> Result<Self, OutboxError> {
        Outbox::open_with(dir, Box::new(Files))
    }

    /// [`Outbox::open`] with the database opened by `opener` (tests inject failing writes with it).
    pub fn open_with(dir: &Path, opener: Box<dyn Opener>) -> Result<Self, OutboxError> {
        let path = dir.join("outbox.redb");
        let fail = |message: String| OutboxError {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the data directory: {e}")))?;
        let store = Arc::new(Store::open(&path, opener).map_err(fail)?);
        // Create the tables up front so readers never meet a missing table.
        store
            .write(|db| {
                let txn = db.begin_write().map_err(|e| store.failure(e))?;
                for table in [PENDING, DEAD, ASSOCIATIONS] {
                    txn.open_table(table).map_err(|e| store.failure(e))?;
                }
                txn.open_table(COUNTERS).map_err(|e| store.failure(e))?;
                txn.commit().map_err(|e| store.failure(e))
            })
            .map_err(|f| fail(f.0))?;
        let (appends, receiver) = mpsc::channel(4 * MAX_BATCH);
        let writer_store = Arc::clone(&store);
        let appended = Arc::new(Notify::new());
        let writer_appended = Arc::clone(&appended);
        std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || write_loop(&writer_store, receiver, &writer_appended))
            .map_err(|e| fail(format!("cannot start the writer thread: {e}")))?;
        Ok(Outbox {
            store,
            appends,
            appended,
        })
    }

    /// The database, for the other tables the store keeps beside the outbox.
    pub(super) fn database(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    fn error(&self, message: impl ToString) -> OutboxError {
        OutboxError {
            path: self.store.path().display().to_string(),
            message: message.to_string(),
        }
    }

    /// Runs `work` on the database; its failures become [`OutboxError`]s.
    fn read<T>(&self, work: impl FnOnce(&Database, &Store) -> Result<T, Failure>) -> Result<T, OutboxError> {
        self.store.with(|db| work(db, &self.store)).map_err(|f| self.error(f.0))
    }

    /// False while writes fail (a full disk): the bridge is not ready to take payloads. A failing
    /// store is tried with an empty write, so readiness comes back as soon as the disk does.
    pub fn writable(&self) -> bool {
        if !self.store.writes_failing() {
            return true;
        }
        self.write(|_| Ok(())).is_ok()
    }

    /// Stores `record` durably and returns its sequence number. Returns only after the transaction
    /// holding it has been committed to disk.
    pub async fn append(&self, record: &OutboxRecord) -> Result<u64, OutboxError> {
        self.append_all(std::slice::from_ref(record)).await
    }

    /// Stores `records` durably, all or none, numbered consecutively; returns the first number.
    /// Returns only after the transaction holding them has been committed to disk.
    pub async fn append_all(&self, records: &[OutboxRecord]) -> Result<u64, OutboxError> {
        let encoded = records
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        let (reply, answer) = oneshot::channel();
        self.appends
            .send(Append {
                records: encoded,
                reply,
            })
            .await
            .map_err(|_| self.error("the writer has stopped"))?;
        answer
            .await
            .map_err(|_| self.error("the writer stopped before committing"))?
    }

    /// Up to `limit` stored records, oldest first.
    ///
    /// A stored record that cannot be decoded (damage, or a format this version does not read) is
    /// moved to the dead-letter store with its raw bytes, so it cannot block the ones behind it.
    pub fn pending(&self, limit: usize) -> Result<Vec<(u64, OutboxRecord)>, OutboxError> {
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        self.read(|db, store| {
            let txn = db.begin_read().map_err(|e| store.failure(e))?;
            let table = txn.open_table(PENDING).map_err(|e| store.failure(e))?;
            for item in table.iter().map_err(|e| store.failure(e))?.take(limit) {
                let (key, value) = item.map_err(|e| store.failure(e))?;
                match serde_json::from_slice(value.value()) {
                    Ok(record) => out.push((key.value(), record)),
                    Err(error) => unreadable.push((key.value(), value.value().to_vec(), error.to_string())),
                }
            }
            Ok(())
        })?;
        for (id, raw, error) in unreadable {
            let record = OutboxRecord {
                adapter: "unknown".into(),
                received_at: Utc::now().fixed_offset(),
                source: format!("outbox record {id}"),
                payload: raw,
                patient: None,
                batch_index: None,
            };
            let reason = format!("the stored record cannot be read ({error}); the payload is its raw bytes");
            let letter = DeadLetter::refused(record, reason);
            self.bury(id, &letter)?;
        }
        Ok(out)
    }

    /// How many records wait for delivery.
    pub fn len(&self) -> Result<u64, OutboxError> {
        self.read(|db, store| {
            let txn = db.begin_read().map_err(|e| store.failure(e))?;
            let table = txn.open_table(PENDING).map_err(|e| store.failure(e))?;
            table.len().map_err(|e| store.failure(e))
        })
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// Waits until something has been appended since the last wake-up (returns at once if an append
    /// happened while nobody waited).
    pub async fn appended(&self) {
        self.appended.notified().await;
    }

    /// Removes delivered records.
    pub fn remove(&self, ids: &[u64]) -> Result<(), OutboxError> {
        self.write(|txn| {
            let mut table = txn.open_table(PENDING)?;
            for id in ids {
                table.remove(id)?;
            }
            Ok(())
        })
    }

    /// Moves pending record `id` to the dead-letter store, in one transaction; returns its number there.
    pub fn bury(&self, id: u64, letter: &DeadLetter) -> Result<u64, OutboxError> {
        let encoded = serde_json::to_vec(letter).map_err(|e| self.error(e))?;
        self.write(|txn| {
            txn.open_table(PENDING)?.remove(id)?;
            insert_next(txn, DEAD, &encoded)
        })
    }

    /// Stores a dead letter for a payload that never reached the outbox (an MQTT message that does not
    /// parse, which has no sender to answer); returns its number.
    pub fn add_dead_letter(&self, letter: &DeadLetter) -> Result<u64, OutboxError> {
        let encoded = serde_json::to_vec(letter).map_err(|e| self.error(e))?;
        self.write(|txn| insert_next(txn, DEAD, &encoded))
    }

    /// Every dead letter, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<(u64, DeadLetter)>, OutboxError> {
        self.read(|db, store| {
            let txn = db.begin_read().map_err(|e| store.failure(e))?;
            let table = txn.open_table(DEAD).map_err(|e| store.failure(e))?;
            let mut out = Vec::new();
            for item in table.iter().map_err(|e| store.failure(e))? {
                let (key, value) = item.map_err(|e| store.failure(e))?;
                match serde_json::from_slice(value.value()) {
                    Ok(letter) => out.push((key.value(), letter)),
                    // Listed by number so it is not hidden; `show` reports the error.
                    Err(error) => {
                        tracing::warn!(dead_letter_id = key.value(), %error, "a dead letter cannot be read")
                    }
                }
            }
            Ok(out)
        })
    }

    /// One dead letter.
    pub fn dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, OutboxError> {
        self.read(|db, store| {
            let txn = db.begin_read().map_err(|e| store.failure(e))?;
            let table = txn.open_table(DEAD).map_err(|e| store.failure(e))?;
            match table.get(id).map_err(|e| store.failure(e))? {
                Some(value) => Ok(Some(
                    serde_json::from_slice(value.value()).map_err(|e| Failure(e.to_string()))?,
                )),
                None => Ok(None),
            }
        })
    }

    /// Moves dead letter `id` back into the outbox (at the end), in one transaction, so delivery tries
    /// it again; returns its new outbox number, or `None` when there is no such dead letter.
    pub fn replay(&self, id: u64) -> Result<Option<u64>, OutboxError> {
        let replayed = self.write(|txn| {
            let letter = match txn.open_table(DEAD)?.remove(id)? {
                Some(value) => value.value().to_vec(),
                None => return Ok(None),
            };
            let letter: DeadLetter = serde_json::from_slice(&letter).map_err(|e| StoreFailure::Other(e.to_string()))?;
            let record = serde_json::to_vec(&letter.record).map_err(|e| StoreFailure::Other(e.to_string()))?;
            Ok(Some(insert_next(txn, PENDING, &record)?))
        })?;
        if replayed.is_some() {
            self.appended.notify_one();
        }
        Ok(replayed)
    }

    /// Stores an association entry (JSON); returns its number.
    pub fn add_association(&self, entry: &[u8]) -> Result<u64, OutboxError> {
        self.write(|txn| insert_next(txn, ASSOCIATIONS, entry))
    }

    /// Replaces a stored association's entry (an association ended); false when there is none with
    /// that number.
    pub fn replace_association(&self, id: u64, entry: &[u8]) -> Result<bool, OutboxError> {
        self.write(|txn| {
            let mut table = txn.open_table(ASSOCIATIONS)?;
            if table.get(id)?.is_none() {
                return Ok(false);
            }
            table.insert(id, entry)?;
            Ok(true)
        })
    }

    /// Removes a stored association; false when there was none with that number.
    pub fn remove_association(&self, id: u64) -> Result<bool, OutboxError> {
        self.write(|txn| Ok(txn.open_table(ASSOCIATIONS)?.remove(id)?.is_some()))
    }

    /// The stored association entries, oldest first.
    pub fn associations(&self) -> Result<Vec<(u64, Vec<u8>)>, OutboxError> {
        self.read(|db, store| {
            let txn = db.begin_read().map_err(|e| store.failure(e))?;
            let table = txn.open_table(ASSOCIATIONS).map_err(|e| store.failure(e))?;
            let mut out = Vec::new();
            for item in table.iter().map_err(|e| store.failure(e))? {
                let (key, value) = item.map_err(|e| store.failure(e))?;
                out.push((key.value(), value.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Runs `work` in one write transaction and commits it.
    fn write<T>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreFailure>,
    ) -> Result<T, OutboxError> {
        let store = &self.store;
        store
            .write(|db| write_transaction(db, store, work))
            .map_err(|f| self.error(f.0))
    }
}

/// Runs `work` in one write transaction of `db` and commits it; an I/O error schedules a reopen.
fn write_transaction<T>(
    db: &Database,
    store: &Store,
    work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreFailure>,
) -> Result<T, Failure> {
    let txn = db.begin_write().map_err(|e| store.failure(e))?;
    let value = work(&txn).map_err(|failure| match failure {
        StoreFailure::Redb(error) => store.failure(*error),
        StoreFailure::Other(message) => Failure(message),
    })?;
    txn.commit().map_err(|e| store.failure(e))?;
    Ok(value)
}

/// A failure inside a write: redb's (boxed: it is large to pass around), or the caller's.
enum StoreFailure {
    Redb(Box<redb::Error>),
    Other(String),
}

impl<E: Into<redb::Error>> From<E> for StoreFailure {
    fn from(error: E) -> Self {
        StoreFailure::Redb(Box::new(error.into()))
    }
}

/// Inserts `value` under the next number of `definition` and returns the number.
fn insert_next(
    txn: &redb::WriteTransaction,
    definition: TableDefinition<u64, &[u8]>,
    value: &[u8],
) -> Result<u64, StoreFailure> {
    let mut table = txn.open_table(definition)?;
    let last = table.last()?.map(|(key, _)| key.value());
    let id = allocate(txn, definition.name(), 1, last)?;
    table.insert(id, value)?;
    Ok(id)
}

/// Takes `count` consecutive numbers for the table `name` (whose highest key is `last`); returns the
/// first. Numbers are never reused, even after the records holding them are removed.
fn allocate(txn: &redb::WriteTransaction, name: &str, count: u64, last: Option<u64>) -> Result<u64, StoreFailure> {
    let mut counters = txn.open_table(COUNTERS)?;
    let stored = counters.get(name)?.map(|next| next.value());
    let first = stored.unwrap_or(1).max(last.map_or(1, |last| last + 1));
    counters.insert(name, first + count)?;
    Ok(first)
}

/// The single writer: takes whatever appends are waiting (up to `MAX_BATCH`), commits them in one
/// transaction, then answers each. On a failed commit every waiting append gets the error, so none is
/// acknowledged to its sender.
fn write_loop(store: &Store, mut receiver: mpsc::Receiver<Append>, appended: &Notify) {
    let path = store.path().display().to_string();
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while batch.iter().map(|a| a.records.len()).sum::<usize>() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let result = store.write(|db| commit_batch(db, store, &batch));
        if result.is_ok() {
            appended.notify_one();
        }
        let mut offset = 0;
        for append in batch {
            let first = offset;
            offset += append.records.len() as u64;
            let answer = match &result {
                Ok(first_id) => Ok(first_id + first),
                Err(failure) => Err(OutboxError {
                    path: path.clone(),
                    message: failure.0.clone(),
                }),
            };
            // A sender that gave up waiting is not an error of the store.
            let _ = append.reply.send(answer);
        }
    }
}

fn commit_batch(db: &Database, store: &Store, batch: &[Append]) -> Result<u64, Failure> {
    write_transaction(db, store, |txn| {
        let mut table = txn.open_table(PENDING)?;
        let last = table.last()?.map(|(key, _)| key.value());
        let count = batch.iter().map(|a| a.records.len() as u64).sum();
        let first_id = allocate(txn, PENDING.name(), count, last)?;
        for (offset, record) in batch.iter().flat_map(|a| &a.records).enumerate() {
            table.insert(first_id + offset as u64, record.as_slice())?;
        }
        Ok(first_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn record(n: u8) -> OutboxRecord {
        OutboxRecord {
            adapter: "hl7v2".into(),
            received_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00+01:00").unwrap(),
            source: "test".into(),
            payload: vec![n, 0x0D, 0xFF],
            patient: None,
            batch_index: None,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fhirgate-outbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_survive_reopening_in_order() {
        let dir = temp_dir("reopen");
        {
            let outbox = Outbox::open(&dir).unwrap();
            assert_eq!(outbox.append(&record(1)).await.unwrap(), 1);
            assert_eq!(outbox.append(&record(2)).await.unwrap(), 2);
        }
        // The writer thread of the first instance still holds the file until it sees its channel
        // close; wait for that before opening again.
        let reopened = loop {
            match Outbox::open(&dir) {
                Ok(outbox) => break outbox,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let stored = reopened.pending(10).unwrap();
        assert_eq!(
            stored.iter().map(|(id, r)| (*id, r.payload[0])).collect::<Vec<_>>(),
            vec![(1, 1), (2, 2)]
        );
        assert_eq!(stored[0].1, record(1));
        assert_eq!(
            reopened.append(&record(3)).await.unwrap(),
            3,
            "numbering continues after a restart"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn numbers_are_never_reused_and_unreadable_records_do_not_block() {
        let outbox = Outbox::open(&temp_dir("numbers")).unwrap();
        assert_eq!(outbox.append(&record(1)).await.unwrap(), 1);
        assert_eq!(outbox.append(&record(2)).await.unwrap(), 2);
        outbox.remove(&[2]).unwrap();
        assert_eq!(outbox.append(&record(3)).await.unwrap(), 3, "2 is not given again");
        let letter = DeadLetter {
            record: record(9),
            reason: "test".into(),
            status: None,
            device: None,
            bundle: None,
            outcome: None,
            failed_at: record(9).received_at,
        };
        assert_eq!(outbox.bury(3, &letter).unwrap(), 1);
        assert_eq!(outbox.replay(1).unwrap(), Some(4));
        assert_eq!(
            outbox.add_dead_letter(&letter).unwrap(),
            2,
            "dead letter 1 is not given again"
        );

        // A record this version cannot decode is moved aside with its raw bytes.
        outbox
            .write(|txn| Ok(txn.open_table(PENDING)?.insert(0, b"not json".as_slice()).map(|_| ())?))
            .unwrap();
        let pending = outbox.pending(10).unwrap();
        assert_eq!(pending.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 4]);
        let letters = outbox.dead_letters().unwrap();
        let moved = &letters.last().unwrap().1;
        assert_eq!(moved.record.payload, b"not json");
        assert!(moved.reason.contains("cannot be read"), "{}", moved.reason);
        assert_eq!(outbox.len().unwrap(), 2);
    }

    #[test]
    fn debug_withholds_payload_and_patient() {
        let record = OutboxRecord {
            patient: Some("urn:oid:1.2.3|MRN-4711".into()),
            batch_index: None,
            payload: b"MRN-4711 120/80".to_vec(),
            ..record(1)
        };
        let text = format!("{record:?}");
        assert!(!text.contains("MRN-4711") && !text.contains("120"), "{text}");
        assert!(
            text.contains("15 bytes withheld") && text.contains("source: \"test\""),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_get_distinct_numbers() {
        let outbox = Outbox::open(&temp_dir("concurrent")).unwrap();
        let tasks: Vec<_> = (0..200u8)
            .map(|n| {
                let outbox = outbox.clone();
                tokio::spawn(async move { outbox.append(&record(n)).await.unwrap() })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=200).collect::<Vec<u64>>());
        assert_eq!(outbox.len().unwrap(), 200);
    }
}
