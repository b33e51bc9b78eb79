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

/// An organization items come from, named as its items name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Organization {
    /// The organization URL, as items carry it in `__organizationUrl`.
    pub url: String,
    /// Its name, as items carry it in `__organizationName`.
    pub name: String,
}

/// One organization's share of a listing: how many of the items are its, and whether they
/// are all of its items of the kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The organization.
    pub organization: Organization,
    /// Its items in the listing.
    pub count: usize,
    /// `true` only when every item of the kind in this organization was fetched.
    pub complete: bool,
    /// Why not, when not (scrubbed).
    pub error: Option<String>,
    /// The same, as code can act on it.
    pub cause: Option<Incomplete>,
}

/// The raw items of one kind, and whether they are all of them.
///
/// A listing read from organizations says so per organization in `parts`: when it is
/// incomplete and has parts, its gaps are exactly the incomplete parts' (the other
/// organizations' items are whole). An incomplete listing without parts is in doubt as a
/// whole (a snapshot file that disagrees with its manifest, a kind the source lacks).
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
    /// Each organization's share, in the order they were read (empty: not split by
    /// organization, see above).
    pub parts: Vec<Part>,
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
            parts: Vec::new(),
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
            parts: Vec::new(),
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

    /// The same listing, read whole from `organization`: one part, its verdict the
    /// listing's own.
    #[must_use]
    pub fn in_organization(mut self, organization: Organization) -> Self {
        self.parts = vec![Part {
            organization,
            count: self.items.len(),
            complete: self.complete,
            error: self.error.clone(),
            cause: self.cause.clone(),
        }];
        self
    }

    /// The organizations whose share is incomplete, when the listing's gaps are confined to
    /// them; `None` when the listing is complete or in doubt as a whole.
    #[must_use]
    pub fn incomplete_organizations(&self) -> Option<Vec<&Organization>> {
        if self.complete || self.parts.is_empty() {
            return None;
        }
        let failed: Vec<&Organization> = self
            .parts
            .iter()
            .filter(|p| !p.complete)
            .map(|p| &p.organization)
            .collect();
        // Incomplete with every part whole: the gap is not any one organization's.
        (!failed.is_empty()).then_some(failed)
    }

    /// Joins the listings of one kind read from several organizations, in order: the
    /// items one after the other, complete only when every one is, each organization's
    /// share kept as a part. A listing in doubt as a whole leaves the join in doubt as a
    /// whole (no parts).
    #[must_use]
    pub fn join(kind: impl Into<String>, listings: Vec<Listing>) -> Self {
        let mut joined = Listing::complete(kind, Vec::new());
        let mut errors = Vec::new();
        let mut whole_doubt = false;
        for listing in listings {
            if !listing.complete {
                joined.complete = false;
                whole_doubt |= listing.incomplete_organizations().is_none();
                let error = listing.error.as_deref().unwrap_or("incomplete");
                errors.push(match listing.parts.as_slice() {
                    [one] => format!("{}: {error}", one.organization.url),
                    _ => error.to_owned(),
                });
                let cause = listing.cause.clone().unwrap_or(Incomplete::Failed);
                joined.cause = Some(match joined.cause.take() {
                    Some(seen) => seen.worst(cause),
                    None => cause,
                });
            }
            joined.items.extend(listing.items);
            joined.parts.extend(listing.parts);
        }
        if !joined.complete {
            joined.error = Some(errors.join("; "));
            if whole_doubt {
                joined.parts.clear();
            }
        }
        joined
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn org(name: &str) -> Organization {
        Organization {
            url: format!("https://dev.azure.com/{name}"),
            name: name.into(),
        }
    }

    #[test]
    fn a_join_confines_a_gap_to_the_organization_that_had_it() {
        let acme =
            Listing::complete("build", vec![json!(1), json!(2)]).in_organization(org("acme"));
        let labs = Listing::incomplete("build", vec![json!(3)], "HTTP 500")
            .with_cause(Incomplete::Unauthorized {
                scope: Scope::Build,
            })
            .in_organization(org("labs"));
        let joined = Listing::join("build", vec![acme, labs]);
        assert!(!joined.complete);
        assert_eq!(joined.items.len(), 3);
        assert!(joined.is_unauthorized());
        assert_eq!(
            joined.error.as_deref(),
            Some("https://dev.azure.com/labs: HTTP 500")
        );
        assert_eq!(joined.incomplete_organizations(), Some(vec![&org("labs")]));
        let counts: Vec<usize> = joined.parts.iter().map(|p| p.count).collect();
        assert_eq!(counts, [2, 1]);
    }

    #[test]
    fn a_listing_in_doubt_as_a_whole_leaves_the_join_in_doubt_as_a_whole() {
        let acme = Listing::complete("build", vec![json!(1)]).in_organization(org("acme"));
        let unsplit = Listing::incomplete("build", vec![], "the snapshot has no build data");
        let joined = Listing::join("build", vec![acme, unsplit]);
        assert!(!joined.complete);
        assert!(joined.parts.is_empty());
        assert_eq!(joined.incomplete_organizations(), None);
        let whole = Listing::join(
            "build",
            vec![Listing::complete("build", vec![]).in_organization(org("acme"))],
        );
        assert!(whole.complete && whole.incomplete_organizations().is_none());
    }
}
