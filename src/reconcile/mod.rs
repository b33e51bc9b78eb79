//! Reconciling: compare desired entities and the config repository's blueprints with a
//! catalog ([`plan()`] in memory; [`plan_merged`] against a catalog, as a merge in key
//! order; blueprints in [`blueprints`]), execute the result ([`apply()`]), and show it
//! ([`render`]).
//!
//! The plan is pure data and the only writer is `apply`, which talks to a catalog through
//! the [`Catalog`](crate::catalog::Catalog) trait alone: this module imports neither the ADO
//! source nor the Port client.

pub mod apply;
mod apply_blueprints;
pub mod blueprints;
mod diff;
pub mod guard;
pub mod merge;
mod order;
pub mod plan;
pub mod render;
pub mod searched;
pub mod sort;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use blueprints::BlueprintPlan;
pub use plan::{
    Confined, Desired, Foreign, Guards, IncompleteKind, KindBlueprints, OrgField, OrgNames,
    OrgProperty, Plan, Planner, RelationTargets, plan,
};

pub use merge::MergePlanner;
pub use sort::{KeySorter, SortedEntities};

use crate::catalog::Catalog;
use crate::entity::{Entity, EntityKey};

/// [`plan_merged`] for desired entities held in memory (`desired.entities`): sorted here,
/// and the plan kept in memory too, since the entities already are (watch, review).
pub async fn plan_catalog(
    mut desired: Desired,
    catalog: &dyn Catalog,
    guards: &Guards,
) -> Result<Plan, PlanError> {
    let sorted = SortedEntities::from_vec(std::mem::take(&mut desired.entities));
    plan_merged(desired, sorted, catalog, guards, usize::MAX).await
}

/// Errors of [`plan_merged`] and [`plan_keys`].
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

/// Plans against a catalog, the one way every full plan does: lists the catalog's
/// blueprints (planned against the config repository's, and giving each relation's target
/// blueprint), resolves search-query identifiers ([`searched`]: those resolved join
/// `sorted`), then merges `sorted` (the desired entities in key order; `desired`'s own
/// `entities` are not read) with the catalog's owned entities in key order — as the
/// catalog streams them when it lists in key order, else listed and sorted here; then asks
/// which of the creates another datasource holds, and sets those apart
/// ([`Plan::set_foreign`]). Creates and updates past `memory_entries` are kept in temporary
/// files, so the memory a plan holds does not grow with the organization. The only I/O is
/// the reads (and those files); the plan is the one [`Planner::against`] makes from the
/// same lists.
/// A listing that fails (midway or whole) fails the plan: it is never read as "empty".
pub async fn plan_merged(
    mut desired: Desired,
    mut sorted: SortedEntities,
    catalog: &dyn Catalog,
    guards: &Guards,
    memory_entries: usize,
) -> Result<Plan, PlanError> {
    let blueprints = catalog.list_blueprints().await?;
    // `sorted` holds the desired entities: what `desired` holds besides is not read, and
    // the search identifiers resolved are all that join them.
    desired.entities.clear();
    let resolved = searched::resolve(&mut desired, catalog).await?;
    // Resolved search identifiers come after every mapped entity, as `plan` takes them.
    sorted.add_last(std::mem::take(&mut desired.entities));
    let mut planner = MergePlanner::against(desired, blueprints, &sorted, guards, memory_entries);
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
    let plan = resolved.attach(planner.finish()?);
    set_foreign(plan, catalog, guards).await
}

/// Plans `desired` against the catalog's owned entities of its own keys and of
/// `candidates` only (a live event's: the entities that may be gone), as a scoped planner
/// ([`Planner::scoped`]), in memory (a live event names few keys): an owned candidate not
/// desired is a delete, behind the guards. Search-query identifiers are resolved as
/// [`plan_merged`] resolves them.
pub async fn plan_keys(
    mut desired: Desired,
    candidates: &[EntityKey],
    catalog: &dyn Catalog,
    guards: &Guards,
) -> Result<Plan, PlanError> {
    let resolved = searched::resolve(&mut desired, catalog).await?;
    let mut keys: Vec<EntityKey> = desired.entities.iter().map(Entity::key).collect();
    keys.extend(candidates.iter().cloned());
    keys.sort();
    keys.dedup();
    let blueprints = catalog.list_blueprints().await?;
    let owned = catalog.owned_among(&keys).await?;
    let mut planner = Planner::scoped(desired, blueprints, guards);
    for e in owned {
        planner.observe(e);
    }
    set_foreign(resolved.attach(planner.finish()), catalog, guards).await
}

/// Sets apart the plan's creates that another datasource holds, asking about their keys
/// [`FOREIGN_CHUNK`] at a time.
async fn set_foreign(
    mut plan: Plan,
    catalog: &dyn Catalog,
    guards: &Guards,
) -> Result<Plan, PlanError> {
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
