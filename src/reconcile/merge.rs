//! The plan as a merge: desired entities in key order against the catalog's owned entities
//! in key order, so planning holds a window of each side, never both whole.
//!
//! [`MergePlanner`] makes the same [`Plan`] as [`Planner`](super::Planner) (a property test
//! holds them equal), with the memory of neither side: the desired side comes from a
//! [`SortedEntities`] (spilled to disk past a size), the owned side is observed one entity
//! at a time in key order, an unchanged pair is counted and dropped, and creates and
//! updates go to [`Entries`](crate::spill::Entries) lists that move to a temporary file
//! past a size. What stays in memory grows only with the delete candidates and the
//! per-blueprint counts. The catalog's blueprints are planned by the same code as
//! [`Planner`](super::Planner)'s (`plan::Shape`).
//!
//! The relation-target guard needs what desired relations name; rather than hold that for
//! every desired entity, the planner reads the sorted entities a second time at the end,
//! keeping only the names of the delete candidates (usually none).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::iter::Peekable;

use serde_json::Value;

use super::diff::diff;
use super::guard::{Related, guard};
use super::plan::{
    Counts, Desired, Duplicate, Guards, IncompleteKind, KindBlueprints, Plan, Planned,
    RelationTargets, Shape, Targets, Update, assemble,
};
use super::sort::{Folded, SortedEntities};
use crate::catalog::WriteOptions;
use crate::entity::{Entity, EntityKey};
use crate::spill::{self, EntriesWriter};

/// Errors making a merged plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A planned list could not be kept in its temporary file.
    #[error("could not keep the plan in a temporary file")]
    Spill(#[from] spill::Error),
    /// The sorted desired entities could not be read back from their temporary file.
    #[error("could not read the mapped entities back from their temporary file: {0}")]
    ReadBack(String),
    /// The catalog listed its entities out of key order: a merge would misread them.
    #[error("the catalog listed {after} after {before}, out of key order; nothing was planned")]
    OutOfOrder {
        /// The key listed first.
        before: EntityKey,
        /// The key listed after it.
        after: EntityKey,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The planner fed the catalog's owned entities in key order; see the module docs.
pub struct MergePlanner<'a> {
    sorted: &'a SortedEntities,
    desired: Peekable<Folded<'a>>,
    guards: Guards,
    incomplete: Vec<IncompleteKind>,
    options: WriteOptions,
    revision: Option<String>,
    relation_targets: RelationTargets,
    kinds: BTreeMap<String, KindBlueprints>,
    shape: Shape,
    /// The blueprints of the desired entities read so far.
    written: BTreeSet<String>,
    duplicates: Vec<Duplicate>,
    creates: EntriesWriter<Entity>,
    updates: EntriesWriter<Update>,
    candidates: Vec<Entity>,
    owned_by_blueprint: HashMap<String, usize>,
    owned: usize,
    unchanged: usize,
    last: Option<EntityKey>,
}

impl std::fmt::Debug for MergePlanner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergePlanner")
            .field("owned", &self.owned)
            .field("unchanged", &self.unchanged)
            .field("creates", &self.creates.len())
            .field("updates", &self.updates.len())
            .finish_non_exhaustive()
    }
}

impl<'a> MergePlanner<'a> {
    /// Starts a plan of `sorted` (the entities of `desired`, whose own `entities` are not
    /// read) that keeps up to `memory_entries` creates and updates in memory. Blueprints
    /// are not planned (the catalog's are not known): [`MergePlanner::against`] plans them.
    pub fn new(
        desired: Desired,
        sorted: &'a SortedEntities,
        guards: &Guards,
        memory_entries: usize,
    ) -> Self {
        Self::start(desired, None, sorted, guards, memory_entries)
    }

    /// [`MergePlanner::new`] against a catalog holding `catalog_blueprints`, as
    /// [`Planner::against`](super::Planner::against): the declared blueprints are planned
    /// against these, and each relation's target blueprint is taken from the declared
    /// blueprints, else from these.
    pub fn against(
        desired: Desired,
        catalog_blueprints: Vec<Value>,
        sorted: &'a SortedEntities,
        guards: &Guards,
        memory_entries: usize,
    ) -> Self {
        Self::start(
            desired,
            Some(catalog_blueprints),
            sorted,
            guards,
            memory_entries,
        )
    }

    fn start(
        desired: Desired,
        catalog_blueprints: Option<Vec<Value>>,
        sorted: &'a SortedEntities,
        guards: &Guards,
        memory_entries: usize,
    ) -> Self {
        let Desired {
            entities: _,
            incomplete,
            options,
            revision,
            relation_targets: declared_targets,
            kinds,
            blueprints: declared,
            declared_ever,
            searched: _,
        } = desired;
        let shape = Shape {
            declared,
            declared_ever,
            catalog: catalog_blueprints,
        };
        let relation_targets = shape.relation_targets(declared_targets);
        MergePlanner {
            sorted,
            desired: sorted.folded(options.merge).peekable(),
            guards: guards.clone(),
            incomplete,
            options,
            revision,
            relation_targets,
            kinds,
            shape,
            written: BTreeSet::new(),
            duplicates: Vec::new(),
            creates: EntriesWriter::with_limit(memory_entries),
            updates: EntriesWriter::with_limit(memory_entries),
            candidates: Vec::new(),
            owned_by_blueprint: HashMap::new(),
            owned: 0,
            unchanged: 0,
            last: None,
        }
    }

    /// Compares one owned entity; owned entities must come in key order. A key listed twice
    /// in a row counts once.
    pub fn observe(&mut self, stored: Entity) -> Result<()> {
        if let Some(last) = &self.last {
            match (last.blueprint.as_str(), last.identifier.as_str())
                .cmp(&(stored.blueprint.as_str(), stored.identifier.as_str()))
            {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(()),
                std::cmp::Ordering::Greater => {
                    return Err(Error::OutOfOrder {
                        before: last.clone(),
                        after: stored.key(),
                    });
                }
            }
        }
        self.last = Some(stored.key());
        // Desired entities before this key are not in the catalog: creates.
        while let Some((next, _)) = self.desired.peek() {
            if (next.blueprint.as_str(), next.identifier.as_str())
                >= (stored.blueprint.as_str(), stored.identifier.as_str())
            {
                break;
            }
            self.create_next()?;
        }
        self.count_owned(&stored.blueprint);
        let matches = self.desired.peek().is_some_and(|(next, _)| {
            next.blueprint == stored.blueprint && next.identifier == stored.identifier
        });
        if !matches {
            self.candidates.push(stored);
            return Ok(());
        }
        let Some((entity, count)) = self.desired.next() else {
            return Ok(());
        };
        self.note_desired(&entity, count);
        let changes = diff(&entity, &stored, self.options.merge);
        if changes.is_empty() {
            self.unchanged += 1;
        } else {
            self.updates.push(Update { entity, changes })?;
        }
        Ok(())
    }

    fn create_next(&mut self) -> Result<()> {
        if let Some((entity, count)) = self.desired.next() {
            self.note_desired(&entity, count);
            self.creates.push(entity)?;
        }
        Ok(())
    }

    /// Notes a desired entity read: its blueprint is written, and `count` produced it.
    fn note_desired(&mut self, entity: &Entity, count: usize) {
        // Entities come in key order: a blueprint's arrive together.
        if self.written.last() != Some(&entity.blueprint) {
            self.written.insert(entity.blueprint.clone());
        }
        if count > 1 {
            self.duplicates.push(Duplicate {
                key: entity.key(),
                count,
            });
        }
    }

    fn count_owned(&mut self, blueprint: &str) {
        self.owned += 1;
        match self.owned_by_blueprint.get_mut(blueprint) {
            Some(n) => *n += 1,
            None => {
                self.owned_by_blueprint.insert(blueprint.to_owned(), 1);
            }
        }
    }

    /// Ends the listing: the desired entities not seen are created, the owned ones not
    /// desired are delete candidates, and the guards decide which candidates go.
    pub fn finish(mut self) -> Result<Plan> {
        while self.desired.peek().is_some() {
            self.create_next()?;
        }
        if let Some(why) = self.sorted.read_error() {
            return Err(Error::ReadBack(why.to_owned()));
        }
        let MergePlanner {
            sorted,
            desired: _,
            guards,
            incomplete,
            options,
            revision,
            relation_targets,
            kinds,
            shape,
            written,
            duplicates,
            creates,
            updates,
            candidates,
            owned_by_blueprint,
            owned,
            unchanged,
            last: _,
        } = self;
        let targets = if options.create_missing_related_entities && !candidates.is_empty() {
            let named: HashSet<&str> = candidates.iter().map(|e| e.identifier.as_str()).collect();
            let folded = sorted.folded(options.merge).map(|(e, _)| e);
            let targets = Targets::of_only(folded, &relation_targets, |id| named.contains(id));
            if let Some(why) = sorted.read_error() {
                return Err(Error::ReadBack(why.to_owned()));
            }
            Some(targets)
        } else {
            None
        };
        let (deletes, blocked) = guard(
            candidates,
            &Counts {
                owned,
                by_blueprint: &owned_by_blueprint,
            },
            &incomplete,
            Related {
                desired: targets,
                schemas: &relation_targets,
            },
            &kinds,
            &guards,
            false,
        );
        let blueprints = shape.plan(
            &written,
            &owned_by_blueprint,
            &deletes,
            &incomplete,
            &guards,
        );
        Ok(assemble(Planned {
            revision,
            options,
            creates: creates.finish()?,
            updates: updates.finish()?,
            deletes,
            blocked,
            unchanged,
            duplicates,
            blueprints,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::plan::{Confined, OrgField, OrgNames, OrgProperty, Planner, plan};
    use crate::reconcile::sort::KeySorter;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    fn arb_entity() -> impl Strategy<Value = Entity> {
        (
            prop::sample::select(vec!["a", "b", "c"]),
            0u8..10,
            prop::option::of(0u8..3),
            prop::collection::btree_map(
                prop::sample::select(vec!["x", "y"]),
                prop::option::of(0i64..3),
                0..3,
            ),
            prop::option::of((prop::sample::select(vec!["up", "to"]), 0u8..10)),
            prop::option::of(prop::sample::select(vec!["https://one", "https://two"])),
        )
            .prop_map(|(bp, id, title, props, rel, org)| {
                let mut e = Entity::new(format!("e{id}"), bp);
                e.title = title.map(|t| json!(format!("t{t}")));
                e.properties = props
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.map_or(Value::Null, Value::from)))
                    .collect();
                if let Some((name, to)) = rel {
                    e.relations.insert(name.to_owned(), json!(format!("e{to}")));
                }
                if let Some(org) = org {
                    e.properties.insert("org".into(), json!(org));
                }
                e
            })
    }

    fn org(url: &str) -> OrgNames {
        OrgNames {
            url: url.into(),
            name: url.trim_start_matches("https://").into(),
        }
    }

    fn arb_guards() -> impl Strategy<Value = Guards> {
        (
            any::<bool>(),
            prop::sample::select(vec![0.0, 0.5, 0.9, 1.0]),
            prop::option::of(0usize..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(prune, threshold, max_deletes, allow, prune_blueprints)| Guards {
                    prune,
                    deletion_threshold: threshold,
                    max_deletes,
                    allow_empty: if allow {
                        BTreeSet::from(["*".to_owned()])
                    } else {
                        BTreeSet::new()
                    },
                    adopt: false,
                    prune_blueprints,
                },
            )
    }

    fn arb_incomplete() -> impl Strategy<Value = Vec<IncompleteKind>> {
        prop::sample::subsequence(
            vec![
                IncompleteKind {
                    kind: "k1".into(),
                    reason: "failed".into(),
                    blueprints: KindBlueprints::Known(["a".to_owned()].into()),
                    confined: None,
                },
                IncompleteKind {
                    kind: "k2".into(),
                    reason: "failed".into(),
                    blueprints: KindBlueprints::Unknown,
                    confined: None,
                },
                // Several organizations, one incomplete: b's entities of the whole one go.
                IncompleteKind {
                    kind: "k3".into(),
                    reason: "https://two: failed".into(),
                    blueprints: KindBlueprints::Known(["b".to_owned(), "c".to_owned()].into()),
                    confined: Some(Confined {
                        incomplete: vec![org("https://two")],
                        complete: vec![org("https://one")],
                        attribution: [(
                            "b".to_owned(),
                            vec![OrgProperty {
                                property: "org".into(),
                                field: OrgField::Url,
                            }],
                        )]
                        .into(),
                    }),
                },
            ],
            0..=3,
        )
    }

    /// A catalog's blueprints and the config repository's: some of each, the same or not.
    fn arb_shape() -> impl Strategy<Value = (Option<Vec<Value>>, BTreeMap<String, Value>)> {
        let doc = |id: &str, title: &str, target: Option<&str>| {
            let mut d = json!({"identifier": id, "title": title, "schema": {"properties": {}}});
            if let Some(t) = target {
                d["relations"] = json!({"up": {"target": t, "many": false, "required": false}});
            }
            d
        };
        let catalog = vec![
            doc("a", "A", Some("b")),
            doc("b", "B", None),
            doc("old", "Old", None),
            doc("gone", "Gone", Some("old")),
        ];
        let declared = vec![
            doc("a", "A", Some("b")),
            doc("b", "B again", Some("c")),
            doc("c", "C", None),
        ];
        (
            prop::option::of(prop::sample::subsequence(catalog, 0..=4)),
            prop::sample::subsequence(declared, 0..=3),
        )
            .prop_map(|(catalog, declared)| {
                let declared = declared
                    .into_iter()
                    .map(|d| (d["identifier"].as_str().unwrap_or("").to_owned(), d))
                    .collect();
                (catalog, declared)
            })
    }

    /// Feeds `actual` to an in-memory planner, against `catalog_blueprints` when given.
    fn in_memory(
        desired: Desired,
        catalog_blueprints: Option<Vec<Value>>,
        actual: Vec<Entity>,
        guards: &Guards,
    ) -> Plan {
        let Some(catalog_blueprints) = catalog_blueprints else {
            return plan(desired, actual, guards);
        };
        let mut planner = Planner::against(desired, catalog_blueprints, guards);
        for e in actual {
            planner.observe(e);
        }
        planner.finish()
    }

    /// Feeds `actual` in key order to a merge planner over `entities`, against
    /// `catalog_blueprints` when given.
    fn merged(
        desired: Desired,
        catalog_blueprints: Option<Vec<Value>>,
        entities: Vec<Entity>,
        actual: &[Entity],
        guards: &Guards,
        run_bytes: usize,
        memory_entries: usize,
    ) -> Plan {
        let mut sorter = KeySorter::with_run_bytes(run_bytes);
        // Two "resources": the first half, then the second, as the mapping hands them over.
        let half = entities.len() / 2;
        let mut entities = entities;
        let second = entities.split_off(half);
        sorter.push(0, entities).unwrap();
        sorter.push(1, second).unwrap();
        let sorted = sorter.finish();
        let mut owned = actual.to_vec();
        owned.sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
        let mut planner = match catalog_blueprints {
            Some(bps) => MergePlanner::against(desired, bps, &sorted, guards, memory_entries),
            None => MergePlanner::new(desired, &sorted, guards, memory_entries),
        };
        for e in owned {
            planner.observe(e).unwrap();
        }
        planner.finish().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Issue 11: the streaming plan (sorted desired, merged with the listing in key
        /// order, lists spilled to temporary files) equals the in-memory plan, the
        /// catalog's blueprints and the per-organization guard included.
        #[test]
        fn the_merged_plan_equals_the_in_memory_plan(
            want in prop::collection::vec(arb_entity(), 0..24),
            have in prop::collection::vec(arb_entity(), 0..24),
            merge in any::<bool>(),
            related in any::<bool>(),
            schemas in any::<bool>(),
            guards in arb_guards(),
            incomplete in arb_incomplete(),
            run_bytes in prop::sample::select(vec![1usize, 600, usize::MAX]),
            memory_entries in prop::sample::select(vec![0usize, 2, usize::MAX]),
            (catalog_blueprints, declared) in arb_shape(),
            history in any::<bool>(),
        ) {
            let mut by_key = std::collections::BTreeMap::new();
            for e in have {
                by_key.insert(e.key(), e);
            }
            let mut actual: Vec<Entity> = by_key.into_values().collect();
            actual.reverse();
            let relation_targets = if schemas {
                RelationTargets::from_blueprints(&[
                    json!({"identifier": "a", "relations": {"up": {"target": "b"}}}),
                    json!({"identifier": "b", "relations": {"to": {"target": "c"}}}),
                ])
            } else {
                RelationTargets::default()
            };
            let desired = Desired {
                entities: want.clone(),
                incomplete,
                options: WriteOptions {
                    merge,
                    create_missing_related_entities: related,
                    delete_dependents: true,
                },
                revision: Some("r".into()),
                relation_targets,
                kinds: [
                    ("k1".to_owned(), KindBlueprints::Known(["a".to_owned()].into())),
                    ("k3".to_owned(), KindBlueprints::Known(["b".to_owned(), "c".to_owned()].into())),
                ]
                .into(),
                blueprints: declared,
                declared_ever: history.then(|| {
                    ["a", "b", "c", "old", "gone"].map(str::to_owned).into()
                }),
                searched: Vec::new(),
            };
            let expected =
                in_memory(desired.clone(), catalog_blueprints.clone(), actual.clone(), &guards);
            let got = merged(
                desired,
                catalog_blueprints,
                want,
                &actual,
                &guards,
                run_bytes,
                memory_entries,
            );
            prop_assert_eq!(got.creates.is_spilled(), memory_entries < got.creates.len());
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_listing_out_of_key_order_is_refused_not_misread() {
        let sorted = SortedEntities::from_vec(vec![Entity::new("1", "a")]);
        let mut planner = MergePlanner::new(Desired::default(), &sorted, &Guards::default(), 0);
        planner.observe(Entity::new("2", "b")).unwrap();
        let err = planner.observe(Entity::new("1", "a")).unwrap_err();
        assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
    }
}
