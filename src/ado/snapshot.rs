//! Recorded ADO data: write listings to a directory, replay them offline as a [`Source`].
//!
//! Format (DESIGN.md "Sources"): `DIR/manifest.json` holds
//! `{version, organization, fetched_at, kinds: {KIND: {count, complete, error}}}` and each
//! recorded kind has `DIR/KIND.jsonl`, one raw item per line exactly as the live source
//! yielded it (enrichment fields included).
//!
//! Replay is honest about gaps: a kind missing from the manifest, recorded as incomplete,
//! whose file is missing or unreadable, has a malformed line, or whose line count disagrees
//! with the manifest, replays as an *incomplete* listing, so pruning deletes nothing for it.
//!
//! What a snapshot cannot replay: selector options that the live source applies
//! server-side (a work-item `wiql`, pull-request `searchCriteria`/`minTimeInDays`, release
//! filters, `excludedTags`). A snapshot yields every recorded item of the kind whatever the
//! selector says; the mapping's `query` does the filtering. Record with the selector you
//! mean to use, or filter in `query`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::source::{Listing, Source};

/// The manifest format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's file name inside a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Errors reading or writing a snapshot directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manifest could not be read (missing directory, permissions).
    #[error("could not read the snapshot manifest {}", path.display())]
    ManifestUnreadable {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("the snapshot manifest {} is malformed", path.display())]
    ManifestMalformed {
        /// The manifest path.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest was written by a format this build does not know.
    #[error("the snapshot format version {found} is not supported (expected {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version in the manifest.
        found: u32,
    },
    /// A kind name that cannot be a file name (only `a-z`, `0-9` and `-` are allowed).
    #[error("{0:?} is not a valid kind name for a snapshot")]
    InvalidKind(String),
    /// A kind's `.jsonl` file could not be read.
    #[error("could not read {}", path.display())]
    KindUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a kind's `.jsonl` file is not one JSON value.
    #[error("{}:{line}: the line is not a JSON value", path.display())]
    MalformedLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing a snapshot file failed.
    #[error("could not write {}", path.display())]
    WriteFailed {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `manifest.json`: what was recorded, when, from where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The snapshot format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The organization URL the data came from (no credentials).
    pub organization: String,
    /// When the fetch started, RFC 3339 UTC.
    pub fetched_at: String,
    /// One entry per recorded kind.
    pub kinds: BTreeMap<String, KindEntry>,
}

/// The manifest entry of one recorded kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindEntry {
    /// Items in `KIND.jsonl`.
    pub count: usize,
    /// Whether the fetch got every item of the kind.
    pub complete: bool,
    /// Why it did not, when it did not.
    pub error: Option<String>,
}

/// A recorded snapshot directory, replayed as a [`Source`].
#[derive(Clone, Debug)]
pub struct Snapshot {
    dir: Arc<PathBuf>,
    manifest: Arc<Manifest>,
}

impl Snapshot {
    /// Opens `dir` and reads its manifest; kind files are read when fetched.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read(&path).map_err(|source| Error::ManifestUnreadable {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|source| Error::ManifestMalformed { path, source })?;
        if manifest.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: manifest.version,
            });
        }
        Ok(Snapshot {
            dir: Arc::new(dir),
            manifest: Arc::new(manifest),
        })
    }

    /// The manifest as recorded.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The directory the snapshot lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads every item of `kind`'s file, failing on the first malformed line.
    pub fn read_items(&self, kind: &str) -> Result<Vec<Value>> {
        read_jsonl(&kind_path(&self.dir, kind)?)
    }

    /// Replays one kind synchronously (what [`Source::fetch`] does off the async runtime).
    #[must_use]
    pub fn listing(&self, kind: &str) -> Listing {
        let Some(entry) = self.manifest.kinds.get(kind) else {
            return Listing::incomplete(
                kind,
                Vec::new(),
                format!("the snapshot has no {kind} data"),
            );
        };
        let items = match self.read_items(kind) {
            Ok(items) => items,
            Err(err) => return Listing::incomplete(kind, Vec::new(), error_chain(&err)),
        };
        if items.len() != entry.count {
            let reason = format!(
                "{kind}.jsonl has {} items but the manifest records {}",
                items.len(),
                entry.count
            );
            return Listing::incomplete(kind, items, reason);
        }
        if !entry.complete {
            let reason = entry
                .error
                .clone()
                .unwrap_or_else(|| "recorded as incomplete".to_owned());
            return Listing::incomplete(kind, items, format!("recorded incomplete: {reason}"));
        }
        Listing::complete(kind, items)
    }
}

#[async_trait]
impl Source for Snapshot {
    /// Replays every recorded item of `kind`; the selector is not applied (see module docs).
    async fn fetch(&self, kind: &str, _selector: &Map<String, Value>) -> Listing {
        let this = self.clone();
        let owned = kind.to_owned();
        match tokio::task::spawn_blocking(move || this.listing(&owned)).await {
            Ok(listing) => listing,
            Err(err) => Listing::incomplete(
                kind,
                Vec::new(),
                format!("reading the snapshot failed: {err}"),
            ),
        }
    }
}

/// Records listings into a snapshot directory, keeping the manifest in step after each kind.
#[derive(Debug)]
pub struct SnapshotWriter {
    dir: PathBuf,
    manifest: Manifest,
}

impl SnapshotWriter {
    /// Creates `dir` (and parents) and starts an empty manifest for `organization`.
    ///
    /// Kinds recorded earlier in the same directory but not recorded again drop out of the
    /// manifest, so they replay as incomplete rather than as stale data.
    pub fn create(dir: impl AsRef<Path>, organization: impl Into<String>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| Error::WriteFailed {
            path: dir.clone(),
            source,
        })?;
        let writer = SnapshotWriter {
            dir,
            manifest: Manifest {
                version: FORMAT_VERSION,
                organization: organization.into(),
                fetched_at: jiff::Timestamp::now().to_string(),
                kinds: BTreeMap::new(),
            },
        };
        writer.write_manifest()?;
        Ok(writer)
    }

    /// Writes `listing` to `KIND.jsonl` and records it in the manifest.
    pub fn record(&mut self, listing: &Listing) -> Result<()> {
        let path = kind_path(&self.dir, &listing.kind)?;
        let tmp = path.with_extension("tmp");
        let fail = |source| Error::WriteFailed {
            path: path.clone(),
            source,
        };
        // Streamed line by line: a kind's items are never held twice in memory.
        let file = std::fs::File::create(&tmp).map_err(fail)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        for item in &listing.items {
            serde_json::to_writer(&mut out, item).map_err(|e| fail(std::io::Error::other(e)))?;
            out.write_all(b"\n").map_err(fail)?;
        }
        let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)?;
        self.manifest.kinds.insert(
            listing.kind.clone(),
            KindEntry {
                count: listing.items.len(),
                complete: listing.complete,
                error: listing.error.clone(),
            },
        );
        self.write_manifest()
    }

    /// The manifest as written so far.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn write_manifest(&self) -> Result<()> {
        let path = self.dir.join(MANIFEST_FILE);
        let mut text =
            serde_json::to_vec_pretty(&self.manifest).map_err(|e| Error::WriteFailed {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        text.push(b'\n');
        write_atomically(&path, &text)
    }
}

fn kind_path(dir: &Path, kind: &str) -> Result<PathBuf> {
    let valid = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(Error::InvalidKind(kind.to_owned()));
    }
    Ok(dir.join(format!("{kind}.jsonl")))
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let file = std::fs::File::open(path).map_err(|source| Error::KindUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mut items = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::KindUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let item = serde_json::from_str(&line).map_err(|source| Error::MalformedLine {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        items.push(item);
    }
    Ok(items)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let fail = |source| Error::WriteFailed {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// `error: cause: cause`, for a listing's reason.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(dir: &Path, listings: &[Listing]) {
        let mut writer = SnapshotWriter::create(dir, "https://dev.azure.com/acme").unwrap();
        for listing in listings {
            writer.record(listing).unwrap();
        }
    }

    #[test]
    fn a_recorded_listing_replays_item_for_item() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![
            json!({"id": 1, "__project": {"id": "p"}}),
            json!({"id": 2, "s": "a\nb"}),
        ];
        record(dir.path(), &[Listing::complete("work-item", items.clone())]);
        let snapshot = Snapshot::open(dir.path()).unwrap();
        assert_eq!(
            snapshot.listing("work-item"),
            Listing::complete("work-item", items)
        );
        assert_eq!(
            snapshot.manifest().organization,
            "https://dev.azure.com/acme"
        );
    }

    #[test]
    fn an_empty_complete_kind_replays_as_complete_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), &[Listing::complete("team", vec![])]);
        let listing = Snapshot::open(dir.path()).unwrap().listing("team");
        assert!(listing.complete);
        assert!(listing.items.is_empty());
    }

    #[test]
    fn a_kind_missing_from_the_manifest_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), &[Listing::complete("project", vec![json!({})])]);
        let listing = Snapshot::open(dir.path()).unwrap().listing("build");
        assert!(!listing.complete);
        assert!(listing.error.unwrap().contains("no build data"));
    }

    #[test]
    fn a_kind_recorded_incomplete_stays_incomplete_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let partial = Listing::incomplete("build", vec![json!({"id": 1})], "HTTP 500 on page 2");
        record(dir.path(), &[partial]);
        let listing = Snapshot::open(dir.path()).unwrap().listing("build");
        assert!(!listing.complete);
        assert_eq!(listing.items.len(), 1);
        assert!(listing.error.unwrap().contains("HTTP 500 on page 2"));
    }

    #[test]
    fn a_line_count_that_disagrees_with_the_manifest_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        record(
            dir.path(),
            &[Listing::complete("project", vec![json!(1), json!(2)])],
        );
        std::fs::write(dir.path().join("project.jsonl"), "1\n").unwrap();
        let listing = Snapshot::open(dir.path()).unwrap().listing("project");
        assert!(!listing.complete);
        assert!(listing.error.unwrap().contains("manifest records 2"));
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        record(
            dir.path(),
            &[Listing::complete("project", vec![json!(1), json!(2)])],
        );
        std::fs::write(dir.path().join("project.jsonl"), "1\n{oops\n").unwrap();
        let snapshot = Snapshot::open(dir.path()).unwrap();
        let err = snapshot.read_items("project").unwrap_err();
        assert!(
            matches!(err, Error::MalformedLine { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("project.jsonl:2"));
        let listing = snapshot.listing("project");
        assert!(!listing.complete);
        assert!(listing.error.unwrap().contains("project.jsonl:2"));
    }

    #[test]
    fn a_missing_manifest_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Snapshot::open(dir.path()),
            Err(Error::ManifestUnreadable { .. })
        ));
    }

    #[test]
    fn kind_names_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SnapshotWriter::create(dir.path(), "o").unwrap();
        let err = writer
            .record(&Listing::complete("../x", vec![]))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidKind(_)));
    }

    #[tokio::test]
    async fn the_source_ignores_the_selector_and_replays_everything() {
        let dir = tempfile::tempdir().unwrap();
        record(
            dir.path(),
            &[Listing::complete("work-item", vec![json!(1), json!(2)])],
        );
        let snapshot = Snapshot::open(dir.path()).unwrap();
        let mut selector = Map::new();
        selector.insert("wiql".into(), json!("[System.Id] = 1"));
        let listing = snapshot.fetch("work-item", &selector).await;
        assert_eq!(listing.items.len(), 2);
        assert!(listing.complete);
    }
}
