//! Reconciling: compare desired entities with a catalog ([`plan()`]), execute the result
//! ([`apply()`]), and show it ([`render`]).
//!
//! The plan is pure data and the only writer is `apply`, which talks to a catalog through
//! the [`Catalog`](crate::catalog::Catalog) trait alone: this module imports neither the ADO
//! source nor the Port client.

pub mod apply;
mod diff;
mod guard;
pub mod plan;
pub mod render;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use plan::{Desired, Guards, IncompleteKind, KindBlueprints, Plan, Planner, plan};

use crate::catalog::Catalog;

/// Lists the catalog's owned entities and plans against them as they stream in, so the
/// whole listing is never held at once. The only I/O is the read; the comparison is
/// [`Planner`]'s. A listing that fails midway fails the plan: it is never read as "empty".
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
    Ok(planner.finish())
}
