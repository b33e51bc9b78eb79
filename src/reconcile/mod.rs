//! Reconciling: compare desired entities with a catalog ([`plan()`]), execute the result
//! ([`apply()`]), and show it ([`render`]).
//!
//! The plan is pure data and the only writer is `apply`, which talks to a catalog through
//! the [`Catalog`](crate::catalog::Catalog) trait alone: this module imports neither the ADO
//! source nor the Port client.

pub mod apply;
pub mod plan;
pub mod render;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use plan::{Desired, Guards, IncompleteKind, KindBlueprints, Plan, plan};
