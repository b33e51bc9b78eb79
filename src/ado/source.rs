//! What every source of raw ADO items returns: a [`Listing`] per kind, complete or not.
//!
//! A source (the live REST API or a recorded snapshot) never fails a fetch with an error:
//! it returns the items it has and says whether the list is whole. Pruning relies on that:
//! an incomplete listing must never be read as "these entities are gone".
//!
//! An incomplete listing says why twice: `error` in words for people, `cause` as an
//! [`Incomplete`] for code, so that a run can tell an auth failure (a PAT that lacks a
//! scope: exit 1, fix the PAT) from a transient or partial fetch.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::Scope;
use super::locate::{Read, Target};

/// Why a listing is incomplete, as code can act on it (the words are in `Listing::error`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Incomplete {
    /// ADO refused the PAT (401/403) for an endpoint the kind needs: the PAT is invalid,
    /// expired, or lacks `scope`. Retrying will not help; the run should fail.
    Unauthorized {
        /// The scope the refused endpoint needs.
        scope: Scope,
    },
    /// Anything else: an HTTP or transport failure, a cut-short, endless or oversized
    /// listing, a 404 that does not say "none", unreadable snapshot data.
    Failed,
}

impl Incomplete {
    /// Whether this cause is an auth failure (the exit code's concern).
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Incomplete::Unauthorized { .. })
    }

    /// The cause that wins when several problems cut one listing short: an auth failure
    /// over anything else, so that it is never hidden behind a transient one.
    #[must_use]
    pub fn worst(self, other: Incomplete) -> Incomplete {
        if self.is_unauthorized() { self } else { other }
    }
}

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
    /// The same, as code can act on it (`None` when complete).
    pub cause: Option<Incomplete>,
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
            cause: None,
        }
    }

    /// A partial listing: the items fetched before `reason` cut it short
    /// (cause [`Incomplete::Failed`]; see [`Listing::with_cause`]).
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
            error: Some(crate::secrets::scrub(&reason.into()).into_owned()),
            cause: Some(Incomplete::Failed),
        }
    }

    /// The same listing with another cause of incompleteness (ignored on a complete one).
    #[must_use]
    pub fn with_cause(mut self, cause: Incomplete) -> Self {
        if !self.complete {
            self.cause = Some(cause);
        }
        self
    }

    /// Whether an auth failure (a refused PAT) made this listing incomplete.
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        self.cause.as_ref().is_some_and(Incomplete::is_unauthorized)
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

    /// Reads the items `targets` name again, one [`Read`] per target, each complete for its
    /// scope or saying why not (see `crate::ado::locate`). The default reads the whole kind
    /// and cuts it, which is right for any source and the fastest for a recorded one.
    async fn refetch(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        targets: &[Target],
    ) -> Vec<Read> {
        let listing = self.fetch(kind, selector).await;
        super::locate::split(&listing, kind, targets)
    }

    /// The items of `kind` that changed since `since` (an incremental pass), or `None` when
    /// the kind cannot be read that way. The listing is complete when every changed item was
    /// read; items that did not change may be in it too.
    async fn changed_since(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        since: jiff::Timestamp,
    ) -> Option<Listing> {
        let _ = (kind, selector, since);
        None
    }

    /// Forgets what the last sync read and kept (parent lists), so the next fetch reads ADO
    /// as it is now.
    fn start_new_sync(&self) {}
}
