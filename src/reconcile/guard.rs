//! The pruning guards: which delete candidates proceed, and why the others do not.
//!
//! Guards, in order (each candidate is blocked by the first that applies):
//! 1. an incomplete kind whose blueprint cannot be known blocks every delete;
//! 2. an incomplete kind blocks the deletes of its blueprints;
//! 3. with `createMissingRelatedEntities` (Port's default), an entity whose identifier a
//!    desired entity's relation names is kept, as Port's `_safe_delete` keeps it (the
//!    relation's target blueprint is not known without blueprint schemas, so any blueprint
//!    matches: this only ever keeps more);
//! 4. `prune: false` (`--no-prune`) blocks the rest;
//! 5. `entityDeletionThreshold`: with `rate = deletes / owned`, deletion proceeds only if
//!    `rate <= threshold` (Port's `delete_diff`, all or nothing), so `0` never deletes and
//!    `1` always may. `owned` is every entity `list_owned` returned; Port's denominator
//!    excludes entities written during the run, which a plan made before writing has none of;
//! 6. `max_deletes` (`--max-deletes N`): more than `N` deletes, none proceed.

use std::collections::HashSet;

use super::plan::{BlockReason, BlockedDeletes, Guards, IncompleteKind, KindBlueprints};
use crate::entity::Entity;

/// Splits delete candidates into those that proceed and those a guard holds back.
pub(crate) fn guard(
    candidates: Vec<Entity>,
    owned: usize,
    incomplete: &[IncompleteKind],
    targets: Option<&HashSet<String>>,
    guards: &Guards,
) -> (Vec<Entity>, Vec<BlockedDeletes>) {
    let mut blocked = Vec::new();
    if candidates.is_empty() {
        return (candidates, blocked);
    }
    let keys = |es: &[Entity]| es.iter().map(Entity::key).collect::<Vec<_>>();

    let mut unknown: Vec<&IncompleteKind> = incomplete
        .iter()
        .filter(|k| k.blueprints == KindBlueprints::Unknown)
        .collect();
    unknown.sort_by(|a, b| a.kind.cmp(&b.kind));
    if !unknown.is_empty() {
        let names: Vec<String> = unknown
            .iter()
            .map(|k| format!("{} ({})", k.kind, k.reason))
            .collect();
        blocked.push(BlockedDeletes {
            reason: BlockReason::UnknownBlueprint,
            message: format!(
                "incomplete kind {} computes its blueprint per item, so any blueprint may be \
                 missing entities: nothing is deleted this run",
                names.join(", ")
            ),
            entities: keys(&candidates),
        });
        return (Vec::new(), blocked);
    }

    // Incomplete kinds, by kind name, each claiming the candidates of its blueprints.
    let mut kinds: Vec<&IncompleteKind> = incomplete.iter().collect();
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    let mut remaining = candidates;
    for kind in kinds {
        let KindBlueprints::Known(bps) = &kind.blueprints else {
            continue;
        };
        let (held, rest): (Vec<Entity>, Vec<Entity>) = remaining
            .into_iter()
            .partition(|e| bps.contains(&e.blueprint));
        remaining = rest;
        if !held.is_empty() {
            let bp_list: Vec<&str> = bps.iter().map(String::as_str).collect();
            blocked.push(BlockedDeletes {
                reason: BlockReason::IncompleteKind,
                message: format!(
                    "kind {} is incomplete ({}): blueprint {} deletes nothing this run",
                    kind.kind,
                    kind.reason,
                    bp_list.join(", ")
                ),
                entities: keys(&held),
            });
        }
    }
    // Relation targets of desired entities stay (Port's `_safe_delete`): deleting one would
    // cascade to the entity pointing at it, or Port would recreate it as a placeholder.
    if let Some(targets) = targets {
        let (held, rest): (Vec<Entity>, Vec<Entity>) = remaining
            .into_iter()
            .partition(|e| targets.contains(&e.identifier));
        remaining = rest;
        if !held.is_empty() {
            blocked.push(BlockedDeletes {
                reason: BlockReason::RelationTarget,
                message: "still the target of a relation of a desired entity: kept, as Port \
                          keeps them when createMissingRelatedEntities is on"
                    .to_owned(),
                entities: keys(&held),
            });
        }
    }
    if remaining.is_empty() {
        return (remaining, blocked);
    }

    let n = remaining.len();
    let held = if !guards.prune {
        Some((
            BlockReason::NoPrune,
            format!("pruning is off (--no-prune): {n} deletes are shown, not applied"),
        ))
    } else if !within_threshold(n, owned, guards.deletion_threshold) {
        let message = if guards.deletion_threshold == 0.0 {
            "entityDeletionThreshold is 0: deletion is disabled".to_owned()
        } else {
            format!(
                "deleting {n} of {owned} owned entities ({:.1} %) exceeds entityDeletionThreshold \
                 {} ({:.1} %): nothing is deleted; check the source, or raise the threshold",
                100.0 * n as f64 / owned.max(1) as f64,
                guards.deletion_threshold,
                100.0 * guards.deletion_threshold
            )
        };
        Some((BlockReason::Threshold, message))
    } else {
        guards.max_deletes.filter(|max| n > *max).map(|max| {
            (
                BlockReason::MaxDeletes,
                format!("{n} deletes exceed --max-deletes {max}: nothing is deleted"),
            )
        })
    };
    match held {
        Some((reason, message)) => {
            blocked.push(BlockedDeletes {
                reason,
                message,
                entities: keys(&remaining),
            });
            (Vec::new(), blocked)
        }
        None => (remaining, blocked),
    }
}

/// Port's rule: `deletes / owned <= threshold`. A NaN threshold (never valid config) blocks.
fn within_threshold(deletes: usize, owned: usize, threshold: f64) -> bool {
    let rate = deletes as f64 / owned.max(1) as f64;
    matches!(
        rate.partial_cmp(&threshold),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    )
}

#[cfg(test)]
mod tests {
    use crate::entity::Entity;
    use crate::reconcile::plan::{
        BlockReason, Desired, Guards, IncompleteKind, KindBlueprints, plan,
    };
    use serde_json::{Value, json};

    fn e(bp: &str, id: &str, props: Value) -> Entity {
        let mut e = Entity::new(id, bp);
        e.properties = props.as_object().cloned().unwrap_or_default();
        e
    }

    fn desired(entities: Vec<Entity>) -> Desired {
        Desired {
            entities,
            ..Desired::default()
        }
    }

    fn owned(n: usize, bp: &str) -> Vec<Entity> {
        (0..n)
            .map(|i| e(bp, &format!("{bp}{i:03}"), json!({})))
            .collect()
    }

    #[test]
    fn an_incomplete_kind_deletes_nothing_of_its_blueprints_and_says_why() {
        let mut d = desired(vec![]);
        d.incomplete = vec![IncompleteKind {
            kind: "build".into(),
            reason: "fetch failed: 500".into(),
            blueprints: KindBlueprints::Known(["build".to_owned()].into()),
        }];
        let mut have = owned(3, "build");
        have.extend(owned(1, "svc"));
        let p = plan(
            d,
            have,
            &Guards {
                deletion_threshold: 1.0,
                ..Guards::default()
            },
        );
        assert_eq!(p.deletes.len(), 1);
        assert_eq!(p.blocked[0].reason, BlockReason::IncompleteKind);
        assert_eq!(p.blocked[0].entities.len(), 3);
        assert!(p.blocked[0].message.contains("fetch failed: 500"));
    }

    #[test]
    fn an_incomplete_kind_with_a_computed_blueprint_deletes_nothing_at_all() {
        let mut d = desired(vec![]);
        d.incomplete = vec![IncompleteKind {
            kind: "workitem".into(),
            reason: "2 items failed the selector".into(),
            blueprints: KindBlueprints::Unknown,
        }];
        let p = plan(
            d,
            owned(4, "svc"),
            &Guards {
                deletion_threshold: 1.0,
                ..Guards::default()
            },
        );
        assert!(p.deletes.is_empty());
        assert_eq!(p.blocked[0].reason, BlockReason::UnknownBlueprint);
        assert_eq!(p.summary.blocked_delete, 4);
    }

    #[test]
    fn the_threshold_allows_a_rate_equal_to_it_and_blocks_above() {
        // 9 of 10 owned = 0.9: proceeds at the default threshold.
        let mut want = owned(10, "svc");
        want.truncate(1);
        let p = plan(desired(want.clone()), owned(10, "svc"), &Guards::default());
        assert_eq!(p.deletes.len(), 9);
        // 10 of 10: blocked, all or nothing.
        let p = plan(desired(vec![]), owned(10, "svc"), &Guards::default());
        assert!(p.deletes.is_empty());
        assert_eq!(p.blocked[0].reason, BlockReason::Threshold);
        assert!(p.blocked[0].message.contains("10 of 10"));
        // 0 never deletes.
        let zero = Guards {
            deletion_threshold: 0.0,
            ..Guards::default()
        };
        let p = plan(desired(want), owned(10, "svc"), &zero);
        assert!(p.deletes.is_empty());
        assert!(p.blocked[0].message.contains("disabled"));
    }

    #[test]
    fn a_relation_target_of_a_desired_entity_is_kept_unless_related_entities_are_off() {
        let mut svc = e("svc", "a", json!({}));
        svc.relations.insert("repo".into(), json!(["r1"]));
        let have = vec![e("repo", "r1", json!({})), e("repo", "r2", json!({}))];
        let all = Guards {
            deletion_threshold: 1.0,
            ..Guards::default()
        };
        let p = plan(desired(vec![svc.clone()]), have.clone(), &all);
        assert_eq!(
            p.deletes
                .iter()
                .map(|e| e.identifier.as_str())
                .collect::<Vec<_>>(),
            ["r2"]
        );
        assert_eq!(p.blocked[0].reason, BlockReason::RelationTarget);
        let mut d = desired(vec![svc]);
        d.options.create_missing_related_entities = false;
        assert_eq!(plan(d, have, &all).deletes.len(), 2);
    }

    #[test]
    fn max_deletes_and_no_prune_block_every_delete() {
        let want = owned(10, "svc")[..5].to_vec();
        let cap = Guards {
            max_deletes: Some(4),
            ..Guards::default()
        };
        let p = plan(desired(want.clone()), owned(10, "svc"), &cap);
        assert!(p.deletes.is_empty());
        assert_eq!(p.blocked[0].reason, BlockReason::MaxDeletes);
        let cap = Guards {
            max_deletes: Some(5),
            ..Guards::default()
        };
        assert_eq!(
            plan(desired(want.clone()), owned(10, "svc"), &cap)
                .deletes
                .len(),
            5
        );
        let off = Guards {
            prune: false,
            ..Guards::default()
        };
        let p = plan(desired(want), owned(10, "svc"), &off);
        assert!(p.deletes.is_empty() && !p.has_changes());
        assert_eq!(p.blocked[0].reason, BlockReason::NoPrune);
    }
}
