//! Pull-request review: what a change to the mapping does, between two revisions.
//!
//! Three views, each answering a reviewer's question:
//! 1. **the mapping**: which resources were added, removed or changed, leaf by leaf, with
//!    file and line ([`crate::config::diff`]);
//! 2. **the effect**: both revisions are evaluated over the *same* source data, and head's
//!    entities are planned against base's as if base were the catalog: the entities the
//!    change creates, updates (field by field) and deletes, independent of drift;
//! 3. **the apply**: what applying head to the current catalog would do (when a catalog is
//!    given), drift included, with the pruning guards head asks for.
//!
//! Everything here is pure: the pipeline (`crate::pipeline::Pipeline::review`) maps both
//! sides and plans head against the catalog; this module composes the views, and [`render`]
//! shows them.

pub mod render;

use serde::Serialize;

use crate::config::Config;
use crate::config::diff::{MappingDiff, diff};
use crate::reconcile::{Desired, Guards, Plan, plan};

/// One side of the comparison.
#[derive(Clone, Debug)]
pub struct Side {
    /// The config at that revision.
    pub config: Config,
    /// How the user named it (`origin/main`, `work tree`).
    pub label: String,
    /// The commit id, when the side is a commit.
    pub commit: Option<String>,
}

/// A revision as the review names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// How the user named it.
    pub label: String,
    /// The commit id, when known.
    pub commit: Option<String>,
}

/// The three views of a mapping change.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// The base revision (the target branch).
    pub base: Revision,
    /// The head revision (the change).
    pub head: Revision,
    /// What changed in the mapping files.
    pub mapping: MappingDiff,
    /// Head's entities planned against base's, over the same items, no guards.
    pub effect: Plan,
    /// Head planned against the current catalog, when one was given.
    pub apply: Option<Plan>,
    /// Where the apply view's catalog is (`sqlite:…`), when one was given.
    pub catalog: Option<String>,
}

impl Review {
    /// Whether the change does anything: a mapping edit that changes no entity and a
    /// catalog already in step count as no changes (exit 0), like an empty plan.
    pub fn has_changes(&self) -> bool {
        self.effect.has_changes() || self.apply.as_ref().is_some_and(Plan::has_changes)
    }
}

/// Composes the three views from what the pipeline made: both sides' desired states (mapped
/// over the same items) and, when a catalog was given, head's plan against it with the
/// catalog's description.
pub fn compose(
    base: &Side,
    head: &Side,
    base_desired: Desired,
    head_desired: Desired,
    apply: Option<(Plan, String)>,
) -> Review {
    // The effect: every difference is shown, so no guard holds anything back; the items are
    // the same on both sides, so a partial kind is partial for both and blocks nothing.
    let mut effect_desired = head_desired;
    effect_desired.incomplete.clear();
    let effect_guards = Guards {
        prune: true,
        deletion_threshold: 1.0,
        max_deletes: None,
        allow_empty: [crate::reconcile::guard::ALL.to_owned()].into(),
        adopt: true,
        prune_blueprints: false,
    };
    let effect = plan(effect_desired, base_desired.entities, &effect_guards);
    let (apply, catalog) = match apply {
        Some((plan, describe)) => (Some(plan), Some(describe)),
        None => (None, None),
    };
    Review {
        base: Revision {
            label: base.label.clone(),
            commit: base.commit.clone(),
        },
        head: Revision {
            label: head.label.clone(),
            commit: head.commit.clone(),
        },
        mapping: diff(&base.config, &head.config),
        effect,
        apply,
        catalog,
    }
}
