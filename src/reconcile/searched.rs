//! Search-query identifiers before planning ([`crate::search`]): on a catalog that resolves
//! them on write (Port) they are set apart to be sent as they are; on any other (SQLite)
//! each is resolved against the catalog here, one read per blueprint. One match becomes an
//! ordinary desired entity under the matched identifier; none, several, or a query the
//! catalog cannot evaluate is an item error: listed in the plan with its item and query,
//! and its kind is incomplete, so nothing of the kind's blueprints is deleted in that run.

use std::collections::BTreeMap;

use super::plan::{Desired, IncompleteKind, KindBlueprints, Plan, SearchError};
use crate::catalog::Catalog;
use crate::search::SearchedEntity;

/// Matching identifiers named in a message before "…".
const NAMED: usize = 5;

/// What became of the search-identifier entities that did not join the desired entities.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    /// To send as they are, for the catalog to resolve on write.
    send: Vec<SearchedEntity>,
    /// Resolved to no entity or several, or not evaluable here.
    errors: Vec<SearchError>,
}

impl Resolved {
    /// Puts them in `plan`, with their counts, ordered as the plan's other lists are (by
    /// blueprint, then item) so equal plans give equal bytes.
    pub(super) fn attach(mut self, mut plan: Plan) -> Plan {
        self.send
            .sort_by(|a, b| (a.blueprint(), &a.item).cmp(&(b.blueprint(), &b.item)));
        self.errors
            .sort_by(|a, b| (&a.blueprint, &a.item).cmp(&(&b.blueprint, &b.item)));
        plan.summary.searched = self.send.len();
        plan.summary.search_error = self.errors.len();
        plan.searched = self.send;
        plan.search_errors = self.errors;
        plan
    }
}

/// Takes the search-identifier entities out of `desired`: the resolved ones join
/// `desired.entities` under the identifier they matched; the rest are returned.
pub(super) async fn resolve(
    desired: &mut Desired,
    catalog: &dyn Catalog,
) -> crate::catalog::Result<Resolved> {
    let searched = std::mem::take(&mut desired.searched);
    if searched.is_empty() || catalog.resolves_search_on_write() {
        return Ok(Resolved {
            send: searched,
            errors: Vec::new(),
        });
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
    Ok(Resolved {
        send: Vec::new(),
        errors,
    })
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
