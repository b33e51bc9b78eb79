//! Reconciling: compare desired entities and the config repository's blueprints with a
//! catalog ([`plan()`], [`plan_catalog`]; blueprints in [`blueprints`]), execute the result
//! ([`apply()`]), and show it ([`render`]).
//!
//! The plan is pure data and the only writer is `apply`, which talks to a catalog through
//! the [`Catalog`](crate::catalog::Catalog) trait alone: this module imports neither the ADO
//! source nor the Port client.

pub mod apply;
mod apply_blueprints;
pub mod blueprints;
mod diff;
pub mod guard;
mod order;
pub mod plan;
pub mod render;
pub mod searched;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use blueprints::BlueprintPlan;
pub use plan::{
    Confined, Desired, Foreign, Guards, IncompleteKind, KindBlueprints, OrgField, OrgNames,
    OrgProperty, Plan, Planner, RelationTargets, plan,
};

use crate::catalog::Catalog;

/// Lists the catalog's blueprints (planned against the config repository's, and giving each
/// relation's target blueprint), resolves search-query identifiers ([`searched`]), then
/// lists its owned entities, planning against them as they
/// stream in, so the whole listing is never held at once; then asks which of the creates
/// another datasource holds, and sets those apart ([`Plan::set_foreign`]). The only I/O is
/// the reads; the comparison is [`Planner`]'s. A listing that fails (midway or whole) fails
/// the plan: it is never read as "empty".
pub async fn plan_catalog(
    desired: Desired,
    catalog: &dyn Catalog,
    guards: &Guards,
) -> crate::catalog::Result<Plan> {
    let blueprints = catalog.list_blueprints().await?;
    let mut desired = desired;
    let resolved = searched::resolve(&mut desired, catalog).await?;
    let mut planner = Planner::against(desired, blueprints, guards);
    catalog
        .stream_owned(&mut |chunk| {
            for e in chunk {
                planner.observe(e);
            }
        })
        .await?;
    set_foreign(resolved.attach(planner.finish()), catalog, guards).await
}

/// Plans `desired` against the catalog's owned entities of its own keys and of
/// `candidates` only (a live event's: the entities that may be gone), as a scoped planner
/// ([`Planner::scoped`]): an owned candidate not desired is a delete, behind the guards.
pub async fn plan_keys(
    desired: Desired,
    candidates: &[crate::entity::EntityKey],
    catalog: &dyn Catalog,
    guards: &Guards,
) -> crate::catalog::Result<Plan> {
    let mut desired = desired;
    let resolved = searched::resolve(&mut desired, catalog).await?;
    let mut keys: Vec<crate::entity::EntityKey> = desired
        .entities
        .iter()
        .map(crate::entity::Entity::key)
        .collect();
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

/// Sets apart the plan's creates that another datasource holds.
async fn set_foreign(
    mut plan: Plan,
    catalog: &dyn Catalog,
    guards: &Guards,
) -> crate::catalog::Result<Plan> {
    if !plan.creates.is_empty() {
        let keys: Vec<_> = plan
            .creates
            .iter()
            .map(crate::entity::Entity::key)
            .collect();
        let owners = catalog.foreign_owners(&keys).await?;
        plan.set_foreign(&owners, guards.adopt);
    }
    Ok(plan)
}
