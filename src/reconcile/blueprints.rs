//! Planning the catalog's shape: the config repository's blueprints against the catalog's.
//!
//! Pure, like the entity planner. A declared blueprint the catalog lacks is created; one it
//! holds is updated when applying the declared document changes a field
//! ([`crate::blueprint::merge`]), the plan listing each field's before and after.
//!
//! **Order.** Creates are ordered so that a blueprint comes after every blueprint it relates
//! to (relations and aggregation properties). Blueprints that relate to each other in a
//! cycle cannot be ordered: each is created without what names other blueprints
//! ([`crate::blueprint::bare`]), and its relations are set by an update once all of them
//! exist. Every blueprint write comes before any entity write.
//!
//! **Deletes**, the conservative rules (`--prune-blueprints` only):
//! 1. only a blueprint the config repository once declared (in its git history) and
//!    declares no more is a candidate: a blueprint someone made in Port's UI, Port's own
//!    system blueprints, another integration's blueprints are never touched. Without a git
//!    history to read, nothing is a candidate, and the plan says why;
//! 2. a candidate the mapping still writes entities of is kept;
//! 3. a candidate that keeps entities of this datasource after the plan's deletes (deletes
//!    held back by a guard, or a kind no longer mapped) is kept;
//! 4. a candidate that a blueprint staying in the catalog relates to is kept (and so on, to
//!    a fixed point);
//! 5. with any kind incomplete this run, every candidate is kept (what it would have
//!    listed is unknown);
//! 6. the catalog itself refuses to delete a blueprint while any entity of it remains,
//!    another writer's included: a blueprint delete never takes entities with it.
//!
//! Deletes run after every entity delete, dependents first. Without `--prune-blueprints`,
//! an entry the config dropped from a declared section (a property removed from the JSON)
//! is listed as kept; with it, the entry is removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::order::tarjan;
use crate::blueprint::{self, FieldChange};

/// What `apply` does to the catalog's blueprints, before (creates, updates) and after
/// (deletes) the entities.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintPlan {
    /// Blueprints to create, in the order they are created.
    pub creates: Vec<BlueprintCreate>,
    /// Blueprints to update, by identifier.
    pub updates: Vec<BlueprintUpdate>,
    /// Blueprints to delete, in the order they are deleted (dependents first).
    pub deletes: Vec<String>,
    /// Delete candidates a rule kept, by identifier.
    pub blocked: Vec<BlockedBlueprint>,
    /// Entries the config no longer declares that stay, because pruning is off.
    pub kept: Vec<KeptFields>,
    /// Declared blueprints the catalog already holds as declared.
    pub unchanged: usize,
    /// Blueprints created without their relations because they relate to each other in a
    /// cycle (sorted identifiers per cycle).
    pub cycles: Vec<Vec<String>>,
    /// What the plan could not do or check, for people (a relation to a blueprint that
    /// exists nowhere, pruning without a history to read).
    pub warnings: Vec<String>,
}

impl BlueprintPlan {
    /// Whether `apply` would write or delete any blueprint.
    pub fn has_changes(&self) -> bool {
        !(self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty())
    }
}

/// One blueprint to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintCreate {
    /// The blueprint.
    pub identifier: String,
    /// The document, as declared.
    pub document: Value,
    /// Created without what names other blueprints, which an update sets once every
    /// blueprint of its relation cycle exists.
    pub relations_after: bool,
}

/// One blueprint to update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintUpdate {
    /// The blueprint.
    pub identifier: String,
    /// The whole document written (Port replaces a blueprint whole).
    pub document: Value,
    /// The fields that change, by path.
    pub changes: Vec<FieldChange>,
}

/// A blueprint delete a rule held back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedBlueprint {
    /// The blueprint.
    pub identifier: String,
    /// Why it stays, for people.
    pub message: String,
}

/// Entries of a declared blueprint kept although the config no longer declares them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptFields {
    /// The blueprint.
    pub identifier: String,
    /// The fields, by path (`schema.properties.legacy`).
    pub fields: Vec<String>,
}

/// What the blueprint plan is made from.
pub(crate) struct Inputs<'a> {
    /// The config repository's blueprints, by identifier.
    pub(crate) declared: &'a BTreeMap<String, Value>,
    /// The catalog's blueprints.
    pub(crate) catalog: &'a [Value],
    /// `--prune-blueprints`.
    pub(crate) prune: bool,
    /// The blueprints the config repository's history declared (`None`: unknown).
    pub(crate) declared_ever: Option<&'a BTreeSet<String>>,
    /// Blueprints the mapping writes entities of.
    pub(crate) written: &'a BTreeSet<String>,
    /// Owned entities each blueprint keeps after the plan's deletes.
    pub(crate) remaining: &'a HashMap<String, usize>,
    /// Why no blueprint may be deleted this run, when one holds (an incomplete kind).
    pub(crate) hold: Option<String>,
}

/// Plans the blueprints (see the module docs).
pub(crate) fn plan(inputs: &Inputs<'_>) -> BlueprintPlan {
    let catalog: BTreeMap<&str, &Value> = inputs
        .catalog
        .iter()
        .filter_map(|d| Some((blueprint::identifier(d)?, d)))
        .collect();
    let mut out = BlueprintPlan::default();
    let mut to_create: BTreeMap<&str, &Value> = BTreeMap::new();
    for (id, doc) in inputs.declared {
        match catalog.get(id.as_str()) {
            None => {
                to_create.insert(id, doc);
            }
            Some(actual) => {
                let merged = blueprint::merge(actual, doc, inputs.prune);
                if !merged.kept.is_empty() {
                    out.kept.push(KeptFields {
                        identifier: id.clone(),
                        fields: merged.kept,
                    });
                }
                if merged.changes.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.updates.push(BlueprintUpdate {
                        identifier: id.clone(),
                        document: merged.document,
                        changes: merged.changes,
                    });
                }
            }
        }
    }
    for (id, doc) in inputs.declared {
        for target in blueprint::depends_on(doc) {
            if !inputs.declared.contains_key(&target) && !catalog.contains_key(target.as_str()) {
                out.warnings.push(format!(
                    "blueprint {id} relates to blueprint {target}, which is neither among the \
                     config repository's blueprints nor in the catalog: Port refuses it until \
                     {target} exists (add {target}'s JSON to blueprints/)"
                ));
            }
        }
    }
    order_creates(&to_create, &mut out);
    if inputs.prune {
        plan_deletes(inputs, &catalog, &mut out);
    }
    out
}

/// Fills `creates` in relation order, cycle members marked `relations_after`.
fn order_creates(to_create: &BTreeMap<&str, &Value>, out: &mut BlueprintPlan) {
    let deps: BTreeMap<&str, BTreeSet<String>> = to_create
        .iter()
        .map(|(id, doc)| (*id, blueprint::depends_on(doc)))
        .collect();
    let graph: BTreeMap<&str, BTreeSet<&str>> = deps
        .iter()
        .map(|(id, targets)| {
            let within = targets
                .iter()
                .filter_map(|t| to_create.get_key_value(t.as_str()).map(|(k, _)| *k))
                .collect();
            (*id, within)
        })
        .collect();
    for scc in tarjan(&graph) {
        let cycle = scc.len() > 1;
        if cycle {
            out.cycles
                .push(scc.iter().map(|s| (*s).to_owned()).collect());
        }
        for id in scc {
            let document = to_create[id].clone();
            out.creates.push(BlueprintCreate {
                identifier: id.to_owned(),
                relations_after: cycle && blueprint::refers_to_others(&document),
                document,
            });
        }
    }
}

/// Fills `deletes` and `blocked` (rules 1–5 of the module docs).
fn plan_deletes(inputs: &Inputs<'_>, catalog: &BTreeMap<&str, &Value>, out: &mut BlueprintPlan) {
    let Some(ever) = inputs.declared_ever else {
        out.warnings.push(
            "--prune-blueprints: the config is not read from a git repository, so which \
             blueprints it once declared cannot be known: no blueprint is deleted (run from a \
             git checkout, or give --config git:PATH@REV)"
                .to_owned(),
        );
        return;
    };
    let mut candidates: BTreeSet<&str> = catalog
        .keys()
        .copied()
        .filter(|id| ever.contains(*id) && !inputs.declared.contains_key(*id))
        .collect();
    let mut blocked: BTreeMap<&str, String> = BTreeMap::new();
    for id in &candidates {
        if let Some(why) = &inputs.hold {
            blocked.insert(id, why.clone());
        } else if inputs.written.contains(*id) {
            blocked.insert(
                id,
                "the mapping still writes entities of it: remove those resources first".into(),
            );
        } else if let Some(n) = inputs.remaining.get(*id).filter(|n| **n > 0) {
            blocked.insert(
                id,
                format!(
                    "{n} entities of this datasource remain after this run's deletes; it is \
                     deleted once they are gone"
                ),
            );
        }
    }
    candidates.retain(|id| !blocked.contains_key(id));
    // A blueprint that stays keeps every candidate it relates to, to a fixed point.
    loop {
        let staying_refs: Vec<(&str, &str)> = catalog
            .iter()
            .filter(|(id, _)| !candidates.contains(*id))
            .flat_map(|(id, doc)| {
                let deps = blueprint::depends_on(doc);
                candidates
                    .iter()
                    .filter(move |c| deps.contains(**c))
                    .map(move |c| (*c, *id))
                    .collect::<Vec<_>>()
            })
            .collect();
        if staying_refs.is_empty() {
            break;
        }
        for (candidate, by) in staying_refs {
            candidates.remove(candidate);
            blocked
                .entry(candidate)
                .or_insert_with(|| format!("blueprint {by}, which stays, relates to it"));
        }
    }
    // Dependents first: tarjan emits targets first, so the order is reversed.
    let graph: BTreeMap<&str, BTreeSet<&str>> = candidates
        .iter()
        .map(|id| {
            let deps = blueprint::depends_on(catalog[id]);
            let within = candidates
                .iter()
                .copied()
                .filter(|c| deps.contains(*c))
                .collect();
            (*id, within)
        })
        .collect();
    out.deletes = tarjan(&graph)
        .into_iter()
        .rev()
        .flatten()
        .map(str::to_owned)
        .collect();
    out.blocked = blocked
        .into_iter()
        .map(|(id, message)| BlockedBlueprint {
            identifier: id.to_owned(),
            message,
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bp(id: &str, targets: &[&str]) -> Value {
        let relations: serde_json::Map<String, Value> = targets
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    json!({"target": t, "many": false, "required": false}),
                )
            })
            .collect();
        json!({"identifier": id, "title": id, "schema": {"properties": {}}, "relations": relations})
    }

    fn declared(docs: &[Value]) -> BTreeMap<String, Value> {
        docs.iter()
            .map(|d| (blueprint::identifier(d).unwrap().to_owned(), d.clone()))
            .collect()
    }

    fn run(
        declared: &BTreeMap<String, Value>,
        catalog: &[Value],
        prune: bool,
        ever: &[&str],
    ) -> BlueprintPlan {
        let ever: BTreeSet<String> = ever.iter().map(|s| (*s).to_owned()).collect();
        plan(&Inputs {
            declared,
            catalog,
            prune,
            declared_ever: Some(&ever),
            written: &BTreeSet::new(),
            remaining: &HashMap::new(),
            hold: None,
        })
    }

    #[test]
    fn targets_are_created_before_the_blueprints_relating_to_them() {
        let d = declared(&[
            bp("workItem", &["repo", "project"]),
            bp("repo", &["project"]),
            bp("project", &[]),
        ]);
        let p = run(&d, &[], false, &[]);
        let order: Vec<&str> = p.creates.iter().map(|c| c.identifier.as_str()).collect();
        assert_eq!(order, ["project", "repo", "workItem"]);
        assert!(p.creates.iter().all(|c| !c.relations_after));
    }

    #[test]
    fn a_cycle_is_created_bare_then_completed() {
        let d = declared(&[bp("a", &["b"]), bp("b", &["a"]), bp("c", &["a"])]);
        let p = run(&d, &[], false, &[]);
        let order: Vec<(&str, bool)> = p
            .creates
            .iter()
            .map(|c| (c.identifier.as_str(), c.relations_after))
            .collect();
        assert_eq!(order, [("a", true), ("b", true), ("c", false)]);
        assert_eq!(p.cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
    }

    #[test]
    fn only_blueprints_once_declared_are_deleted_and_only_when_pruning() {
        let catalog = [
            bp("kept", &[]),
            bp("gone", &[]),
            bp("_user", &[]),
            bp("theirs", &[]),
        ];
        let d = declared(&[bp("kept", &[])]);
        assert!(
            run(&d, &catalog, false, &["kept", "gone"])
                .deletes
                .is_empty()
        );
        let p = run(&d, &catalog, true, &["kept", "gone"]);
        assert_eq!(p.deletes, ["gone"]);
        assert_eq!(p.unchanged, 1);
    }

    #[test]
    fn a_blueprint_a_staying_one_relates_to_is_kept() {
        let catalog = [
            bp("service", &["team"]),
            bp("team", &[]),
            bp("old", &["team"]),
        ];
        let p = run(
            &declared(&[bp("service", &["team"])]),
            &catalog,
            true,
            &["service", "team", "old"],
        );
        assert_eq!(p.deletes, ["old"]);
        assert_eq!(p.blocked.len(), 1);
        assert!(p.blocked[0].message.contains("service"), "{:?}", p.blocked);
    }

    #[test]
    fn dependents_are_deleted_before_their_targets() {
        let catalog = [bp("a", &["b"]), bp("b", &["c"]), bp("c", &[])];
        let p = run(&BTreeMap::new(), &catalog, true, &["a", "b", "c"]);
        assert_eq!(p.deletes, ["a", "b", "c"]);
    }

    #[test]
    fn without_a_history_nothing_is_deleted_and_the_plan_says_why() {
        let catalog = [bp("gone", &[])];
        let p = plan(&Inputs {
            declared: &BTreeMap::new(),
            catalog: &catalog,
            prune: true,
            declared_ever: None,
            written: &BTreeSet::new(),
            remaining: &HashMap::new(),
            hold: None,
        });
        assert!(p.deletes.is_empty());
        assert!(p.warnings[0].contains("git"), "{:?}", p.warnings);
    }
}
