//! Desired entities sorted by key, whatever their number: what the merge planner reads.
//!
//! The mapping yields entities resource by resource, in item order; the planner needs them
//! in key order (blueprint, identifier), with the entities of one key in the order they
//! were produced (the last resource wins when duplicates fold). [`KeySorter`] is an
//! external sort: it holds a run of entities up to a size, sorts it, writes it to a
//! temporary file ([`crate::spill`]), and at the end merges the runs. A run that never
//! fills stays in memory: small configs never touch the disk.

use std::borrow::Cow;

use serde_json::Value;

use crate::entity::{Entity, merge_entity};
use crate::spill::{self, Entries, EntriesWriter, Grouped};

/// The estimated bytes of entities a run holds before it is sorted and written out.
pub const RUN_BYTES: usize = 32 << 20;

/// One produced entity with its place in the production order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Produced {
    /// The resource's position in the mapping (later resources win).
    resource: u32,
    /// The order it arrived in.
    seq: u64,
    entity: Entity,
}

impl Grouped for Produced {
    fn group(&self) -> &str {
        &self.entity.blueprint
    }
}

impl Produced {
    fn order(&self) -> (&str, &str, u32, u64) {
        (
            &self.entity.blueprint,
            &self.entity.identifier,
            self.resource,
            self.seq,
        )
    }
}

/// Collects entities in production order and hands them back sorted by key.
#[derive(Debug)]
pub struct KeySorter {
    run: Vec<Produced>,
    run_bytes: usize,
    limit: usize,
    runs: Vec<Entries<Produced>>,
    seq: u64,
}

impl Default for KeySorter {
    fn default() -> Self {
        Self::new()
    }
}

impl KeySorter {
    /// A sorter that writes a run out past [`RUN_BYTES`].
    pub fn new() -> Self {
        Self::with_run_bytes(RUN_BYTES)
    }

    /// A sorter that writes a run out past `limit` estimated bytes (tests use tiny runs).
    pub fn with_run_bytes(limit: usize) -> Self {
        KeySorter {
            run: Vec::new(),
            run_bytes: 0,
            limit,
            runs: Vec::new(),
            seq: 0,
        }
    }

    /// Adds the entities one resource (at position `resource` in the mapping) produced, in
    /// item order.
    pub fn push(&mut self, resource: usize, entities: Vec<Entity>) -> spill::Result<()> {
        let resource = u32::try_from(resource).unwrap_or(u32::MAX);
        for entity in entities {
            self.run_bytes += estimated_bytes(&entity);
            self.run.push(Produced {
                resource,
                seq: self.seq,
                entity,
            });
            self.seq += 1;
            if self.run_bytes > self.limit {
                self.write_run()?;
            }
        }
        Ok(())
    }

    fn write_run(&mut self) -> spill::Result<()> {
        let mut run = std::mem::take(&mut self.run);
        self.run_bytes = 0;
        run.sort_by(|a, b| a.order().cmp(&b.order()));
        let mut out = EntriesWriter::with_limit(0);
        for p in run {
            out.push(p)?;
        }
        self.runs.push(out.finish()?);
        Ok(())
    }

    /// Ends the input: the entities in key order.
    pub fn finish(mut self) -> SortedEntities {
        self.run.sort_by(|a, b| a.order().cmp(&b.order()));
        let mut runs = self.runs;
        if !self.run.is_empty() {
            runs.push(Entries::from(self.run));
        }
        SortedEntities { runs }
    }
}

/// Desired entities in key order, readable as often as needed.
#[derive(Debug, Default)]
pub struct SortedEntities {
    runs: Vec<Entries<Produced>>,
}

impl SortedEntities {
    /// Sorts entities held in memory (production order = their order in `entities`).
    pub fn from_vec(entities: Vec<Entity>) -> Self {
        let mut sorter = KeySorter::with_run_bytes(usize::MAX);
        // A sorter that never writes a run cannot fail.
        let _ = sorter.push(0, entities);
        sorter.finish()
    }

    /// Adds `entities` after everything pushed so far, in their order: of the entities
    /// produced under one key they come last, so they win when duplicates fold (search
    /// identifiers resolved against the catalog, which `plan` takes after the mapped ones).
    pub fn add_last(&mut self, entities: Vec<Entity>) {
        if entities.is_empty() {
            return;
        }
        let mut run: Vec<Produced> = entities
            .into_iter()
            .zip(0u64..)
            .map(|(entity, seq)| Produced {
                resource: u32::MAX,
                seq,
                entity,
            })
            .collect();
        run.sort_by(|a, b| a.order().cmp(&b.order()));
        self.runs.push(Entries::from(run));
    }

    /// Entities held (duplicates included).
    pub fn len(&self) -> usize {
        self.runs.iter().map(Entries::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs written to temporary files.
    pub fn spilled_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.is_spilled()).count()
    }

    /// Why reading a run back ended early, if one did.
    pub fn read_error(&self) -> Option<&str> {
        self.runs.iter().find_map(Entries::read_error)
    }

    /// One entity per key, in key order: the entities produced under one key folded in
    /// production order, the last winning (with `merge`, field by field as Port's
    /// successive upserts merge; without, whole), with how many were produced.
    pub fn folded(&self, merge: bool) -> Folded<'_> {
        let mut runs: Vec<_> = self.runs.iter().map(|r| r.iter()).collect();
        let heads = runs.iter_mut().map(Iterator::next).collect();
        Folded { runs, heads, merge }
    }
}

/// The folded entities of a [`SortedEntities`], in key order.
pub struct Folded<'a> {
    runs: Vec<spill::Iter<'a, Produced>>,
    heads: Vec<Option<Cow<'a, Produced>>>,
    merge: bool,
}

impl Folded<'_> {
    /// The run whose head comes first (runs are few: a linear scan beats a heap's clones).
    fn first(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, head) in self.heads.iter().enumerate() {
            let Some(head) = head else { continue };
            match best {
                Some(b) if self.heads[b].as_ref().map(|h| h.order()) <= Some(head.order()) => {}
                _ => best = Some(i),
            }
        }
        best
    }

    fn take(&mut self, run: usize) -> Option<Produced> {
        let next = self.runs[run].next();
        std::mem::replace(&mut self.heads[run], next).map(Cow::into_owned)
    }
}

impl Iterator for Folded<'_> {
    type Item = (Entity, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.first()?;
        let mut entity = self.take(first)?.entity;
        let mut count = 1;
        while let Some(i) = self.first() {
            let same = self.heads[i].as_ref().is_some_and(|h| {
                h.entity.blueprint == entity.blueprint && h.entity.identifier == entity.identifier
            });
            if !same {
                break;
            }
            let Some(later) = self.take(i) else { break };
            count += 1;
            entity = if self.merge {
                merge_entity(entity, &later.entity)
            } else {
                later.entity
            };
        }
        Some((entity, count))
    }
}

/// A cheap estimate of an entity's heap size, to bound a run's memory.
fn estimated_bytes(e: &Entity) -> usize {
    fn value(v: &Value) -> usize {
        32 + match v {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value).sum(),
            Value::Object(map) => map.iter().map(|(k, v)| 24 + k.len() + value(v)).sum(),
            _ => 0,
        }
    }
    let map = |m: &serde_json::Map<String, Value>| -> usize {
        m.iter().map(|(k, v)| 24 + k.len() + value(v)).sum()
    };
    256 + e.identifier.len()
        + e.blueprint.len()
        + [&e.title, &e.icon, &e.team]
            .into_iter()
            .flatten()
            .map(value)
            .sum::<usize>()
        + map(&e.properties)
        + map(&e.relations)
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

    #[test]
    fn runs_written_to_disk_merge_into_key_order_with_duplicates_folded_last_winning() {
        let mut sorter = KeySorter::with_run_bytes(1);
        sorter
            .push(
                0,
                vec![
                    e("b", "2", json!({"x": 1, "y": 1})),
                    e("a", "9", json!({})),
                    e("b", "1", json!({})),
                ],
            )
            .unwrap();
        sorter
            .push(
                1,
                vec![e("b", "2", json!({"y": 2})), e("a", "10", json!({}))],
            )
            .unwrap();
        let sorted = sorter.finish();
        assert!(sorted.spilled_runs() > 1);
        assert_eq!(sorted.len(), 5);
        let merged: Vec<(String, usize)> = sorted
            .folded(true)
            .map(|(e, n)| (e.key().to_string(), n))
            .collect();
        assert_eq!(
            merged,
            [
                ("a/10".into(), 1),
                ("a/9".into(), 1),
                ("b/1".into(), 1),
                ("b/2".into(), 2)
            ]
        );
        let folded: Vec<Entity> = sorted.folded(true).map(|(e, _)| e).collect();
        assert_eq!(
            folded[3].properties,
            *json!({"x": 1, "y": 2}).as_object().unwrap()
        );
        let replaced: Vec<Entity> = sorted.folded(false).map(|(e, _)| e).collect();
        assert_eq!(
            replaced[3].properties,
            *json!({"y": 2}).as_object().unwrap()
        );
        // Read twice, the same.
        assert_eq!(sorted.folded(true).count(), 4);
        assert!(sorted.read_error().is_none());
    }

    #[test]
    fn entities_added_last_fold_after_every_resource_whatever_their_order() {
        let mut sorter = KeySorter::with_run_bytes(1);
        sorter
            .push(
                7,
                vec![e("b", "1", json!({"x": 1})), e("a", "1", json!({}))],
            )
            .unwrap();
        let mut sorted = sorter.finish();
        sorted.add_last(vec![
            e("c", "1", json!({})),
            e("b", "1", json!({"x": 2})),
            e("b", "1", json!({"x": 3})),
        ]);
        let folded: Vec<(String, usize, Value)> = sorted
            .folded(false)
            .map(|(e, n)| (e.key().to_string(), n, Value::Object(e.properties)))
            .collect();
        assert_eq!(
            folded,
            [
                ("a/1".into(), 1, json!({})),
                ("b/1".into(), 3, json!({"x": 3})),
                ("c/1".into(), 1, json!({})),
            ]
        );
    }
}
