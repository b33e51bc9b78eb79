//! Fetch kinds from a source and record them as a snapshot: what `adoport fetch` runs.
//!
//! A kind named by several mapping resources is fetched once per distinct set of selector
//! options (the `query` is applied later, by the mapping, so it does not count); the
//! listings are merged (exact duplicates dropped), and the kind is complete only if every
//! fetch was.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::snapshot::{self, SnapshotWriter};
use super::source::{Incomplete, Listing, Source};

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

/// Fetches every kind of `fetches` concurrently and records each into `writer`; `on_kind`
/// sees each outcome (progress). Returns outcomes in `fetches` order.
///
/// A kind fetched with one selector is written as its items arrive ([`Source::fetch_into`]),
/// so it is never held whole; a kind fetched with several is gathered first, to drop the
/// items two selectors both list.
pub async fn fetch_and_record(
    source: Arc<dyn Source>,
    fetches: &[KindFetch],
    writer: &mut SnapshotWriter,
    mut on_kind: impl FnMut(&KindOutcome),
) -> snapshot::Result<Vec<KindOutcome>> {
    let mut set = tokio::task::JoinSet::new();
    for (index, fetch) in fetches.iter().cloned().enumerate() {
        let source = source.clone();
        let file = writer.kind_file(&fetch.kind)?;
        set.spawn(async move {
            let progress = crate::progress::start(&fetch.kind, None);
            if let [selector] = fetch.selectors.as_slice() {
                let file = std::sync::Mutex::new((file, None));
                let listing = source
                    .fetch_into(&fetch.kind, selector, &|items| {
                        let mut slot = file.lock().unwrap_or_else(|p| p.into_inner());
                        let (file, failed) = &mut *slot;
                        if failed.is_none()
                            && let Err(e) = file.write(&items)
                        {
                            *failed = Some(e);
                        }
                        progress.inc(items.len() as u64);
                        progress.message(|| format!("{} items", file.count()));
                    })
                    .await;
                let (file, failed) = file.into_inner().unwrap_or_else(|p| p.into_inner());
                (index, listing, file, failed)
            } else {
                let listing = fetch_kind(source.as_ref(), &fetch).await;
                let mut file = file;
                let failed = file.write(&listing.items).err();
                (index, listing, file, failed)
            }
        });
    }
    let mut outcomes: Vec<(usize, KindOutcome)> = Vec::with_capacity(fetches.len());
    while let Some(joined) = set.join_next().await {
        let (index, listing, file, failed) = match joined {
            Ok(parts) => parts,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => continue,
        };
        if let Some(e) = failed {
            return Err(e);
        }
        let count = file.count();
        writer.finish_kind(file, &listing)?;
        let outcome = KindOutcome {
            kind: listing.kind.clone(),
            count,
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
    let mut merged = Listing::complete(fetch.kind.clone(), Vec::new());
    let mut errors = Vec::new();
    let mut cause: Option<Incomplete> = None;
    for selector in &fetch.selectors {
        let listing = source.fetch(&fetch.kind, selector).await;
        if let Some(error) = listing.error {
            errors.push(error);
        }
        if let Some(this) = listing.cause {
            cause = Some(match cause {
                Some(seen) => seen.worst(this),
                None => this,
            });
        }
        merged.complete &= listing.complete;
        if fetch.selectors.len() == 1 {
            merged.items = listing.items;
        } else {
            for item in listing.items {
                if !merged.items.contains(&item) {
                    merged.items.push(item);
                }
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
    merged
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
}
