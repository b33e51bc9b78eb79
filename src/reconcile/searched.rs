//! Search-query identifiers before planning ([`crate::search`]): on a catalog that resolves
//! them on write (Port) they are set apart to be sent as they are; on any other (SQLite)
//! each is resolved against the catalog here, one read per blueprint. One match becomes an
//! ordinary desired entity under the matched identifier; none, several, or a query the
//! catalog cannot evaluate is an item error: listed in the plan with its item and query,
//! and its kind is incomplete, so nothing of the kind's blueprints is deleted in that run.

use std::collections::BTreeMap;

use super::plan::{Desired, IncompleteKind, KindBlueprints, SearchError};
use crate::catalog::Catalog;
use crate::search::SearchedEntity;

/// Matching identifiers named in a message before "…".
const NAMED: usize = 5;

/// What became of the search-identifier entities of `desired` (which this empties): those
/// to send as they are, and those that failed. Resolved ones join `desired.entities`.
pub(super) async fn resolve(
    desired: &mut Desired,
    catalog: &dyn Catalog,
) -> crate::catalog::Result<(Vec<SearchedEntity>, Vec<SearchError>)> {
    let searched = std::mem::take(&mut desired.searched);
    if searched.is_empty() || catalog.resolves_search_on_write() {
        return Ok((searched, Vec::new()));
    }
    let mut by_blueprint: BTreeMap<String, Vec<SearchedEntity>> = BTreeMap::new();
    for s in searched {
        by_blueprint
            .entry(s.blueprint().to_owned())
            .or_default()
            .push(s);
    }
    let mut errors = Vec::new();
    for (blueprint, entities) in by_blueprint {
        let queries: Vec<_> = entities.iter().map(|s| s.query().clone()).collect();
        let found = catalog.find_by_queries(&blueprint, &queries).await?;
        for (s, matched) in entities.into_iter().zip(found) {
            let message = match matched.as_deref() {
                Ok([one]) => match s.resolved(one) {
                    Ok(entity) => {
                        desired.entities.push(entity);
                        continue;
                    }
                    Err(why) => why,
                },
                Ok([]) => {
                    format!("the search identifier matched no entity of blueprint {blueprint}")
                }
                Ok(many) => format!(
                    "the search identifier matched {} entities of blueprint {blueprint} ({}{}); \
                     it must match exactly one",
                    many.len(),
                    many[..many.len().min(NAMED)].join(", "),
                    if many.len() > NAMED { ", …" } else { "" }
                ),
                Err(why) => why.clone(),
            };
            errors.push(SearchError {
                kind: s.kind.clone(),
                item: s.item.clone(),
                blueprint: blueprint.clone(),
                query: s.query().clone(),
                message,
            });
        }
    }
    for e in &errors {
        mark_incomplete(desired, &e.kind);
    }
    Ok((Vec::new(), errors))
}

/// Makes `kind` incomplete (once) for the search identifiers that failed: the whole kind,
/// since a failed item is not attributed to an organization.
fn mark_incomplete(desired: &mut Desired, kind: &str) {
    const REASON: &str = "search identifiers did not resolve to exactly one entity";
    if let Some(k) = desired.incomplete.iter_mut().find(|k| k.kind == kind) {
        k.confined = None;
        if !k.reason.contains(REASON) {
            k.reason.push_str("; ");
            k.reason.push_str(REASON);
        }
        return;
    }
    let blueprints = desired
        .kinds
        .get(kind)
        .cloned()
        .unwrap_or(KindBlueprints::Unknown);
    desired.incomplete.push(IncompleteKind {
        kind: kind.to_owned(),
        reason: REASON.to_owned(),
        blueprints,
        confined: None,
    });
}
