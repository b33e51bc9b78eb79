//! Reconciling: compare desired entities with a catalog ([`plan()`]), execute the result
//! ([`apply()`]), and show it ([`render`]).
//!
//! The plan is pure data and the only writer is `apply`, which talks to a catalog through
//! the [`Catalog`](crate::catalog::Catalog) trait alone: this module imports neither the ADO
//! source nor the Port client.

pub mod apply;
mod diff;
pub mod guard;
pub mod merge;
pub mod plan;
pub mod render;
pub mod sort;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use plan::{
    Desired, Foreign, Guards, IncompleteKind, KindBlueprints, Plan, Planner, RelationTargets, plan,
};

pub use merge::MergePlanner;
pub use sort::{KeySorter, SortedEntities};

use crate::catalog::Catalog;
use crate::entity::EntityKey;

/// Lists the catalog's owned entities and plans against them as they stream in, so the
/// whole listing is never held at once; then asks which of the creates another datasource
/// holds, and sets those apart ([`Plan::set_foreign`]). The only I/O is the reads; the
/// comparison is [`Planner`]'s. A listing that fails midway fails the plan: it is never
/// read as "empty".
pub async fn plan_catalog(
    desired: Desired,
    catalog: &dyn Catalog,
    guards: &Guards,
) -> crate::catalog::Result<Plan> {
    let mut planner = Planner::new(desired, guards);
    catalog
        .stream_owned(&mut |chunk| {
            for e in chunk {
                planner.observe(e);
            }
        })
        .await?;
    let mut plan = planner.finish();
    if !plan.creates.is_empty() {
        let keys: Vec<_> = plan.creates.iter().map(|e| e.key()).collect();
        let owners = catalog.foreign_owners(&keys).await?;
        // The planner keeps its creates in memory: setting some apart cannot fail.
        let _ = plan.set_foreign(&owners, guards.adopt);
    }
    Ok(plan)
}

/// Errors of [`plan_merged`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The catalog could not be listed: never read as "empty".
    #[error(transparent)]
    Catalog(#[from] crate::catalog::Error),
    /// The merge failed (a temporary file, or a listing out of key order).
    #[error(transparent)]
    Merge(#[from] merge::Error),
}

/// Keys asked about at once when looking for another datasource's entities.
const FOREIGN_CHUNK: usize = 4096;

/// [`plan_catalog`] as a merge: `sorted` (the desired entities in key order; `desired`'s
/// own `entities` are not read) against the catalog's owned entities in key order — as the
/// catalog streams them when it lists in key order, else listed and sorted here. Creates
/// and updates past `memory_entries` are kept in temporary files, so the memory a plan
/// holds does not grow with the organization. Same plan as [`plan_catalog`].
pub async fn plan_merged(
    desired: Desired,
    sorted: &SortedEntities,
    catalog: &dyn Catalog,
    guards: &Guards,
    memory_entries: usize,
) -> Result<Plan, PlanError> {
    let mut planner = MergePlanner::new(desired, sorted, guards, memory_entries);
    if catalog.lists_in_key_order() {
        let mut failed: Option<merge::Error> = None;
        catalog
            .stream_owned(&mut |chunk| {
                for e in chunk {
                    if failed.is_some() {
                        return;
                    }
                    if let Err(e) = planner.observe(e) {
                        failed = Some(e);
                    }
                }
            })
            .await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    } else {
        let mut owned = catalog.list_owned().await?;
        owned.sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
        for e in owned {
            planner.observe(e)?;
        }
    }
    let mut plan = planner.finish()?;
    let mut owners = std::collections::HashMap::new();
    let mut keys: Vec<EntityKey> = Vec::with_capacity(FOREIGN_CHUNK.min(plan.creates.len()));
    let mut creates = plan.creates.iter();
    loop {
        keys.clear();
        keys.extend(creates.by_ref().take(FOREIGN_CHUNK).map(|e| e.key()));
        if keys.is_empty() {
            break;
        }
        owners.extend(catalog.foreign_owners(&keys).await?);
    }
    drop(creates);
    if let Some(why) = plan.read_error() {
        return Err(merge::Error::ReadBack(why.to_owned()).into());
    }
    plan.set_foreign(&owners, guards.adopt)
        .map_err(merge::Error::from)?;
    Ok(plan)
}
