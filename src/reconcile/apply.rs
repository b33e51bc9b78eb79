//! Executing a plan against a catalog: ordering, batching, bounded concurrency, reporting.
//!
//! `apply` is the only code that writes. It never aborts: a refused entity or a failed batch
//! is counted and reported, and everything else is still written. Running a plan again after
//! a partial apply converges, because planning is level-triggered: whatever failed shows up
//! in the next plan.
//!
//! Order: the plan's blueprint creates and updates before anything else
//! (`apply_blueprints`), its blueprint deletes after everything else. Then upserts first (so an updated entity stops pointing at an entity about to go), then
//! entities identified by a search query (the catalog resolves each on write; what it
//! resolved to is not deleted in the same run), then deletes. Blueprints are ordered by the relations the entities actually carry (a relation
//! value that names an identifier present in the same write set is an edge): relation targets
//! are upserted before the entities that point at them, dependents deleted before their
//! targets. Blueprints that relate to each other in a cycle are written together, in one
//! step, and the cycle is reported. Within a step, batches (≤ 20 entities per upsert, ≤ 100
//! per delete, one blueprint each) run `concurrency` at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::apply_blueprints::{BlueprintFailure, BlueprintOperation};
use super::order::tarjan;
use super::plan::Plan;
use crate::catalog::{Catalog, EntityOutcome, RunRecord};
use crate::entity::{Entity, EntityKey};
use crate::search::SearchedEntity;

/// Entities per upsert call (Port's bulk limit).
pub const UPSERT_BATCH: usize = 20;
/// Identifiers per delete call (Port's bulk limit).
pub const DELETE_BATCH: usize = 100;

/// How `apply` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Batches in flight at once (at least 1). Port's integration runs 5; 4 leaves headroom
    /// for webhook-driven writes sharing the rate limit.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 4 }
    }
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// Entities created.
    pub created: usize,
    /// Entities updated.
    pub updated: usize,
    /// Entities deleted.
    pub deleted: usize,
    /// Entities whose write or delete failed (refused alone or with their batch).
    pub failed: usize,
    /// Deletes the plan's guards held back (not attempted).
    pub blocked_deletes: usize,
    /// The plan's deletes not attempted because a write of this run failed: a run that
    /// could not write what it wanted does not delete (Port's integration skips deletes
    /// after errors too). The next run, level-triggered, tries again.
    #[serde(default)]
    pub skipped_deletes: usize,
    /// Entities already as desired (not written).
    pub unchanged: usize,
    /// Catalog calls made.
    pub batches: usize,
    /// Catalog calls that failed as a whole.
    pub failed_batches: usize,
    /// Every failure, ordered by (operation, blueprint, identifier).
    pub failures: Vec<Failure>,
    /// Blueprints whose relations form a cycle; each group was written in one step.
    pub cycles: Vec<Vec<String>>,
    /// Why the run could not be recorded in the catalog's history, if it could not.
    pub history_error: Option<String>,
    /// Blueprints created.
    #[serde(default)]
    pub blueprints_created: usize,
    /// Blueprints updated.
    #[serde(default)]
    pub blueprints_updated: usize,
    /// Blueprints deleted.
    #[serde(default)]
    pub blueprints_deleted: usize,
    /// Every blueprint call that failed, in the order made.
    #[serde(default)]
    pub blueprint_failures: Vec<BlueprintFailure>,
    /// The plan's blueprint deletes not attempted because a write of this run failed.
    #[serde(default)]
    pub skipped_blueprint_deletes: usize,
    /// The plan's deletes not made because a search identifier of this run resolved to
    /// them: the entity was just written, so it is not stale.
    #[serde(default)]
    pub kept_by_search: usize,
}

impl ApplyReport {
    /// Whether everything the plan asked for was done.
    pub fn is_success(&self) -> bool {
        self.failed == 0
            && self.skipped_deletes == 0
            && self.blueprint_failures.is_empty()
            && self.skipped_blueprint_deletes == 0
    }
}

/// One entity that was not written or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// What was attempted.
    pub operation: Operation,
    /// The entity.
    pub key: EntityKey,
    /// The catalog's reason (for a whole-batch failure, the batch's error).
    pub message: String,
}

/// A catalog write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Create or update.
    Upsert,
    /// Delete.
    Delete,
}

impl Operation {
    /// The operation as a verb, for messages (`upsert`, `delete`).
    #[must_use]
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
        }
    }
}

/// Executes `plan` against `catalog`; never stops early. See the module docs for the order.
pub async fn apply(plan: &Plan, catalog: &dyn Catalog, options: ApplyOptions) -> ApplyReport {
    let mut report = ApplyReport {
        blocked_deletes: plan.summary.blocked_delete,
        unchanged: plan.unchanged,
        ..ApplyReport::default()
    };
    // The catalog's shape first: every blueprint an entity needs exists before it is sent.
    let not_created = super::apply_blueprints::write(&plan.blueprints, catalog, &mut report).await;
    let created: HashSet<EntityKey> = plan.creates.iter().map(Entity::key).collect();
    let (writes, unsendable): (Vec<&Entity>, Vec<&Entity>) = plan
        .creates
        .iter()
        .chain(plan.updates.iter().map(|u| &u.entity))
        .partition(|e| !not_created.contains(&e.blueprint));
    for e in unsendable {
        fail(
            &mut report,
            Operation::Upsert,
            e.key(),
            format!("not sent: blueprint {} could not be created", e.blueprint),
        );
    }
    let deletes: Vec<&Entity> = plan.deletes.iter().collect();
    let concurrency = options.concurrency.max(1);

    // Upserts: relation targets first (lowest step first).
    let (upsert_steps, cycles) = steps(&writes);
    report.cycles.extend(cycles);
    for step in upsert_steps {
        let batches = batches(&writes, &step, UPSERT_BATCH);
        let results = futures_util::stream::iter(batches)
            .map(|(bp, batch)| async move {
                let owned: Vec<Entity> = batch.iter().map(|e| (*e).clone()).collect();
                let result = catalog.upsert(&bp, &owned, plan.options).await;
                (batch.iter().map(|e| e.key()).collect::<Vec<_>>(), result)
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
        for (keys, result) in results {
            tally(&mut report, Operation::Upsert, keys, result, |r, key| {
                if created.contains(key) {
                    r.created += 1;
                } else {
                    r.updated += 1;
                }
            });
        }
    }

    // Entities identified by a search query, for the catalog to resolve on write: after
    // every other upsert, so what they point at exists.
    let resolved = write_searched(plan, catalog, concurrency, &mut report).await;

    // A run whose writes failed deletes nothing: what it failed to write may be what the
    // deletes' entities were to be replaced by, or point at.
    let writes_failed = report.failed > 0 || !report.blueprint_failures.is_empty();
    let deletes: Vec<&Entity> = if writes_failed && !deletes.is_empty() {
        report.skipped_deletes = deletes.len();
        tracing::warn!(
            deletes = deletes.len(),
            failed = report.failed,
            "writes failed, so this run's deletes are skipped"
        );
        Vec::new()
    } else {
        // An entity a search identifier resolved to was written by this run: it stays, as
        // Port's integration counts it among the entities it produced.
        let (kept, deletes): (Vec<&Entity>, Vec<&Entity>) = deletes
            .into_iter()
            .partition(|e| resolved.contains(&e.key()));
        report.kept_by_search = kept.len();
        deletes
    };

    // Deletes: dependents first (highest step first).
    let (delete_steps, cycles) = steps(&deletes);
    for c in cycles {
        if !report.cycles.contains(&c) {
            report.cycles.push(c);
        }
    }
    for step in delete_steps.into_iter().rev() {
        let batches = batches(&deletes, &step, DELETE_BATCH);
        let results = futures_util::stream::iter(batches)
            .map(|(bp, batch)| async move {
                let ids: Vec<String> = batch.iter().map(|e| e.identifier.clone()).collect();
                let result = catalog.delete(&bp, &ids, plan.options).await;
                (batch.iter().map(|e| e.key()).collect::<Vec<_>>(), result)
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
        for (keys, result) in results {
            tally(&mut report, Operation::Delete, keys, result, |r, _| {
                r.deleted += 1;
            });
        }
    }

    // Blueprints last, once their entities are gone.
    super::apply_blueprints::delete(&plan.blueprints, catalog, &mut report).await;

    report
        .failures
        .sort_by(|a, b| (a.operation, &a.key).cmp(&(b.operation, &b.key)));
    report.cycles.sort();

    let run = RunRecord {
        mapping_revision: plan.mapping_revision.clone(),
        created: report.created as u64,
        updated: report.updated as u64,
        deleted: report.deleted as u64,
        failed: report.failed as u64,
        blocked_deletes: (report.blocked_deletes + report.skipped_deletes) as u64,
        unchanged: report.unchanged as u64,
    };
    if let Err(e) = catalog.record_run(&run).await {
        tracing::warn!(error = %chain(&e), "could not record the run in the catalog's history");
        report.history_error = Some(chain(&e));
    }
    report
}

/// Writes the plan's search-identifier entities (`upsert_by_query`, per blueprint, batches
/// `concurrency` at a time), counts each as updated or failed, and returns the entities the
/// catalog resolved them to.
async fn write_searched(
    plan: &Plan,
    catalog: &dyn Catalog,
    concurrency: usize,
    report: &mut ApplyReport,
) -> HashSet<EntityKey> {
    let mut by_blueprint: BTreeMap<&str, Vec<&SearchedEntity>> = BTreeMap::new();
    for s in &plan.searched {
        by_blueprint.entry(s.blueprint()).or_default().push(s);
    }
    let batches: Vec<(&str, &[&SearchedEntity])> = by_blueprint
        .iter()
        .flat_map(|(bp, all)| all.chunks(UPSERT_BATCH).map(move |c| (*bp, c)))
        .collect();
    let results = futures_util::stream::iter(batches)
        .map(|(bp, batch)| async move {
            let documents: Vec<Value> = batch.iter().map(|s| s.document.clone()).collect();
            (
                bp,
                batch,
                catalog.upsert_by_query(bp, &documents, plan.options).await,
            )
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let mut resolved = HashSet::new();
    for (bp, batch, result) in results {
        report.batches += 1;
        // A failure names the entity by its query, the only name it has.
        let key = |s: &SearchedEntity| EntityKey {
            blueprint: bp.to_owned(),
            identifier: s.query().to_string(),
        };
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for s in batch {
                    match outcomes.next() {
                        Some(Ok(identifier)) => {
                            report.updated += 1;
                            resolved.insert(EntityKey {
                                blueprint: bp.to_owned(),
                                identifier,
                            });
                        }
                        Some(Err(message)) => fail(report, Operation::Upsert, key(s), message),
                        None => fail(
                            report,
                            Operation::Upsert,
                            key(s),
                            "the catalog reported no outcome for this entity".to_owned(),
                        ),
                    }
                }
            }
            Err(e) => {
                report.failed_batches += 1;
                let message = chain(&e);
                tracing::warn!(error = %message, entities = batch.len(), "a catalog batch failed");
                for s in batch {
                    fail(report, Operation::Upsert, key(s), message.clone());
                }
            }
        }
    }
    resolved
}

/// Counts one call's outcomes: each key of the batch is a success, a refusal, or missing.
fn tally(
    report: &mut ApplyReport,
    operation: Operation,
    keys: Vec<EntityKey>,
    result: crate::catalog::Result<Vec<EntityOutcome>>,
    mut success: impl FnMut(&mut ApplyReport, &EntityKey),
) {
    report.batches += 1;
    match result {
        Ok(outcomes) => {
            let mut by_key: HashMap<EntityKey, Result<(), String>> =
                outcomes.into_iter().map(|o| (o.key, o.result)).collect();
            for key in keys {
                match by_key.remove(&key) {
                    Some(Ok(())) => success(report, &key),
                    Some(Err(message)) => fail(report, operation, key, message),
                    None => fail(
                        report,
                        operation,
                        key,
                        "the catalog reported no outcome for this entity".to_owned(),
                    ),
                }
            }
        }
        Err(e) => {
            report.failed_batches += 1;
            let message = chain(&e);
            tracing::warn!(error = %message, entities = keys.len(), ?operation, "a catalog batch failed");
            for key in keys {
                fail(report, operation, key, message.clone());
            }
        }
    }
}

fn fail(report: &mut ApplyReport, operation: Operation, key: EntityKey, message: String) {
    report.failed += 1;
    report.failures.push(Failure {
        operation,
        key,
        message,
    });
}

/// An error and its causes, as one line.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The batches of one step: per blueprint of the step, its entities by identifier, chunked.
fn batches<'a>(
    entities: &[&'a Entity],
    step: &BTreeSet<String>,
    size: usize,
) -> Vec<(String, Vec<&'a Entity>)> {
    let mut by_bp: BTreeMap<&str, Vec<&'a Entity>> = BTreeMap::new();
    for e in entities.iter().filter(|e| step.contains(&e.blueprint)) {
        by_bp.entry(e.blueprint.as_str()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (bp, mut es) in by_bp {
        es.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        for chunk in es.chunks(size) {
            out.push((bp.to_owned(), chunk.to_vec()));
        }
    }
    out
}

/// Groups the blueprints of `entities` into steps, relation targets in earlier steps than
/// the blueprints pointing at them; also returns the cycles (sorted blueprint lists).
fn steps(entities: &[&Entity]) -> (Vec<BTreeSet<String>>, Vec<Vec<String>>) {
    let mut owners: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for e in entities {
        owners
            .entry(e.identifier.as_str())
            .or_default()
            .insert(e.blueprint.as_str());
    }
    // Edges: blueprint → blueprints it points at.
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in entities {
        let targets = graph.entry(e.blueprint.as_str()).or_default();
        for value in e.relations.values() {
            for id in relation_targets(value) {
                for bp in owners.get(id).into_iter().flatten() {
                    if *bp != e.blueprint {
                        targets.insert(bp);
                    }
                }
            }
        }
    }
    let sccs = tarjan(&graph);
    // Tarjan emits a component after every component it reaches: targets first.
    let mut level_of: HashMap<&str, usize> = HashMap::new();
    let mut levels: Vec<BTreeSet<String>> = Vec::new();
    let mut cycles = Vec::new();
    for scc in &sccs {
        let members: HashSet<&str> = scc.iter().copied().collect();
        let level = scc
            .iter()
            .flat_map(|bp| graph[bp].iter())
            .filter(|t| !members.contains(*t))
            .map(|t| level_of[t] + 1)
            .max()
            .unwrap_or(0);
        for bp in scc {
            level_of.insert(bp, level);
        }
        if levels.len() <= level {
            levels.resize_with(level + 1, BTreeSet::new);
        }
        levels[level].extend(scc.iter().map(|s| (*s).to_owned()));
        if scc.len() > 1 {
            let mut c: Vec<String> = scc.iter().map(|s| (*s).to_owned()).collect();
            c.sort();
            cycles.push(c);
        }
    }
    (levels, cycles)
}

/// The identifiers a relation value names: a string or a list of strings. Search queries
/// name none (the catalog resolves them).
fn relation_targets(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::WriteOptions;
    use crate::reconcile::plan::{Desired, Guards, plan};
    use async_trait::async_trait;
    use serde_json::json;
    use std::sync::Mutex;

    /// Records every call in order and accepts everything.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<(Operation, String, usize)>>,
    }

    #[async_trait]
    impl Catalog for Recorder {
        async fn list_owned(&self) -> crate::catalog::Result<Vec<Entity>> {
            Ok(Vec::new())
        }
        async fn foreign_owners(
            &self,
            _: &[EntityKey],
        ) -> crate::catalog::Result<std::collections::HashMap<EntityKey, Option<String>>> {
            Ok(std::collections::HashMap::new())
        }
        async fn upsert(
            &self,
            blueprint: &str,
            entities: &[Entity],
            _: WriteOptions,
        ) -> crate::catalog::Result<Vec<EntityOutcome>> {
            self.calls
                .lock()
                .unwrap()
                .push((Operation::Upsert, blueprint.into(), entities.len()));
            Ok(entities
                .iter()
                .map(|e| EntityOutcome {
                    key: e.key(),
                    result: Ok(()),
                })
                .collect())
        }
        async fn delete(
            &self,
            blueprint: &str,
            ids: &[String],
            _: WriteOptions,
        ) -> crate::catalog::Result<Vec<EntityOutcome>> {
            self.calls
                .lock()
                .unwrap()
                .push((Operation::Delete, blueprint.into(), ids.len()));
            Ok(ids
                .iter()
                .map(|id| EntityOutcome {
                    key: EntityKey {
                        blueprint: blueprint.into(),
                        identifier: id.clone(),
                    },
                    result: if id == "refused" {
                        Err("no".into())
                    } else {
                        Ok(())
                    },
                })
                .collect())
        }
        async fn list_blueprints(&self) -> crate::catalog::Result<Vec<Value>> {
            Ok(Vec::new())
        }
        async fn create_blueprint(&self, doc: &Value) -> crate::catalog::Result<()> {
            let id = crate::blueprint::identifier(doc).unwrap_or_default();
            self.calls
                .lock()
                .unwrap()
                .push((Operation::Upsert, format!("blueprint {id}"), 1));
            Ok(())
        }
        async fn replace_blueprint(&self, doc: &Value) -> crate::catalog::Result<()> {
            let id = crate::blueprint::identifier(doc).unwrap_or_default();
            self.calls.lock().unwrap().push((
                Operation::Upsert,
                format!("replace blueprint {id}"),
                1,
            ));
            Ok(())
        }
        async fn delete_blueprint(&self, id: &str) -> crate::catalog::Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push((Operation::Delete, format!("blueprint {id}"), 1));
            Ok(())
        }
        fn describe(&self) -> String {
            "recorder".into()
        }
    }

    fn rel(bp: &str, id: &str, relations: Value) -> Entity {
        let mut e = Entity::new(id, bp);
        e.relations = relations.as_object().cloned().unwrap_or_default();
        e
    }

    #[tokio::test]
    async fn targets_are_upserted_first_dependents_deleted_first_in_bounded_batches() {
        // workitem → repo → project; 45 work items make 3 batches.
        let mut want = vec![
            rel("project", "p", json!({})),
            rel("repo", "r", json!({"project": "p"})),
        ];
        want.extend((0..45).map(|i| rel("workitem", &format!("w{i}"), json!({"repo": ["r"]}))));
        let p = plan(
            Desired {
                entities: want.clone(),
                ..Desired::default()
            },
            vec![],
            &Guards::default(),
        );
        let rec = Recorder::default();
        let report = apply(&p, &rec, ApplyOptions::default()).await;
        assert_eq!(report.created, 47);
        let calls = rec.calls.lock().unwrap().clone();
        let order: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(
            order,
            ["project", "repo", "workitem", "workitem", "workitem"]
        );
        assert!(calls.iter().all(|c| c.2 <= UPSERT_BATCH));

        let gone = plan(
            Desired::default(),
            want,
            &Guards {
                deletion_threshold: 1.0,
                ..Guards::default()
            },
        );
        let rec = Recorder::default();
        let report = apply(&gone, &rec, ApplyOptions::default()).await;
        assert_eq!(report.deleted, 47);
        let order: Vec<String> = rec
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.1.clone())
            .collect();
        assert_eq!(order, ["workitem", "repo", "project"]);
    }

    #[tokio::test]
    async fn a_relation_cycle_is_written_in_one_step_and_reported() {
        let want = vec![
            rel("a", "a1", json!({"b": "b1"})),
            rel("b", "b1", json!({"a": "a1"})),
            rel("c", "c1", json!({"a": "a1"})),
        ];
        let p = plan(
            Desired {
                entities: want,
                ..Desired::default()
            },
            vec![],
            &Guards::default(),
        );
        let rec = Recorder::default();
        let report = apply(&p, &rec, ApplyOptions { concurrency: 1 }).await;
        assert_eq!(report.cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
        let order: Vec<String> = rec
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.1.clone())
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(report.created, 3);
    }

    #[tokio::test]
    async fn a_refused_delete_is_counted_and_the_rest_proceed() {
        let have: Vec<Entity> = ["ok1", "refused", "ok2"]
            .iter()
            .map(|id| rel("x", id, json!({})))
            .collect();
        let p = plan(
            Desired::default(),
            have,
            &Guards {
                deletion_threshold: 1.0,
                ..Guards::default()
            },
        );
        let report = apply(&p, &Recorder::default(), ApplyOptions::default()).await;
        assert_eq!((report.deleted, report.failed), (2, 1));
        assert_eq!(report.failures[0].key.identifier, "refused");
        assert!(!report.is_success());
    }
}
