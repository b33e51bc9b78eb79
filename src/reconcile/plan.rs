//! The planner: desired entities against the catalog's owned entities, into a [`Plan`].
//!
//! Pure and synchronous: no I/O, no clock, no runtime, so the same inputs always give the
//! same plan (STYLE.md rule 3). Level-triggered: it never learns why it runs (rule 4). The
//! pruning guards live here, because a delete the plan does not list cannot happen (rule 5).
//!
//! Comparison rules, chosen so that a converged catalog plans empty against Port as well as
//! against SQLite:
//! - only fields the desired entity maps are compared (`None` = not managed), except that
//!   with `enableMergeEntity: false` a write replaces the entity, so stored non-null values
//!   the mapping no longer sets show as removals;
//! - `null` and absent are the same value (Port drops null keys on read, and so does its
//!   own diff in `_map_entities_compared_with_port`);
//! - numbers compare by value (`1` equals `1.0`);
//! - `team` compares as a set: `"a"`, `["a"]` and `null`/`[]` are normalised first.
//!
//! Guards, in order (each candidate is blocked by the first that applies):
//! 1. an incomplete kind whose blueprint cannot be known blocks every delete;
//! 2. an incomplete kind blocks the deletes of its blueprints;
//! 3. `prune: false` (`--no-prune`) blocks the rest;
//! 4. `entityDeletionThreshold`: with `rate = deletes / owned`, deletion proceeds only if
//!    `rate <= threshold` (Port's `delete_diff`, all or nothing), so `0` never deletes and
//!    `1` always may. `owned` is every entity `list_owned` returned; Port's denominator
//!    excludes entities written during the run, which a plan made before writing has none of;
//! 5. `max_deletes` (`--max-deletes N`): more than `N` deletes, none proceed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{WriteOptions, merge_entity};
use crate::port::{Entity, EntityKey};

/// What the mapping produced, and how far it can be trusted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// Mapped entities, in resource order then item order; a key may repeat.
    pub entities: Vec<Entity>,
    /// Kinds whose data is partial: a fetch failed or was cut short, or items failed.
    pub incomplete: Vec<IncompleteKind>,
    /// The mapping's top-level write flags (merge, related entities, dependents).
    pub options: WriteOptions,
    /// The mapping's revision (a git commit id), when known, carried into the plan.
    pub revision: Option<String>,
}

/// A kind whose listing is partial: none of its blueprints' entities may be deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncompleteKind {
    /// The ADO kind, as the mapping names it.
    pub kind: String,
    /// Why it is incomplete, for the plan's message.
    pub reason: String,
    /// The blueprints its resources map to.
    pub blueprints: KindBlueprints,
}

/// Which blueprints a kind's resources produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KindBlueprints {
    /// Every resource of the kind has a literal blueprint expression.
    Known(BTreeSet<String>),
    /// Some resource computes its blueprint per item: any blueprint may be affected.
    Unknown,
}

/// Pruning guards: when deletes proceed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guards {
    /// `false` (`--no-prune`): deletes are listed as blocked, never applied.
    pub prune: bool,
    /// `entityDeletionThreshold`, 0 to 1: the largest share of owned entities one run deletes.
    pub deletion_threshold: f64,
    /// `--max-deletes N`: the most deletes one run makes.
    pub max_deletes: Option<usize>,
}

impl Default for Guards {
    /// Port's defaults: prune, threshold 0.9, no cap.
    fn default() -> Self {
        Guards {
            prune: true,
            deletion_threshold: 0.9,
            max_deletes: None,
        }
    }
}

/// What `apply` will do, and what it will not and why. Serde data: the renderers and the
/// JSON format (`docs/plan-json.md`) read it as is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The mapping's revision, when known.
    pub mapping_revision: Option<String>,
    /// The write flags `apply` sends.
    pub options: WriteOptions,
    /// Entities to create, as they will be written.
    pub creates: Vec<Entity>,
    /// Entities to update, each with its field diff.
    pub updates: Vec<Update>,
    /// Owned entities to delete, as the catalog holds them.
    pub deletes: Vec<Entity>,
    /// Delete candidates a guard held back, grouped by reason.
    pub blocked: Vec<BlockedDeletes>,
    /// Owned entities already as desired.
    pub unchanged: usize,
    /// Keys the mapping produced more than once (folded, last resource winning).
    pub duplicates: Vec<Duplicate>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// Whether `apply` would write or delete anything (blocked deletes are not changes).
    pub fn has_changes(&self) -> bool {
        !(self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty())
    }
}

/// Counts of a plan, for one-line summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Entities to create.
    pub create: usize,
    /// Entities to update.
    pub update: usize,
    /// Entities to delete.
    pub delete: usize,
    /// Deletes held back by a guard.
    pub blocked_delete: usize,
    /// Entities already as desired.
    pub unchanged: usize,
    /// Keys mapped more than once.
    pub duplicate: usize,
}

/// One entity to update: what will be written, and which fields change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Update {
    /// The entity as it will be written (only mapped fields).
    pub entity: Entity,
    /// The fields that differ, in order: title, icon, team, properties, relations (by key).
    pub changes: Vec<FieldChange>,
}

/// One field that differs. `null` stands for "absent" on either side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// Which field.
    #[serde(flatten)]
    pub field: Field,
    /// The catalog's value.
    pub before: Value,
    /// The value to be written.
    pub after: Value,
}

/// A field of an entity, as a diff names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "field", content = "key", rename_all = "camelCase")]
pub enum Field {
    /// The title.
    Title,
    /// The icon.
    Icon,
    /// The team(s).
    Team,
    /// A property, by key.
    Property(String),
    /// A relation, by key.
    Relation(String),
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Title => f.write_str("title"),
            Field::Icon => f.write_str("icon"),
            Field::Team => f.write_str("team"),
            Field::Property(k) => write!(f, "properties.{k}"),
            Field::Relation(k) => write!(f, "relations.{k}"),
        }
    }
}

/// Delete candidates held back for one reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedDeletes {
    /// Which guard.
    pub reason: BlockReason,
    /// A sentence saying why, for people.
    pub message: String,
    /// The entities not deleted, ordered by (blueprint, identifier).
    pub entities: Vec<EntityKey>,
}

/// The guard that held deletes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockReason {
    /// An incomplete kind with a computed blueprint: nothing is deleted.
    UnknownBlueprint,
    /// An incomplete kind maps to this blueprint.
    IncompleteKind,
    /// Pruning is off.
    NoPrune,
    /// The share of owned entities to delete exceeds `entityDeletionThreshold`.
    Threshold,
    /// The count exceeds `--max-deletes`.
    MaxDeletes,
}

/// A key the mapping produced more than once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Duplicate {
    /// The entity.
    pub key: EntityKey,
    /// How many times it was produced.
    pub count: usize,
}

/// Compares desired with the catalog's owned entities and applies the pruning guards.
///
/// Duplicated keys are folded in order, the last winning as Port's successive upserts would:
/// with merge on, field by field (earlier resources keep the fields later ones leave out);
/// with merge off, whole.
pub fn plan(desired: Desired, actual: Vec<Entity>, guards: &Guards) -> Plan {
    let Desired {
        entities,
        incomplete,
        options,
        revision,
    } = desired;
    let (wanted, duplicates) = fold_duplicates(entities, options.merge);

    let owned = actual.len();
    let mut actual_by_key: HashMap<EntityKey, Entity> =
        actual.into_iter().map(|e| (e.key(), e)).collect();

    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut unchanged = 0;
    for entity in wanted {
        match actual_by_key.remove(&entity.key()) {
            None => creates.push(entity),
            Some(stored) => {
                let changes = diff(&entity, &stored, options.merge);
                if changes.is_empty() {
                    unchanged += 1;
                } else {
                    updates.push(Update { entity, changes });
                }
            }
        }
    }
    creates.sort_by(key_cmp);
    updates.sort_by(|a, b| key_cmp(&a.entity, &b.entity));

    let mut candidates: Vec<Entity> = actual_by_key.into_values().collect();
    candidates.sort_by(key_cmp);
    let (deletes, blocked) = guard(candidates, owned, &incomplete, guards);

    let summary = Summary {
        create: creates.len(),
        update: updates.len(),
        delete: deletes.len(),
        blocked_delete: blocked.iter().map(|b| b.entities.len()).sum(),
        unchanged,
        duplicate: duplicates.len(),
    };
    Plan {
        mapping_revision: revision,
        options,
        creates,
        updates,
        deletes,
        blocked,
        unchanged,
        duplicates,
        summary,
    }
}

fn key_cmp(a: &Entity, b: &Entity) -> std::cmp::Ordering {
    (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier))
}

/// Folds repeated keys, keeping first-seen order; reports each repeated key once.
fn fold_duplicates(entities: Vec<Entity>, merge: bool) -> (Vec<Entity>, Vec<Duplicate>) {
    let mut index: HashMap<EntityKey, usize> = HashMap::with_capacity(entities.len());
    let mut out: Vec<Entity> = Vec::with_capacity(entities.len());
    let mut counts: BTreeMap<EntityKey, usize> = BTreeMap::new();
    for e in entities {
        let key = e.key();
        match index.get(&key) {
            Some(&i) => {
                *counts.entry(key).or_insert(1) += 1;
                if merge {
                    let earlier = std::mem::replace(&mut out[i], Entity::new("", ""));
                    out[i] = merge_entity(earlier, &e);
                } else {
                    out[i] = e;
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(e);
            }
        }
    }
    let duplicates = counts
        .into_iter()
        .map(|(key, count)| Duplicate { key, count })
        .collect();
    (out, duplicates)
}

/// Splits delete candidates into those that proceed and those a guard holds back.
fn guard(
    candidates: Vec<Entity>,
    owned: usize,
    incomplete: &[IncompleteKind],
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

/// The fields of `stored` that writing `desired` would change.
fn diff(desired: &Entity, stored: &Entity, merge: bool) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut scalar = |field: Field, want: &Option<Value>, have: &Option<Value>, team: bool| {
        let same = |a: Option<&Value>, b: Option<&Value>| {
            if team {
                team_set(a) == team_set(b)
            } else {
                same_value(a, b)
            }
        };
        match want {
            Some(w) if !same(Some(w), have.as_ref()) => changes.push(FieldChange {
                field,
                before: have.clone().unwrap_or(Value::Null),
                after: w.clone(),
            }),
            None if !merge && !same(None, have.as_ref()) => changes.push(FieldChange {
                field,
                before: have.clone().unwrap_or(Value::Null),
                after: Value::Null,
            }),
            _ => {}
        }
    };
    scalar(Field::Title, &desired.title, &stored.title, false);
    scalar(Field::Icon, &desired.icon, &stored.icon, false);
    scalar(Field::Team, &desired.team, &stored.team, true);
    diff_map(
        &desired.properties,
        &stored.properties,
        merge,
        Field::Property,
        &mut changes,
    );
    diff_map(
        &desired.relations,
        &stored.relations,
        merge,
        Field::Relation,
        &mut changes,
    );
    changes
}

fn diff_map(
    want: &Map<String, Value>,
    have: &Map<String, Value>,
    merge: bool,
    field: fn(String) -> Field,
    changes: &mut Vec<FieldChange>,
) {
    let mut keys: BTreeSet<&String> = want.keys().collect();
    if !merge {
        keys.extend(have.keys());
    }
    for k in keys {
        let (w, h) = (want.get(k), have.get(k));
        if !same_value(w, h) {
            changes.push(FieldChange {
                field: field(k.clone()),
                before: h.cloned().unwrap_or(Value::Null),
                after: w.cloned().unwrap_or(Value::Null),
            });
        }
    }
}

/// Equality where `null` equals absent and numbers compare by value.
fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        (Some(a), Some(b)) => json_eq(a, b),
        _ => false,
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `team` as a sorted list: `null`/absent → `[]`, `"a"` → `["a"]`.
fn team_set(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        Some(other) => vec![other.to_string()],
    };
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn creates_updates_deletes_and_unchanged_are_told_apart_in_key_order() {
        let want = vec![
            e("svc", "b", json!({"x": 2})),
            e("repo", "z", json!({})),
            e("svc", "a", json!({"x": 1})),
        ];
        let have = vec![
            e("svc", "a", json!({"x": 1, "other": 5})),
            e("svc", "b", json!({"x": 1})),
            e("svc", "c", json!({})),
            e("svc", "d", json!({})),
            e("svc", "e", json!({})),
        ];
        let p = plan(desired(want), have, &Guards::default());
        assert_eq!(
            p.creates
                .iter()
                .map(|e| e.identifier.as_str())
                .collect::<Vec<_>>(),
            ["z"]
        );
        assert_eq!(p.updates.len(), 1);
        assert_eq!(
            p.updates[0].changes,
            vec![FieldChange {
                field: Field::Property("x".into()),
                before: json!(1),
                after: json!(2)
            }]
        );
        assert_eq!(
            p.deletes
                .iter()
                .map(|e| e.identifier.as_str())
                .collect::<Vec<_>>(),
            ["c", "d", "e"]
        );
        assert_eq!(p.unchanged, 1);
        assert!(p.has_changes());
    }

    #[test]
    fn unmapped_fields_are_not_compared_but_replace_mode_shows_removals() {
        let mut want = e("svc", "a", json!({"x": 1}));
        want.title = None;
        let mut have = e("svc", "a", json!({"x": 1, "y": 2}));
        have.title = Some(json!("T"));
        have.icon = Some(Value::Null);
        let merged = plan(
            desired(vec![want.clone()]),
            vec![have.clone()],
            &Guards::default(),
        );
        assert!(!merged.has_changes());

        let mut d = desired(vec![want]);
        d.options.merge = false;
        let replaced = plan(d, vec![have], &Guards::default());
        let fields: Vec<String> = replaced.updates[0]
            .changes
            .iter()
            .map(|c| c.field.to_string())
            .collect();
        assert_eq!(fields, ["title", "properties.y"]);
    }

    #[test]
    fn null_equals_absent_numbers_compare_by_value_and_team_is_a_set() {
        let mut want = e("svc", "a", json!({"n": 1.0, "gone": null}));
        want.team = Some(json!(["b", "a"]));
        want.title = Some(Value::Null);
        let mut have = e("svc", "a", json!({"n": 1}));
        have.team = Some(json!(["a", "b"]));
        let p = plan(desired(vec![want]), vec![have], &Guards::default());
        assert_eq!(p.unchanged, 1, "{:?}", p.updates);

        let mut want = e("svc", "a", json!({}));
        want.team = Some(json!("a"));
        let mut have = e("svc", "a", json!({}));
        have.team = Some(json!(["a"]));
        assert!(!plan(desired(vec![want]), vec![have], &Guards::default()).has_changes());
    }

    #[test]
    fn duplicates_fold_with_the_last_resource_winning_and_are_reported() {
        let mut first = e("svc", "a", json!({"x": 1, "y": 1}));
        first.title = Some(json!("first"));
        let second = e("svc", "a", json!({"y": 2}));
        let p = plan(
            desired(vec![first.clone(), second.clone()]),
            vec![],
            &Guards::default(),
        );
        assert_eq!(p.creates.len(), 1);
        assert_eq!(
            p.creates[0].properties,
            *json!({"x": 1, "y": 2}).as_object().unwrap()
        );
        assert_eq!(p.creates[0].title, Some(json!("first")));
        assert_eq!(
            p.duplicates,
            vec![Duplicate {
                key: first.key(),
                count: 2
            }]
        );

        let mut d = desired(vec![first, second.clone()]);
        d.options.merge = false;
        assert_eq!(plan(d, vec![], &Guards::default()).creates, vec![second]);
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

    #[test]
    fn field_changes_serialise_with_a_field_and_a_key() {
        let c = FieldChange {
            field: Field::Property("a.b".into()),
            before: Value::Null,
            after: json!(1),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"field": "property", "key": "a.b", "before": null, "after": 1})
        );
        let t = FieldChange {
            field: Field::Title,
            before: json!("a"),
            after: json!("b"),
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"field": "title", "before": "a", "after": "b"})
        );
    }
}
