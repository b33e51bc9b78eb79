//! Fetch kinds from a source and record them as a snapshot: what `adoport fetch` runs.
//!
//! A kind named by several mapping resources is fetched once per distinct set of selector
//! options (the `query` is applied later, by the mapping, so it does not count); the
//! listings are merged (exact duplicates dropped), and the kind is complete only if every
//! fetch was.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::snapshot::{self, SnapshotWriter};
use super::source::{Incomplete, Listing, Part, Source};

/// One kind to fetch, with each distinct selector it is used with.
#[derive(Clone, Debug, PartialEq)]
pub struct KindFetch {
    /// The kind.
    pub kind: String,
    /// Distinct selectors (options compared without `query`); at least one.
    pub selectors: Vec<Map<String, Value>>,
}

/// What was recorded for one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindOutcome {
    /// The kind.
    pub kind: String,
    /// Items recorded.
    pub count: usize,
    /// Whether every item was fetched.
    pub complete: bool,
    /// Why not, when not.
    pub error: Option<String>,
    /// The same as a cause code can act on (an auth failure must fail the run).
    pub cause: Option<Incomplete>,
}

/// Groups `(kind, selector)` pairs by kind, in first-seen order, deduplicating selectors.
#[must_use]
pub fn plan<I>(resources: I) -> Vec<KindFetch>
where
    I: IntoIterator<Item = (String, Map<String, Value>)>,
{
    let mut out: Vec<KindFetch> = Vec::new();
    for (kind, selector) in resources {
        let mut options = selector;
        options.remove("query");
        match out.iter_mut().find(|f| f.kind == kind) {
            Some(existing) => {
                if !existing.selectors.contains(&options) {
                    existing.selectors.push(options);
                }
            }
            None => out.push(KindFetch {
                kind,
                selectors: vec![options],
            }),
        }
    }
    out
}

/// Fetches every kind of `fetches` concurrently and records each into `writer` as it
/// completes; `on_kind` sees each outcome (progress). Returns outcomes in `fetches` order.
pub async fn fetch_and_record(
    source: Arc<dyn Source>,
    fetches: &[KindFetch],
    writer: &mut SnapshotWriter,
    mut on_kind: impl FnMut(&KindOutcome),
) -> snapshot::Result<Vec<KindOutcome>> {
    let mut set = tokio::task::JoinSet::new();
    for (index, fetch) in fetches.iter().cloned().enumerate() {
        let source = source.clone();
        set.spawn(async move { (index, fetch_kind(source.as_ref(), &fetch).await) });
    }
    let mut outcomes: Vec<(usize, KindOutcome)> = Vec::with_capacity(fetches.len());
    while let Some(joined) = set.join_next().await {
        let (index, listing) = match joined {
            Ok(pair) => pair,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => continue,
        };
        writer.record(&listing)?;
        let outcome = KindOutcome {
            kind: listing.kind.clone(),
            count: listing.items.len(),
            complete: listing.complete,
            error: listing.error.clone(),
            cause: listing.cause.clone(),
        };
        on_kind(&outcome);
        outcomes.push((index, outcome));
    }
    outcomes.sort_by_key(|(index, _)| *index);
    Ok(outcomes.into_iter().map(|(_, o)| o).collect())
}

async fn fetch_kind(source: &dyn Source, fetch: &KindFetch) -> Listing {
    let mut listings = Vec::with_capacity(fetch.selectors.len());
    for selector in &fetch.selectors {
        listings.push(source.fetch(&fetch.kind, selector).await);
    }
    merge(&fetch.kind, listings)
}

/// The listings of one kind under several selectors as one: items deduplicated, complete
/// only when every one is, and each organization's share complete only when it is in
/// every listing (its count taken from the merged items' `__organizationUrl`).
fn merge(kind: &str, mut listings: Vec<Listing>) -> Listing {
    if listings.len() == 1 {
        return listings.swap_remove(0);
    }
    let mut merged = Listing::complete(kind.to_owned(), Vec::new());
    let mut errors = Vec::new();
    let mut cause: Option<Incomplete> = None;
    let mut parts: Option<Vec<Part>> = None;
    let mut split = true;
    for listing in listings {
        if let Some(error) = &listing.error {
            errors.push(error.clone());
        }
        if let Some(this) = listing.cause.clone() {
            cause = Some(match cause {
                Some(seen) => seen.worst(this),
                None => this,
            });
        }
        merged.complete &= listing.complete;
        split &= !listing.parts.is_empty()
            && (listing.complete || listing.incomplete_organizations().is_some());
        parts = Some(match parts {
            None => listing.parts.clone(),
            Some(seen) => join_parts(seen, &listing.parts, &mut split),
        });
        for item in listing.items {
            if !merged.items.contains(&item) {
                merged.items.push(item);
            }
        }
    }
    if !merged.complete {
        merged.error = Some(if errors.is_empty() {
            "incomplete".to_owned()
        } else {
            errors.join("; ")
        });
        merged.cause = Some(cause.unwrap_or(Incomplete::Failed));
    }
    if split {
        merged.parts = parts.unwrap_or_default();
        for part in &mut merged.parts {
            part.count = merged
                .items
                .iter()
                .filter(|i| {
                    i.get("__organizationUrl").and_then(Value::as_str)
                        == Some(&part.organization.url)
                })
                .count();
        }
    }
    merged
}

/// Two listings' shares of the same organizations, joined; other organizations (never the
/// case for one source) leave the listing unsplit.
fn join_parts(seen: Vec<Part>, more: &[Part], split: &mut bool) -> Vec<Part> {
    if seen.len() != more.len() {
        *split = false;
        return seen;
    }
    seen.into_iter()
        .zip(more)
        .map(|(mut a, b)| {
            if a.organization != b.organization {
                *split = false;
            }
            if !b.complete {
                a.complete = false;
                a.error = Some(match a.error.take() {
                    Some(e) => format!("{e}; {}", b.error.as_deref().unwrap_or("incomplete")),
                    None => b.error.clone().unwrap_or_else(|| "incomplete".to_owned()),
                });
                let cause = b.cause.clone().unwrap_or(Incomplete::Failed);
                a.cause = Some(match a.cause.take() {
                    Some(c) => c.worst(cause),
                    None => cause,
                });
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_kind_used_twice_with_the_same_options_is_fetched_once() {
        let fetches = plan(vec![
            ("repository-policy".to_owned(), sel(json!({"query": ".a"}))),
            ("repository-policy".to_owned(), sel(json!({"query": ".b"}))),
            (
                "work-item".to_owned(),
                sel(json!({"query": "true", "wiql": "x"})),
            ),
            (
                "work-item".to_owned(),
                sel(json!({"query": "true", "wiql": "y"})),
            ),
        ]);
        assert_eq!(fetches.len(), 2);
        assert_eq!(fetches[0].selectors, vec![Map::new()]);
        assert_eq!(fetches[1].selectors.len(), 2);
    }

    fn org(name: &str) -> crate::ado::source::Organization {
        crate::ado::source::Organization {
            url: format!("https://dev.azure.com/{name}"),
            name: name.into(),
        }
    }

    fn item(org_name: &str, id: u32) -> Value {
        json!({"id": id, "__organizationUrl": format!("https://dev.azure.com/{org_name}")})
    }

    /// One selector's listing: `acme` whole, `labs` whole or not.
    fn listing(ids: &[u32], labs_whole: bool) -> Listing {
        let acme = Listing::complete("work-item", ids.iter().map(|i| item("acme", *i)).collect())
            .in_organization(org("acme"));
        let labs = if labs_whole {
            Listing::complete("work-item", vec![item("labs", 9)])
        } else {
            Listing::incomplete("work-item", vec![], "HTTP 500")
        }
        .in_organization(org("labs"));
        Listing::join("work-item", vec![acme, labs])
    }

    #[test]
    fn an_organization_is_whole_across_selectors_only_when_whole_under_each() {
        let merged = merge(
            "work-item",
            vec![listing(&[1, 2], true), listing(&[2, 3], false)],
        );
        assert!(!merged.complete);
        assert_eq!(merged.items.len(), 4, "item 2 once");
        let parts: Vec<(&str, usize, bool)> = merged
            .parts
            .iter()
            .map(|p| (p.organization.name.as_str(), p.count, p.complete))
            .collect();
        assert_eq!(parts, [("acme", 3, true), ("labs", 1, false)]);
        let unsplit = merge(
            "work-item",
            vec![
                listing(&[1], true),
                Listing::incomplete("work-item", vec![], "cut short"),
            ],
        );
        assert!(unsplit.parts.is_empty());
    }
}
