//! Where each resource's raw items come from: a fixed set of listings, a snapshot (read
//! whole and kept, for watch; or streamed in chunks and dropped, for a one-off run), or the
//! live API.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::ado::locate::{self, Read, Target};
use crate::ado::{Listing, Snapshot, Source};
use crate::config::Resource;

/// Raw items for each resource, read once and shared by every evaluation.
pub trait Items: Send {
    /// The listing `resource` maps over (a kind the source lacks is incomplete and empty).
    fn listing(&mut self, resource: &Resource) -> Arc<Listing>;

    /// The same items handed to `sink` in windows of at most `chunk`, for a run that maps
    /// each listing once; returns the listing's verdict (complete or why not) without its
    /// items. A source that can read a kind bit by bit (a snapshot) holds only the window.
    fn stream(
        &mut self,
        resource: &Resource,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Value>),
    ) -> Listing {
        let listing = self.listing(resource);
        for part in listing.items.chunks(chunk.max(1)) {
            sink(part.to_vec());
        }
        verdict(&listing)
    }

    /// Reads the items `targets` name again (a live event), one [`Read`] per target. The
    /// default cuts the kind's listing, as read for this run.
    fn refetch(&mut self, resource: &Resource, targets: &[Target]) -> Vec<Read> {
        let listing = self.listing(resource);
        locate::split(&listing, &resource.kind, targets)
    }

    /// The items of `resource`'s kind changed since `since` (an incremental pass), or
    /// `None` when this source cannot say.
    fn changed_since(&mut self, resource: &Resource, since: jiff::Timestamp) -> Option<Listing> {
        let _ = (resource, since);
        None
    }

    /// Forgets what was read, so the next listings come fresh: from a live source (parent
    /// lists included: a new sync), or from a snapshot's files as they are now. Fixed item
    /// sets (a test's items) keep theirs.
    fn refresh(&mut self) {}
}

/// A listing's completeness without its items.
fn verdict(listing: &Listing) -> Listing {
    Listing {
        kind: listing.kind.clone(),
        items: Vec::new(),
        complete: listing.complete,
        error: listing.error.clone(),
        cause: listing.cause.clone(),
        parts: listing.parts.clone(),
    }
}

/// A fixed set of listings (a snapshot read into memory, or a test's items).
#[derive(Clone, Debug, Default)]
pub struct Listings(pub BTreeMap<String, Arc<Listing>>);

impl Items for Listings {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let kind = resource.kind.as_str();
        self.0
            .entry(kind.to_string())
            .or_insert_with(|| {
                Arc::new(Listing::incomplete(
                    kind,
                    Vec::new(),
                    "the source has no items of this kind",
                ))
            })
            .clone()
    }
}

/// A snapshot's listings: each kind read and parsed on first use and then kept (for watch
/// and review, which map them again), or streamed from the file and dropped.
#[derive(Clone, Debug)]
pub struct SnapshotItems {
    snapshot: Snapshot,
    read: BTreeMap<String, Arc<Listing>>,
}

impl SnapshotItems {
    /// Wraps an opened snapshot; nothing is read yet.
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotItems {
            snapshot,
            read: BTreeMap::new(),
        }
    }
}

impl Items for SnapshotItems {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let kind = resource.kind.as_str();
        if let Some(l) = self.read.get(kind) {
            return l.clone();
        }
        let l = Arc::new(self.snapshot.listing(kind));
        self.read.insert(kind.to_string(), l.clone());
        l
    }

    fn stream(
        &mut self,
        resource: &Resource,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Value>),
    ) -> Listing {
        match self.read.get(resource.kind.as_str()) {
            Some(l) => {
                for part in l.items.chunks(chunk.max(1)) {
                    sink(part.to_vec());
                }
                verdict(l)
            }
            None => self.snapshot.stream(&resource.kind, chunk, sink),
        }
    }

    fn refresh(&mut self) {
        self.read.clear();
    }
}

/// Listings fetched from a live source on first use, one per (kind, selector): a source
/// applies selector options server-side, so two resources of a kind may see different items.
/// Each listing is fetched once and kept for the life of this value.
pub struct LiveItems {
    source: Arc<dyn Source>,
    runtime: tokio::runtime::Runtime,
    fetched: BTreeMap<(String, String), Arc<Listing>>,
}

impl std::fmt::Debug for LiveItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveItems")
            .field("fetched", &self.fetched.len())
            .finish_non_exhaustive()
    }
}

impl LiveItems {
    /// Fetches from `source` on a runtime of its own (call `listing` outside async code).
    pub fn new(source: Arc<dyn Source>) -> std::io::Result<Self> {
        Ok(LiveItems {
            source,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            fetched: BTreeMap::new(),
        })
    }
}

impl Items for LiveItems {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let selector = resource.selector.to_object();
        let key = (
            resource.kind.clone(),
            Value::Object(selector.clone()).to_string(),
        );
        if let Some(l) = self.fetched.get(&key) {
            return l.clone();
        }
        let listing = Arc::new(
            self.runtime
                .block_on(self.source.fetch(&resource.kind, &selector)),
        );
        self.fetched.insert(key, listing.clone());
        listing
    }

    fn stream(
        &mut self,
        resource: &Resource,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Value>),
    ) -> Listing {
        let selector = resource.selector.to_object();
        let key = (
            resource.kind.clone(),
            Value::Object(selector.clone()).to_string(),
        );
        if let Some(l) = self.fetched.get(&key) {
            for part in l.items.chunks(chunk.max(1)) {
                sink(part.to_vec());
            }
            return verdict(l);
        }
        // Not kept: the items are handed over window by window and dropped.
        let mut listing = self
            .runtime
            .block_on(self.source.fetch(&resource.kind, &selector));
        let mut items = std::mem::take(&mut listing.items);
        while !items.is_empty() {
            let rest = items.split_off(chunk.max(1).min(items.len()));
            sink(std::mem::replace(&mut items, rest));
        }
        listing
    }

    fn refetch(&mut self, resource: &Resource, targets: &[Target]) -> Vec<Read> {
        let selector = resource.selector.to_object();
        self.runtime
            .block_on(self.source.refetch(&resource.kind, &selector, targets))
    }

    fn changed_since(&mut self, resource: &Resource, since: jiff::Timestamp) -> Option<Listing> {
        let selector = resource.selector.to_object();
        self.runtime
            .block_on(self.source.changed_since(&resource.kind, &selector, since))
    }

    fn refresh(&mut self) {
        self.fetched.clear();
        self.source.start_new_sync();
    }
}
