//! Several organizations read as one source (`organizationUrls`).
//!
//! Each organization has its own [`AdoSource`] (its client, throttle and parent lists); a
//! kind is fetched from all of them at once and the listings are joined in configuration
//! order. Every item carries its organization (`__organizationUrl`, `__organizationName`)
//! and the joined listing keeps each organization's verdict as a part, so one organization
//! that fails makes only its own share incomplete: the others' items are whole and count as
//! such downstream. Port's integration logs such a failure and goes on as if the
//! organization had nothing, which lets its stale-entity deletion remove that
//! organization's entities; here the failure is never read as "none".

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::kinds::AdoSource;
use super::locate::{Read, Target};
use super::source::{Listing, Source};

/// Every configured organization, read as one [`Source`].
#[derive(Debug)]
pub struct Organizations {
    sources: Vec<AdoSource>,
}

impl Organizations {
    /// The organizations of `sources`, in the order given (at least one).
    #[must_use]
    pub fn new(sources: Vec<AdoSource>) -> Self {
        Organizations { sources }
    }

    /// Each organization's source.
    #[must_use]
    pub fn sources(&self) -> &[AdoSource] {
        &self.sources
    }

    /// ADO requests sent so far, every organization together.
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.sources
            .iter()
            .map(|s| s.client().request_count())
            .sum()
    }
}

#[async_trait]
impl Source for Organizations {
    async fn fetch(&self, kind: &str, selector: &Map<String, Value>) -> Listing {
        if let [one] = self.sources.as_slice() {
            return one.fetch(kind, selector).await;
        }
        let listings = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|source| source.fetch(kind, selector)),
        )
        .await;
        Listing::join(kind, listings)
    }

    /// Each target is read in every organization (an event names an item by its id, which
    /// another organization may use too): its items are all of theirs, and the read is
    /// incomplete when any organization's is.
    async fn refetch(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        targets: &[Target],
    ) -> Vec<Read> {
        if let [one] = self.sources.as_slice() {
            return one.refetch(kind, selector, targets).await;
        }
        let per_org = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|source| source.refetch(kind, selector, targets)),
        )
        .await;
        let mut joined: Vec<Read> = targets.iter().map(|_| Read::found(Vec::new())).collect();
        for reads in per_org {
            for (into, read) in joined.iter_mut().zip(reads) {
                into.items.extend(read.items);
                if let Some(problem) = read.problem {
                    into.problem.get_or_insert(problem);
                    into.cause = match (into.cause.take(), read.cause) {
                        (Some(a), Some(b)) => Some(a.worst(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        joined
    }

    async fn changed_since(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        since: jiff::Timestamp,
    ) -> Option<Listing> {
        if let [one] = self.sources.as_slice() {
            return one.changed_since(kind, selector, since).await;
        }
        let listings = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|source| source.changed_since(kind, selector, since)),
        )
        .await;
        let listings: Option<Vec<Listing>> = listings.into_iter().collect();
        Some(Listing::join(kind, listings?))
    }

    fn start_new_sync(&self) {
        for source in &self.sources {
            source.start_new_sync();
        }
    }
}
