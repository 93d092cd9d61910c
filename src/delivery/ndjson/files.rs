//! The NDJSON files of the embedded destination: one file per resource type (`Observation.ndjson`),
//! one resource per line, as FHIR Bulk Data `$export` writes them and `$import` reads them. Lines are
//! only ever appended; each write is flushed to disk before the index says it happened.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::store::{IndexUpdate, Place, ResourceIndex};

/// The longest line read back (a resource far larger than any the bridge writes is damage).
const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

/// The file of a resource type: `Observation.ndjson`. Only names FHIR could give a type (ASCII
/// letters) make a file name, so no resource can name a path.
pub fn file_name(resource_type: &str) -> Option<String> {
    let plausible = !resource_type.is_empty()
        && resource_type.len() <= 64
        && resource_type.bytes().all(|b| b.is_ascii_alphabetic())
        && resource_type.starts_with(|c: char| c.is_ascii_uppercase());
    plausible.then(|| format!("{resource_type}.ndjson"))
}

/// The files in `dir`, by name, sorted.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "ndjson") {
                    files.push(path);
                }
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    files.sort();
    Ok(files)
}

/// Brings the index up to date with what the files hold: lines a crash left unindexed (written, but
/// the index commit did not happen) are indexed, and a last line cut short by a crash is removed.
/// Returns how many lines were indexed.
pub fn reconcile(dir: &Path, index: &ResourceIndex) -> Result<usize, String> {
    let mut indexed = 0;
    for path in list(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let known = index.indexed_length(&name).map_err(|e| e.to_string())?;
        let actual = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if actual == known {
            continue;
        }
        // Shorter than indexed: the file was cut or replaced by hand; index it again from the start.
        let from = if actual < known {
            tracing::warn!(file = %name, "an NDJSON file is shorter than indexed; indexing it again");
            0
        } else {
            known
        };
        let (update, complete) = scan(&path, &name, from)?;
        if complete < actual {
            tracing::warn!(file = %name, bytes = actual - complete, "removing a last line cut short by a crash");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| {
                    file.set_len(complete)?;
                    file.sync_all()
                })
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        indexed += update.places.len();
        index.commit(&update).map_err(|e| e.to_string())?;
    }
    Ok(indexed)
}

/// The places of the complete lines of `path` from byte `from`, and where the complete lines end.
fn scan(path: &Path, name: &str, from: u64) -> Result<(IndexUpdate, u64), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = File::open(path).map_err(fail)?;
    file.seek(SeekFrom::Start(from)).map_err(fail)?;
    let mut reader = BufReader::new(file);
    let mut update = IndexUpdate::default();
    let mut offset = from;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
            .map_err(fail)?;
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }
        if let Some(reference) = reference_of(&line) {
            update.places.push((
                reference,
                Place {
                    file: name.to_string(),
                    offset,
                },
            ));
        }
        offset += read as u64;
    }
    update.lengths.push((name.to_string(), offset));
    Ok((update, offset))
}

/// `Type/id` of a resource line.
fn reference_of(line: &[u8]) -> Option<String> {
    let resource: Value = serde_json::from_slice(line).ok()?;
    Some(format!(
        "{}/{}",
        resource.get("resourceType")?.as_str()?,
        resource.get("id")?.as_str()?
    ))
}

/// Appends `lines` (each one resource, without its line end) to `dir/name` and flushes it to disk.
/// Returns the offset of each line and the file's new length.
pub fn append(dir: &Path, name: &str, lines: &[Vec<u8>]) -> std::io::Result<(Vec<u64>, u64)> {
    let path = dir.join(name);
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    let mut offset = file.seek(SeekFrom::End(0))?;
    let mut offsets = Vec::with_capacity(lines.len());
    let mut buffer = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        offsets.push(offset);
        buffer.extend_from_slice(line);
        buffer.push(b'\n');
        offset += line.len() as u64 + 1;
    }
    file.write_all(&buffer)?;
    file.sync_data()?;
    Ok((offsets, offset))
}

/// The resource at `place` in `dir`.
pub fn read(dir: &Path, place: &Place) -> Result<Value, String> {
    let path = dir.join(&place.file);
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = File::open(&path).map_err(fail)?;
    file.seek(SeekFrom::Start(place.offset)).map_err(fail)?;
    let mut line = Vec::new();
    BufReader::new(file)
        .take(MAX_LINE_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(fail)?;
    serde_json::from_slice(&line).map_err(|e| format!("{} at byte {}: {e}", path.display(), place.offset))
}

/// Every resource line of `path`, in the order written.
pub fn each_line(path: &Path, mut visit: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(());
        }
        if let Some(resource) = line.strip_suffix(b"\n") {
            visit(resource);
        }
    }
}

/// What one file holds: its resource type, how many resources, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub resource_type: String,
    pub resources: usize,
    pub path: PathBuf,
}

/// Every file of `dir`, with how many resources it holds.
pub fn summary(dir: &Path) -> std::io::Result<Vec<FileSummary>> {
    let mut out = Vec::new();
    for path in list(dir)? {
        let mut resources = 0;
        each_line(&path, |_| resources += 1)?;
        let resource_type = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        out.push(FileSummary {
            resource_type,
            resources,
            path,
        });
    }
    Ok(out)
}
