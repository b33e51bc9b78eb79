//! The pruning guards: which delete candidates proceed, and why the others do not.
//!
//! Guards, in order (each candidate is blocked by the first that applies):
//! 1. an incomplete kind whose blueprint cannot be known blocks every delete;
//! 2. an incomplete kind blocks the deletes of its blueprints. When its gaps are confined to
//!    some organizations (the others' shares are whole), a candidate proven to come from a
//!    whole organization passes on to the next guards: a property the kind's resources map
//!    straight from `.__organizationUrl` (or `.__organizationName`) names a whole
//!    organization and no incomplete one. A candidate that no such property names, or that
//!    names an organization of this run that is incomplete or one this run did not read, is
//!    held. Sound as long as an entity key comes from one organization's items only (the
//!    identifiers of several organizations are scoped apart), which several organizations
//!    need anyway: two organizations producing one key are a duplicate;
//! 3. with `createMissingRelatedEntities` (Port's default), an entity a desired entity's
//!    relation names is kept, as Port's `_safe_delete` keeps it: matched by (the relation's
//!    target blueprint, identifier) when the blueprint schemas say which blueprint the
//!    relation points at (the config repository's `blueprints/`, over the catalog's own: on
//!    the `port` target, Port's blueprint API); by identifier alone when neither says
//!    (then the plan names the relations and says how to give their schemas). Whatever
//!    that flag, so is an entity that a relation of an entity held by guard 2 or 5 names,
//!    and in turn what the held targets name: a held entity stays, and deleting what it
//!    points at would cascade to it (`deleteDependentEntities`) — an incomplete kind would
//!    lose entities after all;
//! 4. `prune: false` (`--no-prune`) blocks the rest;
//! 5. a blueprint the mapping still writes is never emptied in one run: when every one of
//!    its owned entities would go, its deletes are held unless `--allow-empty-kind` names
//!    the blueprint or a kind writing it (a source that suddenly lists nothing must not
//!    wipe a kind; a blueprint no resource writes any more may go, behind the threshold);
//! 6. `entityDeletionThreshold`: with `rate = deletes / owned`, deletion proceeds only if
//!    `rate <= threshold` (Port's `delete_diff`, all or nothing), so `0` never deletes and
//!    `1` always may. `owned` is every entity `list_owned` returned; Port's denominator
//!    excludes entities written during the run, which a plan made before writing has none of;
//! 7. `max_deletes` (`--max-deletes N`): more than `N` deletes, none proceed.
//!
//! A scoped plan (a live event's: only the entities of some keys were observed, see
//! `Planner::scoped`) skips 5 and 6, which judge how much of a whole listing went missing;
//! each of its delete candidates was named because ADO answered for that very item (gone,
//! or no longer selected). Every other guard applies.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::plan::{
    BlockReason, BlockedDeletes, Confined, Counts, Guards, IncompleteKind, KindBlueprints,
    RelationTargets, Targets,
};
use crate::entity::Entity;

/// What relations guard 3 follows.
pub(crate) struct Related<'a> {
    /// What desired entities' relations name, when `createMissingRelatedEntities` keeps it.
    pub desired: Option<Targets>,
    /// Each relation's target blueprint, for the relations of entities a guard keeps.
    pub schemas: &'a RelationTargets,
}

/// Splits delete candidates into those that proceed and those a guard holds back.
pub(crate) fn guard(
    candidates: Vec<Entity>,
    counts: &Counts<'_>,
    incomplete: &[IncompleteKind],
    related: Related<'_>,
    kinds: &BTreeMap<String, KindBlueprints>,
    guards: &Guards,
    scoped: bool,
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
    let mut sorted: Vec<&IncompleteKind> = incomplete.iter().collect();
    sorted.sort_by(|a, b| a.kind.cmp(&b.kind));
    let mut remaining = candidates;
    let mut held_so_far: Vec<Entity> = Vec::new();
    for kind in sorted {
        let KindBlueprints::Known(bps) = &kind.blueprints else {
            continue;
        };
        let (held, rest): (Vec<Entity>, Vec<Entity>) = remaining.into_iter().partition(|e| {
            bps.contains(&e.blueprint)
                && !kind
                    .confined
                    .as_ref()
                    .is_some_and(|c| from_whole_organization(c, e))
        });
        remaining = rest;
        if !held.is_empty() {
            let bp_list: Vec<&str> = bps.iter().map(String::as_str).collect();
            held_so_far.extend(held.iter().cloned());
            blocked.push(BlockedDeletes {
                reason: BlockReason::IncompleteKind,
                message: incomplete_message(kind, &bp_list),
                entities: keys(&held),
            });
        }
    }
    // Relation targets of desired entities stay (Port's `_safe_delete`): deleting one would
    // cascade to the entity pointing at it, or Port would recreate it as a placeholder. So do
    // the targets of every entity held so far: it stays in the catalog as it is.
    let Related { desired, schemas } = related;
    let mut targets = desired.unwrap_or_default();
    remaining = hold_targets(remaining, &held_so_far, &mut targets, schemas, &mut blocked);
    if remaining.is_empty() {
        return (remaining, blocked);
    }
    if !guards.prune {
        let n = remaining.len();
        blocked.push(BlockedDeletes {
            reason: BlockReason::NoPrune,
            message: format!("pruning is off (--no-prune): {n} deletes are shown, not applied"),
            entities: keys(&remaining),
        });
        return (Vec::new(), blocked);
    }
    if !scoped {
        let before = remaining.clone();
        remaining = hold_emptied_blueprints(remaining, counts, kinds, guards, &mut blocked);
        if remaining.len() < before.len() {
            // What guard 5 keeps stays too, and with it what its relations name.
            let left: BTreeSet<_> = remaining.iter().map(Entity::key).collect();
            let kept: Vec<Entity> = before
                .into_iter()
                .filter(|e| !left.contains(&e.key()))
                .collect();
            remaining = hold_targets(remaining, &kept, &mut targets, schemas, &mut blocked);
        }
    }
    if remaining.is_empty() {
        return (remaining, blocked);
    }

    let n = remaining.len();
    let owned = counts.owned;
    let held = if !scoped && !within_threshold(n, owned, guards.deletion_threshold) {
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

/// Guard 3: holds every candidate a relation of a staying entity names — of a desired
/// entity (in `targets` already, with `createMissingRelatedEntities`), of an entity `kept`
/// by an earlier guard, and, in turn, of each candidate held here, until none is left to
/// hold. A held entity stays in the catalog, so deleting what it points at would cascade to
/// it (`deleteDependentEntities`) or leave its relation dangling.
fn hold_targets(
    mut remaining: Vec<Entity>,
    kept: &[Entity],
    targets: &mut Targets,
    schemas: &RelationTargets,
    blocked: &mut Vec<BlockedDeletes>,
) -> Vec<Entity> {
    for e in kept {
        targets.add(e, schemas);
    }
    let mut known: Vec<Entity> = Vec::new();
    let mut loose: Vec<Entity> = Vec::new();
    loop {
        let (held, rest): (Vec<Entity>, Vec<Entity>) = remaining.into_iter().partition(|e| {
            targets
                .known
                .contains(&(e.blueprint.clone(), e.identifier.clone()))
        });
        let (held_loose, rest): (Vec<Entity>, Vec<Entity>) = rest
            .into_iter()
            .partition(|e| targets.loose.contains_key(&e.identifier));
        remaining = rest;
        if held.is_empty() && held_loose.is_empty() {
            break;
        }
        for e in held.iter().chain(&held_loose) {
            targets.add(e, schemas);
        }
        known.extend(held);
        loose.extend(held_loose);
    }
    let keys = |es: &[Entity]| es.iter().map(Entity::key).collect::<Vec<_>>();
    if !known.is_empty() {
        known.sort_by_key(Entity::key);
        add_blocked(
            blocked,
            BlockReason::RelationTarget,
            "still the target of a relation of an entity that stays (desired, or held by \
             another guard): kept, as Port's integration keeps relation targets"
                .to_owned(),
            keys(&known),
        );
    }
    if !loose.is_empty() {
        loose.sort_by_key(Entity::key);
        let relations: BTreeSet<&str> = loose
            .iter()
            .filter_map(|e| targets.loose.get(&e.identifier))
            .flatten()
            .map(String::as_str)
            .collect();
        let relations: Vec<&str> = relations.into_iter().collect();
        add_blocked(
            blocked,
            BlockReason::RelationTargetUnknown,
            format!(
                "the identifier is named by relation {} whose target blueprint is unknown \
                 (neither the config repository's blueprints/ nor the catalog's blueprints \
                 define the relation), so it may be that relation's target: kept. Add the \
                 blueprint's JSON to the config repository's blueprints/ folder (or create \
                 the blueprint in the catalog) so each relation is matched by its target \
                 blueprint",
                relations.join(", ")
            ),
            keys(&loose),
        );
    }
    remaining
}

/// Adds held entities to the group of `reason` (one group per reason), or starts it.
fn add_blocked(
    blocked: &mut Vec<BlockedDeletes>,
    reason: BlockReason,
    message: String,
    mut entities: Vec<crate::entity::EntityKey>,
) {
    match blocked.iter_mut().find(|b| b.reason == reason) {
        Some(group) => {
            group.entities.append(&mut entities);
            group.entities.sort();
            group.message = message;
        }
        None => blocked.push(BlockedDeletes {
            reason,
            message,
            entities,
        }),
    }
}

/// Guard 2's proof: a property the kind maps straight from an item's organization names a
/// whole organization, and none names an incomplete or unknown one.
fn from_whole_organization(confined: &Confined, e: &Entity) -> bool {
    let Some(properties) = confined.attribution.get(&e.blueprint) else {
        return false;
    };
    let mut named = false;
    for p in properties {
        let Some(Value::String(value)) = e.properties.get(&p.property) else {
            continue;
        };
        let names = |orgs: &[super::plan::OrgNames]| orgs.iter().any(|o| p.field.of(o) == value);
        if names(&confined.incomplete) || !names(&confined.complete) {
            return false;
        }
        named = true;
    }
    named
}

/// Why guard 2 holds an incomplete kind's deletes, and (when several organizations were
/// read) what would let the whole organizations' stale entities go meanwhile.
fn incomplete_message(kind: &IncompleteKind, blueprints: &[&str]) -> String {
    let Some(confined) = &kind.confined else {
        return format!(
            "kind {} is incomplete ({}): blueprint {} deletes nothing this run",
            kind.kind,
            kind.reason,
            blueprints.join(", ")
        );
    };
    let failed: Vec<&str> = confined
        .incomplete
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    let mut message = format!(
        "kind {} is incomplete in organization {} ({}): blueprint {} deletes none of its \
         entities this run",
        kind.kind,
        failed.join(", "),
        kind.reason,
        blueprints.join(", ")
    );
    if blueprints
        .iter()
        .any(|bp| !confined.attribution.contains_key(*bp))
    {
        message.push_str(
            ", nor any other organization's: map `.__organizationUrl` (or \
             `.__organizationName`) to a property of the blueprint so that entities of the \
             whole organizations can be told apart and pruned",
        );
    } else {
        message
            .push_str(", nor any entity whose organization property names no whole organization");
    }
    message
}

/// In `Guards::allow_empty`, allows every blueprint to be emptied.
pub const ALL: &str = "*";

/// Guard 5: holds the deletes of every blueprint the mapping still writes that would lose
/// all its owned entities, unless `--allow-empty-kind` names it or a kind writing it.
fn hold_emptied_blueprints(
    remaining: Vec<Entity>,
    counts: &Counts<'_>,
    kinds: &BTreeMap<String, KindBlueprints>,
    guards: &Guards,
    blocked: &mut Vec<BlockedDeletes>,
) -> Vec<Entity> {
    if guards.allow_empty.contains(ALL) {
        return remaining;
    }
    let mut by_blueprint: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &remaining {
        *by_blueprint.entry(e.blueprint.as_str()).or_default() += 1;
    }
    // A blueprint is still written when a resource names it, or when any computes its
    // blueprint per item (then any blueprint may be).
    let writers = |bp: &str| -> Vec<&str> {
        kinds
            .iter()
            .filter(|(_, bps)| match bps {
                KindBlueprints::Known(set) => set.contains(bp),
                KindBlueprints::Unknown => true,
            })
            .map(|(kind, _)| kind.as_str())
            .collect()
    };
    let emptied: BTreeMap<String, Vec<&str>> = by_blueprint
        .iter()
        .filter(|(bp, n)| counts.by_blueprint.get(**bp).copied() == Some(**n))
        .map(|(bp, _)| ((*bp).to_owned(), writers(bp)))
        .filter(|(bp, kinds)| {
            !kinds.is_empty()
                && !guards.allow_empty.contains(bp)
                && !kinds.iter().any(|k| guards.allow_empty.contains(*k))
        })
        .collect();
    if emptied.is_empty() {
        return remaining;
    }
    let (held, rest): (Vec<Entity>, Vec<Entity>) = remaining
        .into_iter()
        .partition(|e| emptied.contains_key(&e.blueprint));
    for (bp, kinds) in &emptied {
        let entities: Vec<_> = held
            .iter()
            .filter(|e| &e.blueprint == bp)
            .map(Entity::key)
            .collect();
        blocked.push(BlockedDeletes {
            reason: BlockReason::EmptiesBlueprint,
            message: format!(
                "deleting all {} entities of blueprint {bp}, which the mapping still writes \
                 (kind {}), would leave it empty: check that the source lists this kind, or \
                 pass --allow-empty-kind {} to allow it",
                entities.len(),
                kinds.join(", "),
                kinds.first().copied().unwrap_or(bp.as_str())
            ),
            entities,
        });
    }
    rest
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
    use super::ALL;
    use crate::entity::Entity;
    use crate::reconcile::plan::{
        BlockReason, Confined, Desired, Guards, IncompleteKind, KindBlueprints, OrgField, OrgNames,
        OrgProperty, RelationTargets, plan,
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
            confined: None,
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

    fn org(name: &str) -> OrgNames {
        OrgNames {
            url: format!("https://dev.azure.com/{name}"),
            name: name.into(),
        }
    }

    fn from(org_name: &str, id: &str) -> Entity {
        e("build", id, json!({"org": org_name}))
    }

    #[test]
    fn an_organizations_gap_holds_its_entities_and_lets_a_whole_organizations_stale_ones_go() {
        let mut d = desired(vec![from("alpha", "a1"), from("beta", "b1")]);
        d.incomplete = vec![IncompleteKind {
            kind: "build".into(),
            reason: "https://dev.azure.com/beta: HTTP 500".into(),
            blueprints: KindBlueprints::Known(["build".to_owned()].into()),
            confined: Some(Confined {
                incomplete: vec![org("beta")],
                complete: vec![org("alpha")],
                attribution: [(
                    "build".to_owned(),
                    vec![OrgProperty {
                        property: "org".into(),
                        field: OrgField::Name,
                    }],
                )]
                .into(),
            }),
        }];
        let have = vec![
            from("alpha", "a1"),
            from("alpha", "a2"),
            from("beta", "b1"),
            from("beta", "b2"),
            // Another organization's (not read this run), and one naming none: held.
            from("gamma", "g1"),
            e("build", "x1", json!({})),
        ];
        let all = Guards {
            deletion_threshold: 1.0,
            ..Guards::default()
        };
        let p = plan(d.clone(), have.clone(), &all);
        let deleted: Vec<&str> = p.deletes.iter().map(|e| e.identifier.as_str()).collect();
        assert_eq!(deleted, ["a2"]);
        let held = &p.blocked[0];
        assert_eq!(held.reason, BlockReason::IncompleteKind);
        let mut ids: Vec<String> = held.entities.iter().map(|k| k.identifier.clone()).collect();
        ids.sort();
        assert_eq!(ids, ["b2", "g1", "x1"]);
        assert!(
            held.message.contains("incomplete in organization beta"),
            "{}",
            held.message
        );

        // Without a property naming the organization, the whole kind is held, and the plan
        // says how to do better.
        if let Some(c) = d.incomplete[0].confined.as_mut() {
            c.attribution.clear();
        }
        let p = plan(d, have, &all);
        assert!(p.deletes.is_empty());
        assert!(
            p.blocked[0].message.contains("map `.__organizationUrl`"),
            "{}",
            p.blocked[0].message
        );
    }

    #[test]
    fn an_incomplete_kind_with_a_computed_blueprint_deletes_nothing_at_all() {
        let mut d = desired(vec![]);
        d.incomplete = vec![IncompleteKind {
            kind: "workitem".into(),
            reason: "2 items failed the selector".into(),
            blueprints: KindBlueprints::Unknown,
            confined: None,
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
        let mut d = desired(vec![svc.clone()]);
        d.relation_targets = RelationTargets::from_blueprints(&[json!({
            "identifier": "svc", "relations": {"repo": {"target": "repo"}}
        })]);
        let p = plan(d, have.clone(), &all);
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

    /// Issue 10's fault mix: runs of an incomplete kind point at builds ADO no longer lists;
    /// deleting those builds would cascade to the runs the incomplete guard keeps.
    #[test]
    fn what_an_entity_held_by_an_incomplete_kind_points_at_is_kept_and_so_on_down_the_chain() {
        let mut run = e("run", "r1", json!({}));
        run.relations.insert("build".into(), json!("b1"));
        let mut build = e("build", "b1", json!({}));
        build.relations.insert("commit".into(), json!("c1"));
        let have = vec![
            run,
            build,
            e("build", "b2", json!({})),
            e("commit", "c1", json!({})),
            e("commit", "c2", json!({})),
        ];
        let mut d = desired(vec![]);
        d.incomplete = vec![IncompleteKind {
            kind: "pipeline-run".into(),
            reason: "runs of pipeline 1: HTTP 500".into(),
            blueprints: KindBlueprints::Known(["run".to_owned()].into()),
            confined: None,
        }];
        d.relation_targets = RelationTargets::from_blueprints(&[
            json!({"identifier": "run", "relations": {"build": {"target": "build"}}}),
            json!({"identifier": "build", "relations": {"commit": {"target": "commit"}}}),
        ]);
        let all = Guards {
            deletion_threshold: 1.0,
            allow_empty: [ALL.to_owned()].into(),
            ..Guards::default()
        };
        for related in [true, false] {
            let mut d = d.clone();
            d.options.create_missing_related_entities = related;
            let p = plan(d, have.clone(), &all);
            let keys: Vec<String> = p.deletes.iter().map(|e| e.key().to_string()).collect();
            assert_eq!(
                keys,
                ["build/b2", "commit/c2"],
                "related entities {related}"
            );
            let held = p
                .blocked
                .iter()
                .find(|b| b.reason == BlockReason::RelationTarget)
                .expect("held as relation targets");
            let held: Vec<String> = held.entities.iter().map(ToString::to_string).collect();
            assert_eq!(held, ["build/b1", "commit/c1"]);
        }
    }

    #[test]
    fn a_relation_target_is_matched_by_its_target_blueprint_so_another_blueprints_namesake_goes() {
        // Builds point at pipeline 7; release 7 only shares the identifier.
        let mut build = e("build", "b1", json!({}));
        build.relations.insert("pipeline".into(), json!("7"));
        let have = vec![
            e("pipeline", "7", json!({})),
            e("release", "7", json!({})),
            e("release", "8", json!({})),
        ];
        let all = Guards {
            deletion_threshold: 1.0,
            allow_empty: [ALL.to_owned()].into(),
            ..Guards::default()
        };
        let mut d = desired(vec![build.clone()]);
        d.relation_targets = RelationTargets::from_blueprints(&[json!({
            "identifier": "build", "relations": {"pipeline": {"target": "pipeline", "many": false}}
        })]);
        let p = plan(d, have.clone(), &all);
        let keys: Vec<String> = p.deletes.iter().map(|e| e.key().to_string()).collect();
        assert_eq!(keys, ["release/7", "release/8"]);
        assert_eq!(p.blocked[0].reason, BlockReason::RelationTarget);
        assert_eq!(p.blocked[0].entities[0].to_string(), "pipeline/7");

        // Without the schema the target blueprint is unknown: every namesake is kept, and
        // the plan says which relation holds it and how to resolve it.
        let p = plan(desired(vec![build]), have, &all);
        let held = p
            .blocked
            .iter()
            .find(|b| b.reason == BlockReason::RelationTargetUnknown)
            .expect("held by an unknown target");
        assert_eq!(held.entities.len(), 2);
        assert!(held.message.contains("build.pipeline"), "{}", held.message);
        assert!(held.message.contains("blueprints/"), "{}", held.message);
    }

    #[test]
    fn a_blueprint_the_mapping_still_writes_is_never_emptied_unless_allowed() {
        let mut d = desired(vec![e("svc", "keep", json!({}))]);
        d.kinds.insert(
            "build".into(),
            KindBlueprints::Known(["build".to_owned()].into()),
        );
        let mut have = owned(3, "build");
        have.push(e("svc", "keep", json!({})));
        have.push(e("gone", "x", json!({})));
        let all = Guards {
            deletion_threshold: 1.0,
            ..Guards::default()
        };
        let p = plan(d.clone(), have.clone(), &all);
        // `gone` is written by no resource any more: it may go; `build` may not be emptied.
        assert_eq!(p.deletes.len(), 1, "{:?}", p.deletes);
        assert_eq!(p.deletes[0].blueprint, "gone");
        let held = &p.blocked[0];
        assert_eq!(held.reason, BlockReason::EmptiesBlueprint);
        assert_eq!(held.entities.len(), 3);
        assert!(
            held.message.contains("--allow-empty-kind build"),
            "{}",
            held.message
        );

        let allowed = Guards {
            allow_empty: ["build".to_owned()].into(),
            ..all
        };
        assert_eq!(plan(d, have, &allowed).deletes.len(), 4);
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
