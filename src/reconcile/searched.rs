//! Search-query identifiers before planning ([`crate::search`]): on a catalog that resolves
//! them on write (Port) they are set apart to be sent as they are; on any other (SQLite)
//! each is resolved against the catalog here. One match becomes an ordinary desired entity
//! under the matched identifier; none, several, or a query the catalog cannot evaluate is an
//! item error: listed in the plan with its item and query, and its kind is incomplete, so
//! nothing of the kind's blueprints is deleted in that run.

use super::plan::{Desired, IncompleteKind, KindBlueprints, SearchError};
use crate::catalog::Catalog;
use crate::search::{QueryError, SearchedEntity};

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
    let mut errors = Vec::new();
    for s in searched {
        let found = match catalog.find_by_query(s.blueprint(), s.query()).await {
            Ok(found) => Ok(found),
            // A query this catalog cannot evaluate fails the item, not the run.
            Err(crate::catalog::Error::ListFailed(e)) if e.is::<QueryError>() => Err(e.to_string()),
            Err(e) => return Err(e),
        };
        let message = match found {
            Ok(ids) if ids.len() == 1 => match s.resolved(&ids[0]) {
                Ok(entity) => {
                    desired.entities.push(entity);
                    continue;
                }
                Err(why) => why,
            },
            Ok(ids) if ids.is_empty() => format!(
                "the search identifier matched no entity of blueprint {}",
                s.blueprint()
            ),
            Ok(ids) => format!(
                "the search identifier matched {} entities of blueprint {} ({}); it must \
                 match exactly one",
                ids.len(),
                s.blueprint(),
                ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
            Err(why) => why,
        };
        errors.push(SearchError {
            kind: s.kind.clone(),
            item: s.item.clone(),
            blueprint: s.blueprint().to_owned(),
            query: s.query().clone(),
            message,
        });
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
