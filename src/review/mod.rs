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
//! Everything here is pure: the caller reads both configs, the items and the catalog.
//! Rendering lives in [`render`].

pub mod render;

use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::config::diff::{MappingDiff, diff};
use crate::desired::{Evaluator, Items, Mapper};
use crate::entity::Entity;
use crate::reconcile::{Guards, Plan, plan};
use crate::sync::{self, GuardFlags};

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

/// The current catalog, for the apply view.
#[derive(Clone, Debug)]
pub struct Actual {
    /// Entities the catalog holds for our datasource.
    pub entities: Vec<Entity>,
    /// Its description for output (no secrets).
    pub describe: String,
}

/// Compares base and head: mapping diff, effect on entities, and head's plan against the
/// catalog (with head's guards, `flags` over its settings). Both sides are evaluated with one evaluator, so resources that did not change
/// are mapped once.
pub fn review(
    base: &Side,
    head: &Side,
    items: &mut dyn Items,
    mapper: Arc<dyn Mapper>,
    actual: Option<Actual>,
    flags: GuardFlags,
) -> Review {
    let mut evaluator = Evaluator::new(mapper);
    let base_eval = evaluator.evaluate(&base.config, base.commit.clone(), items);
    let head_eval = evaluator.evaluate(&head.config, head.commit.clone(), items);

    // The effect: every difference is shown, so no guard holds anything back; the items are
    // the same on both sides, so a partial kind is partial for both and blocks nothing.
    let mut effect_desired = head_eval.desired.clone();
    effect_desired.incomplete.clear();
    let effect_guards = Guards {
        prune: true,
        deletion_threshold: 1.0,
        max_deletes: None,
    };
    let effect = plan(effect_desired, base_eval.desired.entities, &effect_guards);

    let (apply, catalog) = match actual {
        Some(a) => (
            Some(plan(
                head_eval.desired,
                a.entities,
                &sync::guards(&head.config, flags),
            )),
            Some(a.describe),
        ),
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

/// A side read from its source: ready, or with the findings that stop it.
#[derive(Debug)]
pub enum SideLoad {
    /// Linted clean of errors.
    Ready(Box<Side>),
    /// Has errors: the findings and the files, for rendering.
    Invalid(Box<crate::config::Loaded>),
}

/// Reads the base side like [`load_side`], except that a revision holding no mapping (the
/// pull request that adds the config) is an empty config: everything head maps is new.
pub fn load_base(
    source: &crate::config::ConfigSource,
    label: impl Into<String>,
) -> crate::config::location::Result<SideLoad> {
    use crate::config::git::Error as GitError;
    use crate::config::location::Error;
    let label = label.into();
    match load_side(source, label.clone()) {
        Err(Error::GitFailed(GitError::NoMapping { .. } | GitError::PathNotInRevision { .. })) => {
            let commit = match source {
                crate::config::ConfigSource::Git { repo, rev } => {
                    crate::config::git::resolve(repo, rev).ok()
                }
                crate::config::ConfigSource::Path(_) => None,
            };
            Ok(SideLoad::Ready(Box::new(Side {
                config: Config {
                    settings: crate::config::Settings::default(),
                    mapping: crate::config::Mapping::default(),
                    blueprints: std::collections::BTreeMap::new(),
                },
                label,
                commit,
            })))
        }
        other => other,
    }
}

/// Reads, builds and lints the config at `source`, labelled `label` in the output.
pub fn load_side(
    source: &crate::config::ConfigSource,
    label: impl Into<String>,
) -> crate::config::location::Result<SideLoad> {
    let (mut loaded, commit) = source.load()?;
    crate::config::lint::lint(&mut loaded);
    if loaded.has_errors() {
        return Ok(SideLoad::Invalid(Box::new(loaded)));
    }
    match loaded.config {
        Some(config) => Ok(SideLoad::Ready(Box::new(Side {
            config,
            label: label.into(),
            commit,
        }))),
        None => Ok(SideLoad::Invalid(Box::new(loaded))),
    }
}
