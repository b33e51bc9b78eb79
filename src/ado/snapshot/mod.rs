//! Recorded ADO data: write listings to a directory, replay them offline as a [`Source`].
//!
//! Format (DESIGN.md "Sources"): `DIR/manifest.json` holds
//! `{version, organization, fetched_at, kinds: {KIND: {count, complete, error}}}` and each
//! recorded kind has `DIR/KIND.jsonl`, one raw item per line exactly as the live source
//! yielded it (enrichment fields included).
//!
//! Several organizations (`organizationUrls`) share the one file per kind: each item names
//! its organization (`__organizationUrl`), the manifest lists them (`organizations`) and each
//! kind's entry keeps every organization's share (`organizations: [{url, name, count,
//! complete, error}]`), so replay confines a gap to the organization that had it, as the
//! live source does. The additions are optional fields of the same format version: a
//! manifest without them (one organization, or recorded before they existed) replays as
//! before, and a reader that ignores them still sees the kind incomplete as a whole.
//!
//! Replay is honest about gaps: a kind missing from the manifest, recorded as incomplete,
//! whose file is missing or unreadable, has a malformed line, or whose line count disagrees
//! with the manifest, replays as an *incomplete* listing, so pruning deletes nothing for it.
//! A kind recorded incomplete replays with the cause it was recorded with (`cause` in the
//! manifest, absent in manifests written before it existed, which replay as `failed`).
//!
//! Replay reads only what a snapshot can hold: regular files inside the snapshot directory,
//! up to a size limit. A FIFO would block the read for ever, `/dev/zero` would fill memory,
//! and a symbolic link could point anywhere: such a file is refused with an error naming it
//! (checked before it is opened, and again on the opened file), and its kind is incomplete.
//!
//! What a snapshot cannot replay: selector options that the live source applies
//! server-side (a work-item `wiql`, pull-request `searchCriteria`/`minTimeInDays`, release
//! filters, `excludedTags`). A snapshot yields every recorded item of the kind whatever the
//! selector says; the mapping's `query` does the filtering. Record with the selector you
//! mean to use, or filter in `query`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::source::{Incomplete, Listing, Organization, Part, Source};
use files::{kind_path, open_checked, read_jsonl, write_atomically};

mod files;

/// The manifest format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's file name inside a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The largest kind file replayed by default (`Snapshot::with_max_file_bytes` changes it).
pub const MAX_KIND_FILE_BYTES: u64 = 1 << 30;
/// The largest manifest read.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

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
    /// A snapshot file is not a regular file (a FIFO, a device, a directory).
    #[error("{} is not a regular file; a snapshot holds only regular files", path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
    },
    /// A snapshot file is a link that leads out of the snapshot directory.
    #[error("{} links outside the snapshot directory", path.display())]
    OutsideSnapshot {
        /// The file.
        path: PathBuf,
    },
    /// A snapshot file is larger than replay reads.
    #[error("{} is larger than the {limit}-byte limit for a snapshot file", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
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
    /// The organization URL the data came from (no credentials); several, comma-separated,
    /// when `organizations` lists them.
    pub organization: String,
    /// Every organization read, in order, when there were several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
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
    /// The same as a cause code can act on (absent when complete, and in older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Incomplete>,
    /// Each organization's share, when the kind was read from several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<PartEntry>,
}

/// One organization's share of a recorded kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartEntry {
    /// `__organizationUrl`.
    pub url: String,
    /// `__organizationName`.
    pub name: String,
    /// Its items in `KIND.jsonl`.
    pub count: usize,
    /// Whether the fetch got every item of the kind in this organization.
    pub complete: bool,
    /// Why not, when not.
    pub error: Option<String>,
    /// The same as a cause code can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Incomplete>,
}

impl PartEntry {
    fn of(part: &Part) -> Self {
        PartEntry {
            url: part.organization.url.clone(),
            name: part.organization.name.clone(),
            count: part.count,
            complete: part.complete,
            error: part.error.clone(),
            cause: part.cause.clone().filter(|_| !part.complete),
        }
    }

    fn part(&self) -> Part {
        Part {
            organization: Organization {
                url: self.url.clone(),
                name: self.name.clone(),
            },
            count: self.count,
            complete: self.complete,
            error: self.error.clone(),
            cause: (!self.complete).then(|| self.cause.clone().unwrap_or(Incomplete::Failed)),
        }
    }
}

/// A recorded snapshot directory, replayed as a [`Source`].
#[derive(Clone, Debug)]
pub struct Snapshot {
    dir: Arc<PathBuf>,
    manifest: Arc<Manifest>,
    max_file_bytes: u64,
}

impl Snapshot {
    /// Opens `dir` and reads its manifest; kind files are read when fetched.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(MANIFEST_FILE);
        let unreadable = |source| Error::ManifestUnreadable {
            path: path.clone(),
            source,
        };
        let mut text = Vec::new();
        let file = open_checked(&dir, &path, MAX_MANIFEST_BYTES, unreadable)?;
        file.take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(unreadable)?;
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(Error::FileTooLarge {
                path,
                limit: MAX_MANIFEST_BYTES,
            });
        }
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
            max_file_bytes: MAX_KIND_FILE_BYTES,
        })
    }

    /// The same snapshot, replaying kind files of at most `limit` bytes.
    #[must_use]
    pub fn with_max_file_bytes(mut self, limit: u64) -> Self {
        self.max_file_bytes = limit;
        self
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
        read_jsonl(&self.dir, &kind_path(&self.dir, kind)?, self.max_file_bytes)
    }

    /// Replays one kind in chunks of at most `chunk` items, handed to `sink` as they are read,
    /// so no more than a window of the kind is in memory. Returns the listing's verdict with
    /// no items in it: complete, or why not (the chunks handed over before an error are a
    /// partial listing, and the verdict says so).
    pub fn stream(&self, kind: &str, chunk: usize, sink: &mut dyn FnMut(Vec<Value>)) -> Listing {
        let Some(entry) = self.manifest.kinds.get(kind) else {
            return Listing::incomplete(
                kind,
                Vec::new(),
                format!("the snapshot has no {kind} data"),
            );
        };
        let mut count = 0;
        let read = kind_path(&self.dir, kind).and_then(|path| {
            files::each_jsonl_chunk(
                &self.dir,
                &path,
                self.max_file_bytes,
                chunk.max(1),
                &mut |items| {
                    count += items.len();
                    sink(items);
                },
            )
        });
        if let Err(err) = read {
            return Listing::incomplete(kind, Vec::new(), crate::http::error_chain(&err));
        }
        self.verdict(kind, entry, count, Vec::new())
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
            Err(err) => {
                return Listing::incomplete(kind, Vec::new(), crate::http::error_chain(&err));
            }
        };
        let count = items.len();
        self.verdict(kind, entry, count, items)
    }

    /// The listing of `count` items read for `kind`, complete only when the manifest says so
    /// and the count matches it; with each organization's share when the manifest keeps
    /// them and they agree with the kind's own entry.
    fn verdict(&self, kind: &str, entry: &KindEntry, count: usize, items: Vec<Value>) -> Listing {
        if count != entry.count {
            let reason = format!(
                "{kind}.jsonl has {count} items but the manifest records {}",
                entry.count
            );
            return Listing::incomplete(kind, items, reason);
        }
        let parts: Vec<Part> = entry.organizations.iter().map(PartEntry::part).collect();
        let consistent = parts.iter().map(|p| p.count).sum::<usize>() == entry.count
            && parts.iter().all(|p| p.complete) == entry.complete;
        let mut listing = if entry.complete {
            Listing::complete(kind, items)
        } else {
            let reason = entry
                .error
                .clone()
                .unwrap_or_else(|| "recorded as incomplete".to_owned());
            let cause = entry.cause.clone().unwrap_or(Incomplete::Failed);
            Listing::incomplete(kind, items, format!("recorded incomplete: {reason}"))
                .with_cause(cause)
        };
        if !parts.is_empty() && consistent {
            listing.parts = parts;
        } else if !parts.is_empty() && entry.complete {
            let reason = format!(
                "the manifest's organizations of {kind} disagree with its count or verdict"
            );
            return Listing::incomplete(kind, listing.items, reason);
        }
        listing
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
                organizations: Vec::new(),
                fetched_at: jiff::Timestamp::now().to_string(),
                kinds: BTreeMap::new(),
            },
        };
        writer.write_manifest()?;
        Ok(writer)
    }

    /// [`SnapshotWriter::create`] for the data of several organizations (each one's share
    /// of a kind is kept in its entry); one organization writes the single-organization
    /// manifest.
    pub fn create_for(dir: impl AsRef<Path>, organizations: &[String]) -> Result<Self> {
        let mut writer = Self::create(dir, organizations.join(", "))?;
        if organizations.len() > 1 {
            writer.manifest.organizations = organizations.to_vec();
            writer.write_manifest()?;
        }
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
                cause: listing.cause.clone().filter(|_| !listing.complete),
                organizations: match listing.parts.as_slice() {
                    [] | [_] => Vec::new(),
                    parts => parts.iter().map(PartEntry::of).collect(),
                },
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

#[cfg(test)]
mod tests;
