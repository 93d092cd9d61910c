//! The embedded destination: with no FHIR server configured, resources are delivered into FHIR Bulk
//! Data NDJSON files under the data directory ([`files`]), with the FHIR server path's semantics. A
//! transaction's conditional creates (`ifNoneExist`) are looked up in the store's
//! [`ResourceIndex`]: a resource already delivered is not written again (a replay, a resend, the same
//! Device in every Bundle), and the Bundle's `urn:uuid:` references are resolved to `Type/id` of the
//! resources written or found, as a server resolves them. Patients stay referenced by identifier:
//! there is no patient registry to resolve them against.
//!
//! A write appends every new resource, flushes the files, then commits the index; a crash between the
//! two leaves lines the index does not know, which [`files::reconcile`] indexes when the sink opens
//! (the resources' ids are deterministic, so the replayed Bundle finds them).

pub mod files;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use fhirbolt::model::r4::resources::Bundle;
use serde_json::Value;

use super::plan::MergePlan;
use super::sink::{Outcome, Refusal, Sink};
use crate::store::{IndexUpdate, Outbox, Place, ResourceIndex};

/// Delivery into NDJSON files.
pub struct NdjsonSink {
    files: Arc<Mutex<Destination>>,
}

/// The directory and its index, used by one write at a time.
struct Destination {
    dir: PathBuf,
    index: ResourceIndex,
}

/// Why a Bundle cannot be written, for good.
struct Unwritable(String);

impl NdjsonSink {
    /// The destination in `dir` (created if missing), indexed in `outbox`'s store; what a crash left
    /// unindexed is indexed first.
    pub fn open(dir: &Path, outbox: &Outbox) -> Result<NdjsonSink, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let index = ResourceIndex::of(outbox);
        let healed = files::reconcile(dir, &index)?;
        if healed > 0 {
            tracing::info!(resources = healed, "indexed resources a crash left unindexed");
        }
        Ok(NdjsonSink {
            files: Arc::new(Mutex::new(Destination {
                dir: dir.to_path_buf(),
                index,
            })),
        })
    }

    /// Writes off the async runtime: appends and fsyncs block.
    async fn blocking(&self, work: impl FnOnce(&mut Destination) -> Outcome + Send + 'static) -> Outcome {
        let files = Arc::clone(&self.files);
        let done = tokio::task::spawn_blocking(move || {
            let mut destination = files.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut destination)
        })
        .await;
        done.unwrap_or_else(|_| Outcome::retry("the file writer stopped unexpectedly"))
    }
}

impl Sink for NdjsonSink {
    async fn transaction(&mut self, bundle: Bundle) -> Outcome {
        // Straight to a JSON tree: no text in between to parse again.
        let bundle: Value = match fhirbolt::json::to_json_value(bundle, None) {
            Ok(bundle) => bundle,
            Err(error) => return Outcome::refused(format!("the Bundle cannot be written as JSON: {error}")),
        };
        self.blocking(move |destination| {
            match destination.write(&bundle) {
                Ok(Ok(entries)) => Outcome::Delivered { entries },
                Ok(Err(Unwritable(reason))) => Outcome::Refused(Refusal {
                    reason,
                    status: None,
                    answer: None,
                    sent: serde_json::to_string(&bundle).ok(),
                }),
                // The disk (full, read-only): the payloads wait in the outbox.
                Err(reason) => Outcome::retry(reason),
            }
        })
        .await
    }

    /// MedTech windows are read, merged and written back in place, which needs a FHIR server: they
    /// go to the dead-letter store with that reason, and a replay once `fhir.base_url` is set
    /// delivers them.
    async fn merge(&mut self, _plan: &MergePlan) -> Outcome {
        Outcome::refused(
            "Azure MedTech windows are merged into Observations on a FHIR server, which the embedded NDJSON \
             destination is not: set fhir.base_url, then replay this dead letter",
        )
    }

    /// The directory is there and writable.
    async fn probe(&mut self) -> bool {
        let files = Arc::clone(&self.files);
        tokio::task::spawn_blocking(move || {
            let destination = files.lock().unwrap_or_else(PoisonError::into_inner);
            tempfile_probe(&destination.dir)
        })
        .await
        .unwrap_or(false)
    }
}

fn tempfile_probe(dir: &Path) -> bool {
    let probe = dir.join(".probe");
    let written = std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe));
    written.is_ok()
}

/// One entry of a Bundle being written, before the index is read: its resource, file, reference
/// and conditional-create key.
struct Read {
    reference: String,
    id: uuid::Uuid,
    file: String,
    full_url: Option<String>,
    key: Option<String>,
    resource: Value,
}

/// A new resource of a write: its file, reference, and the resource itself.
struct New {
    file: String,
    reference: String,
    resource: Value,
}

impl Destination {
    /// Writes one transaction Bundle: `Ok(Ok(entries))` when written, `Ok(Err(_))` when it can never be
    /// written, `Err(_)` when the disk or store failed (try again).
    fn write(&mut self, bundle: &Value) -> Result<Result<usize, Unwritable>, String> {
        let Some(entries) = bundle.get("entry").and_then(Value::as_array) else {
            return Ok(Err(Unwritable("the Bundle has no entries".into())));
        };
        let mut resolved: HashMap<String, String> = HashMap::new();
        let mut keyed: HashMap<String, String> = HashMap::new();
        let mut update = IndexUpdate::default();
        let mut new: Vec<New> = Vec::new();
        let mut read: Vec<Read> = Vec::with_capacity(entries.len());
        for (n, entry) in entries.iter().enumerate() {
            let resource = entry.get("resource").cloned().unwrap_or(Value::Null);
            let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
                return Ok(Err(Unwritable(format!("entry {n}: no resource with a resourceType"))));
            };
            let Some(file) = files::file_name(resource_type) else {
                return Ok(Err(Unwritable(format!(
                    "entry {n}: the resourceType is not a FHIR type name"
                ))));
            };
            let request = entry.get("request");
            let method = request.and_then(|r| r.get("method")).and_then(Value::as_str);
            if method != Some("POST") {
                return Ok(Err(Unwritable(format!(
                    "entry {n}: only creates (POST) are written to the embedded destination"
                ))));
            }
            let full_url = entry.get("fullUrl").and_then(Value::as_str).map(str::to_string);
            let key = request
                .and_then(|r| r.get("ifNoneExist"))
                .and_then(Value::as_str)
                .map(|query| format!("{resource_type}?{query}"));
            let id = full_url
                .as_deref()
                .and_then(|url| url.strip_prefix("urn:uuid:"))
                .and_then(|uuid| uuid::Uuid::parse_str(uuid).ok())
                .or_else(|| {
                    key.as_ref()
                        .map(|key| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes()))
                })
                .unwrap_or_else(uuid::Uuid::new_v4);
            read.push(Read {
                reference: format!("{resource_type}/{id}"),
                id,
                file,
                full_url,
                key,
                resource,
            });
        }
        // Every lookup of the Bundle in one read of the index.
        let keys: Vec<&str> = read.iter().filter_map(|r| r.key.as_deref()).collect();
        let references: Vec<&str> = read.iter().map(|r| r.reference.as_str()).collect();
        let (found, places) = self.index.lookup(&keys, &references).map_err(|e| e.to_string())?;
        let mut found = found.into_iter();
        for (entry, place) in read.into_iter().zip(places) {
            let Read {
                reference,
                id,
                file,
                full_url,
                key,
                resource,
            } = entry;
            let indexed = if key.is_some() { found.next().flatten() } else { None };
            // The same conditional identity twice in one Bundle is one resource.
            let known = key.as_ref().and_then(|key| keyed.get(key).cloned()).or(indexed);
            let reference = match known {
                Some(reference) => reference,
                None => {
                    // Written before a crash kept its key out of the index: found by its id.
                    let written = place.is_some();
                    if !written && !new.iter().any(|n| n.reference == reference) {
                        let mut resource = resource;
                        if let Some(object) = resource.as_object_mut() {
                            object.insert("id".into(), Value::String(id.to_string()));
                        }
                        new.push(New {
                            file,
                            reference: reference.clone(),
                            resource,
                        });
                    }
                    if let Some(key) = &key {
                        update.keys.push((key.clone(), reference.clone()));
                    }
                    reference
                }
            };
            if let Some(key) = key {
                keyed.insert(key, reference.clone());
            }
            if let Some(url) = full_url {
                resolved.insert(url, reference);
            }
        }
        let entries = new.len();
        let updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut by_file: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for New {
            file,
            reference,
            mut resource,
        } in new
        {
            resolve_references(&mut resource, &resolved);
            if let Some(object) = resource.as_object_mut() {
                let meta = object
                    .entry("meta")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert("lastUpdated".into(), Value::String(updated.clone()));
                }
            }
            let line = serde_json::to_vec(&resource).map_err(|e| e.to_string())?;
            by_file.entry(file).or_default().push((reference, line));
        }
        for (file, lines) in by_file {
            let (references, lines): (Vec<String>, Vec<Vec<u8>>) = lines.into_iter().unzip();
            let (offsets, length) = files::append(&self.dir, &file, &lines)
                .map_err(|e| format!("{}: {e}", self.dir.join(&file).display()))?;
            for (reference, offset) in references.into_iter().zip(offsets) {
                update.places.push((
                    reference,
                    Place {
                        file: file.clone(),
                        offset,
                    },
                ));
            }
            update.lengths.push((file, length));
        }
        self.index.commit(&update).map_err(|e| e.to_string())?;
        Ok(Ok(entries))
    }
}

/// Points every `reference` that names an entry of the Bundle (`urn:uuid:...`) at the resource it
/// became, anywhere in `value`.
fn resolve_references(value: &mut Value, resolved: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (name, member) in object.iter_mut() {
                if name == "reference" {
                    if let Some(reference) = member.as_str().and_then(|r| resolved.get(r)) {
                        *member = Value::String(reference.clone());
                    }
                } else {
                    resolve_references(member, resolved);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| resolve_references(item, resolved)),
        _ => {}
    }
}
