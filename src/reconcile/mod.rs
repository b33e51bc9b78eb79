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
    let (mut send, mut search_errors) = searched::resolve(&mut desired, catalog).await?;
    // Ordered as the plan's other lists are, so equal plans give equal bytes.
    send.sort_by(|a, b| (a.blueprint(), &a.item).cmp(&(b.blueprint(), &b.item)));
    search_errors.sort_by(|a, b| (&a.blueprint, &a.item).cmp(&(&b.blueprint, &b.item)));
    let mut planner = Planner::against(desired, blueprints, guards);
    catalog
        .stream_owned(&mut |chunk| {
            for e in chunk {
                planner.observe(e);
            }
        })
        .await?;
    let mut plan = planner.finish();
    plan.summary.searched = send.len();
    plan.summary.search_error = search_errors.len();
    plan.searched = send;
    plan.search_errors = search_errors;
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
