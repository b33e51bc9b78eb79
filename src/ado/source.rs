//! What every source of raw ADO items returns: a [`Listing`] per kind, complete or not.
//!
//! A source (the live REST API or a recorded snapshot) never fails a fetch with an error:
//! it returns the items it has and says whether the list is whole. Pruning relies on that:
//! an incomplete listing must never be read as "these entities are gone".

use async_trait::async_trait;
use serde_json::{Map, Value};

/// The raw items of one kind, and whether they are all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    /// The kind, as named in a mapping resource (`project`, `work-item`, …).
    pub kind: String,
    /// Raw items exactly as the source yields them, enrichment fields (`__project`, …) included.
    pub items: Vec<Value>,
    /// `true` only when every item of the kind was fetched; deletions depend on it.
    pub complete: bool,
    /// Why the listing is incomplete (`None` when complete). Never contains secrets.
    pub error: Option<String>,
}

impl Listing {
    /// A whole listing: every item of the kind.
    #[must_use]
    pub fn complete(kind: impl Into<String>, items: Vec<Value>) -> Self {
        Listing {
            kind: kind.into(),
            items,
            complete: true,
            error: None,
        }
    }

    /// A partial listing: the items fetched before `reason` cut it short.
    #[must_use]
    pub fn incomplete(
        kind: impl Into<String>,
        items: Vec<Value>,
        reason: impl Into<String>,
    ) -> Self {
        Listing {
            kind: kind.into(),
            items,
            complete: false,
            error: Some(reason.into()),
        }
    }
}

/// Where raw items come from: the ADO REST API or a recorded snapshot.
///
/// `selector` is the selector object of a mapping resource (`query` plus the kind's own
/// options such as `wiql` or `includedFiles`). A source applies the options it can
/// server-side; the mapping's `query` filters afterwards.
#[async_trait]
pub trait Source: Send + Sync {
    /// Fetches every item of `kind`; problems make the listing incomplete, never an error.
    async fn fetch(&self, kind: &str, selector: &Map<String, Value>) -> Listing;
}
