//! Plans for some items instead of all: a live event's ([`Pipeline::plan_targets`]) and an
//! incremental pass's ([`Pipeline::plan_changed`]). Same mapping, same plan, same guards
//! and the same apply as a full run; only what is read and compared is narrower.
//!
//! 1. **Read.** Each target's items are read again from the source
//!    (`crate::ado::locate`): complete for the target's scope, or failed with a reason.
//!    Each resource of the kind reads with its own selector options.
//! 2. **Map.** Every resource of the kind maps the items, rejected ones included
//!    (`Mapper::map_all`): the selected items' entities are desired; the rejected items'
//!    entities are delete candidates (the item no longer passes the selector).
//! 3. **Gone.** For a scope read completely, the entities [`Origins`] traces to items of
//!    that scope are delete candidates too: what ADO no longer lists there (a deleted work
//!    item, branch or file), and what an item's mapping no longer produces (a changed
//!    identifier). A candidate still traced to an item outside every scope read is kept:
//!    another item may still produce it.
//! 4. **Plan.** Desired entities and candidates are compared with the catalog's owned
//!    entities of those keys only (`reconcile::plan_keys`), behind the guards that apply to
//!    a scoped plan. A target whose read failed, or whose items failed to map, names no
//!    candidate: it is read again later, never judged gone.
//!
//! [`TraceUpdate`] says how the traces change once the plan is applied.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use serde_json::Value;

use super::{Checked, Error, Pipeline, Planned, Result, RunSummary};
use crate::ado::locate::{self, Read, Scope, Target};
use crate::config::Resource;
use crate::desired::{ResourceStats, Traced, trace_entities};
use crate::entity::EntityKey;
use crate::reconcile::{self, Desired};
use crate::sync;

/// Why the traces could not be read.
pub type OriginsError = Box<dyn std::error::Error + Send + Sync>;

/// Which item each entity came from, as recorded by earlier runs: how a live event finds
/// the entities of an item that is gone.
pub trait Origins: Send + Sync {
    /// The traces of the items of `kind` in `scope`.
    fn within(&self, kind: &str, scope: &Scope) -> std::result::Result<Vec<Traced>, OriginsError>;
    /// Every trace of each of `keys`.
    fn producers(&self, keys: &[EntityKey]) -> std::result::Result<Vec<Traced>, OriginsError>;
}

/// Knows no traces: a gone item's entities are then not found (an offline replay). Items
/// that still exist are handled in full.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOrigins;

impl Origins for NoOrigins {
    fn within(&self, _: &str, _: &Scope) -> std::result::Result<Vec<Traced>, OriginsError> {
        Ok(Vec::new())
    }
    fn producers(&self, _: &[EntityKey]) -> std::result::Result<Vec<Traced>, OriginsError> {
        Ok(Vec::new())
    }
}

/// How the traces change once a plan is applied: the traces within each `replace` scope
/// (read completely) are replaced by the `rows` in it; other `rows` are added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceUpdate {
    /// Scopes read completely, by kind.
    pub replace: Vec<(String, Scope)>,
    /// The traces of the items read.
    pub rows: Vec<Traced>,
}

/// One target: items of a kind to read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindTarget {
    /// The kind.
    pub kind: String,
    /// Which of its items.
    pub target: Target,
}

/// What became of one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetOutcome {
    /// Read completely and planned: applying the plan brings the catalog in line with ADO
    /// for it.
    Read,
    /// No resource of the mapping reads its kind.
    Unmapped,
    /// Its items could not be read or mapped (why): nothing of it was judged gone.
    Failed {
        /// Why.
        reason: String,
        /// ADO refused the credentials: reading again will not help.
        unauthorized: bool,
    },
}

/// A plan for some items, with each target's outcome and the traces to record.
#[derive(Debug)]
pub struct TargetedPlan {
    /// The plan (scoped), with what the mapping reported.
    pub planned: Planned,
    /// Per target, in the order given.
    pub outcomes: Vec<TargetOutcome>,
    /// The traces to record once the plan is applied.
    pub traces: TraceUpdate,
}

/// One scope's reads: per group of resources sharing selector options, the read.
struct Unit {
    kind: String,
    scope: Scope,
    reads: Vec<(Vec<usize>, Read)>,
}

impl Pipeline {
    /// Plans the items `targets` name (a live event's signals) against the catalog's
    /// entities of those items. See the module docs.
    pub fn plan_targets(
        &mut self,
        checked: &Checked,
        targets: &[KindTarget],
        origins: &dyn Origins,
    ) -> Result<TargetedPlan> {
        let started = Instant::now();
        let resources = &checked.config.mapping.resources;
        let mut units: Vec<Option<Unit>> = targets.iter().map(|_| None).collect();
        let mut by_kind: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            by_kind.entry(t.kind.as_str()).or_default().push(i);
        }
        for (kind, members) in by_kind {
            let kind_targets: Vec<Target> =
                members.iter().map(|&i| targets[i].target.clone()).collect();
            for group in selector_groups(resources, kind) {
                let reads = self.items.refetch(&resources[group[0]], &kind_targets);
                for (&i, read) in members.iter().zip(reads) {
                    units[i]
                        .get_or_insert_with(|| Unit {
                            kind: kind.to_owned(),
                            scope: locate::scope(kind, &targets[i].target.locator),
                            reads: Vec::new(),
                        })
                        .reads
                        .push((group.clone(), read));
                }
            }
        }
        self.plan_units(checked, units, origins, started)
    }

    /// Plans the items of each kind of `since` that changed since its time (an incremental
    /// pass): upserts, and deletes only what the targeted rules find (an item the selector
    /// now rejects, an identifier that changed), never an item merely not listed. One
    /// outcome per kind, in `since`'s order; a kind the source cannot read incrementally
    /// is [`TargetOutcome::Unmapped`].
    pub fn plan_changed(
        &mut self,
        checked: &Checked,
        since: &BTreeMap<String, jiff::Timestamp>,
        origins: &dyn Origins,
    ) -> Result<TargetedPlan> {
        let started = Instant::now();
        let resources = &checked.config.mapping.resources;
        let mut units = Vec::new();
        for (kind, from) in since {
            let mut reads = Vec::new();
            for group in selector_groups(resources, kind) {
                match self.items.changed_since(&resources[group[0]], *from) {
                    Some(listing) => {
                        let read = if listing.complete {
                            Read::found(listing.items)
                        } else {
                            Read {
                                items: listing.items,
                                problem: Some(listing.error.unwrap_or_default()),
                                cause: listing.cause,
                            }
                        };
                        reads.push((group, read));
                    }
                    None => {
                        reads.clear();
                        break;
                    }
                }
            }
            // The scope is what was read: nothing else of the kind is judged.
            let keys = reads
                .iter()
                .flat_map(|(_, r)| r.items.iter())
                .filter_map(|item| locate::item_key(kind, item))
                .collect();
            units.push((!reads.is_empty()).then(|| Unit {
                kind: kind.clone(),
                scope: Scope::Items(keys),
                reads,
            }));
        }
        self.plan_units(checked, units, origins, started)
    }

    fn plan_units(
        &mut self,
        checked: &Checked,
        units: Vec<Option<Unit>>,
        origins: &dyn Origins,
        started: Instant,
    ) -> Result<TargetedPlan> {
        let catalog = self.catalog.clone().ok_or(Error::NoCatalog)?;
        let config = &checked.config;
        let resources = &config.mapping.resources;
        let mapper = self.evaluator.mapper().clone();
        mapper.begin_run();
        let mut stats: BTreeMap<usize, ResourceStats> = BTreeMap::new();
        let mut findings = Vec::new();
        let mut entities = Vec::new();
        let mut searched = Vec::new();
        let mut rows = Vec::new();
        let mut judged: Vec<(String, Scope)> = Vec::new();
        let mut rejected: BTreeSet<EntityKey> = BTreeSet::new();
        let mut outcomes = Vec::with_capacity(units.len());
        for unit in units {
            let Some(unit) = unit else {
                outcomes.push(TargetOutcome::Unmapped);
                continue;
            };
            let mut failed: Option<(String, bool)> = None;
            let mut unit_rejected = Vec::new();
            for (group, read) in &unit.reads {
                if let Some(why) = &read.problem {
                    let unauthorized = read.is_unauthorized();
                    if failed.as_ref().is_none_or(|(_, u)| !u) {
                        failed = Some((why.clone(), unauthorized));
                    }
                }
                for &i in group {
                    let resource = &resources[i];
                    let m = mapper.map_all(resource, &config.settings, &read.items);
                    let stat = stats.entry(i).or_insert_with(|| empty_stats(resource));
                    stat.items += read.items.len();
                    stat.entities += m.entities.len();
                    stat.searched += m.searched.len();
                    stat.rejected += m.rejected;
                    stat.dropped += m.dropped;
                    stat.item_errors += m.failed_items;
                    if let Some(why) = &read.problem {
                        stat.incomplete.get_or_insert_with(|| why.clone());
                        stat.unauthorized |= read.is_unauthorized();
                    }
                    if m.failed_items > 0 && failed.is_none() {
                        failed = Some((
                            format!(
                                "{} items of kind {} failed to map (resource {})",
                                m.failed_items, unit.kind, resource.index
                            ),
                            false,
                        ));
                    }
                    rows.extend(trace_entities(&unit.kind, &m, &read.items, 0));
                    unit_rejected.extend(m.rejected_entities.iter().map(|(_, e)| e.key()));
                    crate::mapping::absorb_findings(&mut findings, m.findings);
                    entities.extend(m.entities);
                    searched.extend(m.searched);
                }
            }
            outcomes.push(match failed {
                Some((reason, unauthorized)) => TargetOutcome::Failed {
                    reason,
                    unauthorized,
                },
                None => {
                    rejected.extend(unit_rejected);
                    judged.push((unit.kind, unit.scope));
                    TargetOutcome::Read
                }
            });
        }
        let candidates = candidates(&entities, rejected, &judged, origins)?;
        let desired = Desired {
            entities,
            incomplete: Vec::new(),
            options: sync::write_options(&config.mapping),
            revision: checked.revision.clone(),
            relation_targets: sync::relation_targets(config),
            kinds: sync::kind_blueprints(&config.mapping),
            blueprints: config.blueprints.clone(),
            declared_ever: None,
            searched,
        };
        let guards = sync::guards(config, &self.options.guards);
        let plan = self
            .runtime
            .block_on(reconcile::plan_keys(
                desired,
                &candidates,
                catalog.as_ref(),
                &guards,
            ))
            .map_err(|source| Error::CatalogRead {
                catalog: catalog.describe(),
                source,
            })?;
        let mut summary = RunSummary::new(stats.into_values().collect(), &findings);
        summary.search_errors = plan.search_errors.len();
        Ok(TargetedPlan {
            planned: Planned {
                plan,
                summary,
                findings,
                evaluated: 0,
                reused: 0,
                elapsed: started.elapsed(),
                traced: Vec::new(),
            },
            outcomes,
            traces: TraceUpdate {
                replace: judged,
                rows,
            },
        })
    }
}

/// The resources of `kind`, grouped by selector options (each group reads once), in
/// mapping order.
fn selector_groups(resources: &[Resource], kind: &str) -> Vec<Vec<usize>> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in resources.iter().enumerate().filter(|(_, r)| r.kind == kind) {
        let key = Value::Object(r.selector.to_object()).to_string();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups.into_iter().map(|(_, m)| m).collect()
}

/// The delete candidates: the rejected items' entities and the entities traced to items
/// of the scopes read completely, less what is desired and what an item outside those
/// scopes still produces.
fn candidates(
    entities: &[crate::entity::Entity],
    rejected: BTreeSet<EntityKey>,
    judged: &[(String, Scope)],
    origins: &dyn Origins,
) -> Result<Vec<EntityKey>> {
    let wanted: HashSet<EntityKey> = entities.iter().map(crate::entity::Entity::key).collect();
    let mut out = rejected;
    for (kind, scope) in judged {
        let traced = origins.within(kind, scope).map_err(Error::Origins)?;
        out.extend(traced.into_iter().map(|t| t.key));
    }
    out.retain(|k| !wanted.contains(k));
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<EntityKey> = out.iter().cloned().collect();
    for producer in origins.producers(&keys).map_err(Error::Origins)? {
        let judged_here = judged
            .iter()
            .any(|(kind, scope)| *kind == producer.kind && scope.covers(&producer.item));
        if !judged_here {
            out.remove(&producer.key);
        }
    }
    Ok(out.into_iter().collect())
}

fn empty_stats(resource: &Resource) -> ResourceStats {
    ResourceStats {
        index: resource.index,
        kind: resource.kind.clone(),
        items: 0,
        entities: 0,
        searched: 0,
        rejected: 0,
        dropped: 0,
        item_errors: 0,
        reused: false,
        incomplete: None,
        unauthorized: false,
    }
}
