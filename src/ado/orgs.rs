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

    /// Forgets every organization's parent lists, so the next fetch starts a fresh sync.
    pub fn start_new_sync(&mut self) {
        for source in &mut self.sources {
            source.start_new_sync();
        }
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
}
