//! From a config and raw items to the reconciler's [`Desired`], one resource at a time, with
//! a cache of each resource's entities keyed by the resource's content.
//!
//! Evaluating one resource over its kind's items is the mapping's business: this module
//! reaches it through the [`Mapper`] trait, and owns only what surrounds it — which items
//! each resource gets, which results can be reused, how partial data becomes
//! incomplete kinds (the rules themselves are `crate::sync`'s). `plan`, `apply`, watch mode,
//! pull-request review and branch following all build their `Desired` here, so an edit that
//! touches one resource re-evaluates that resource only.

mod items;
mod mapper;

pub use items::{Items, Listings, LiveItems, SnapshotItems};
pub use mapper::{EnvLookup, Mapped, Mapper, MappingMapper, engine_options};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::diff::fingerprint;
use crate::config::{Config, Resource};
use crate::entity::Entity;
use crate::mapping::FieldDiagnostic;
use crate::reconcile::{Desired, OrgNames};
use crate::sync::{self, Gap};

/// How one resource's mapping went, for the status lines `plan` and `apply` print.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStats {
    /// Position in the merged mapping.
    pub index: usize,
    /// The resource's kind.
    pub kind: String,
    /// Raw items the source gave.
    pub items: usize,
    /// Entities mapped (search-identifier entities excluded).
    pub entities: usize,
    /// Entities whose identifier is a search query (the catalog resolves those).
    pub searched: usize,
    /// Items the selector rejected.
    pub rejected: usize,
    /// Items dropped for a null or empty identifier or blueprint.
    pub dropped: usize,
    /// Items that failed the mapping (they make the kind incomplete).
    pub item_errors: usize,
    /// Whether it came from the cache rather than a fresh evaluation.
    pub reused: bool,
    /// Why the kind's listing is incomplete, when it is.
    pub incomplete: Option<String>,
    /// Whether Azure DevOps refused the credentials for the listing (a run that could not
    /// read a kind for lack of access fails, rather than passing with nothing deleted).
    pub unauthorized: bool,
}

/// An entity traced to the ADO item it came from (`crate::ado::locate::item_key`): how a
/// live event that says "this item is gone" finds the entities to delete, whatever the
/// mapping computes their identifiers from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Traced {
    /// The kind.
    pub kind: String,
    /// The item's key within the kind.
    pub item: String,
    /// The entity.
    pub key: crate::entity::EntityKey,
}

/// One evaluation's result, with how much of it came from the cache.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Ready for [`crate::reconcile::plan`].
    pub desired: Desired,
    /// Resources whose entities were reused.
    pub reused: usize,
    /// Resources evaluated afresh.
    pub evaluated: usize,
    /// Every resource's per-field findings, pointing at where the fields are now written.
    pub findings: Vec<FieldDiagnostic>,
    /// How each resource went, in mapping order.
    pub resources: Vec<ResourceStats>,
    /// Each entity's item, when the evaluator traces them ([`Evaluator::trace`]).
    pub traced: Vec<Traced>,
}

/// Builds [`Desired`] from configs: either remembering each resource's entities by content
/// ([`Evaluator::evaluate`], for watch and review, where the next config reuses them), or
/// streaming each kind's items through its resources and keeping nothing
/// ([`Evaluator::evaluate_once`], for a one-off plan or apply).
pub struct Evaluator {
    mapper: Arc<dyn Mapper>,
    cache: HashMap<String, Arc<Mapped>>,
    trace: bool,
}

/// Items a one-off evaluation maps at a time, per kind: the window of raw items held.
pub const CHUNK_ITEMS: usize = 1024;

/// One resource's outcome, on its way into an [`Evaluation`].
struct Outcome {
    mapped: Produced,
    items: usize,
    reused: bool,
    listing: Verdict,
    /// Entities handed to a sink rather than kept in `mapped`.
    streamed: usize,
}

/// The mapping's entities: shared with the cache (cloned out), or owned (moved out).
enum Produced {
    Cached(Arc<Mapped>),
    Fresh(Mapped),
}

impl Produced {
    fn mapped(&self) -> &Mapped {
        match self {
            Produced::Cached(m) => m,
            Produced::Fresh(m) => m,
        }
    }
}

/// What the listing said about itself.
struct Verdict {
    incomplete: Option<String>,
    gap: Gap,
    unauthorized: bool,
}

impl Verdict {
    fn of(listing: &crate::ado::Listing) -> Self {
        let names = |o: &crate::ado::Organization| OrgNames {
            url: o.url.clone(),
            name: o.name.clone(),
        };
        let complete: std::collections::BTreeSet<OrgNames> = listing
            .parts
            .iter()
            .filter(|p| p.complete)
            .map(|p| names(&p.organization))
            .collect();
        // Confined only when some organization is whole: with one organization, or all of
        // them failing, the whole kind is in doubt.
        let gap = match listing.incomplete_organizations() {
            Some(failed) if !complete.is_empty() => Gap::Organizations {
                incomplete: failed.into_iter().map(names).collect(),
                complete,
            },
            _ => Gap::Whole,
        };
        Verdict {
            incomplete: (!listing.complete).then(|| {
                listing
                    .error
                    .clone()
                    .unwrap_or_else(|| "the listing is incomplete".into())
            }),
            gap,
            unauthorized: listing.is_unauthorized(),
        }
    }
}

impl Evaluator {
    /// An evaluator with an empty cache.
    pub fn new(mapper: Arc<dyn Mapper>) -> Self {
        Evaluator {
            mapper,
            cache: HashMap::new(),
            trace: false,
        }
    }

    /// Whether one-off evaluations trace each entity to its item (`Evaluation::traced`).
    pub fn trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// The mapper, for evaluations outside a whole config (a live event's items).
    pub fn mapper(&self) -> &Arc<dyn Mapper> {
        &self.mapper
    }

    /// Maps every resource of `config` over `items`, reusing cached results for resources
    /// whose content (and settings) did not change. Entries for resources no longer present
    /// are dropped, so the cache holds one config's worth.
    pub fn evaluate(
        &mut self,
        config: &Config,
        revision: Option<String>,
        items: &mut dyn Items,
    ) -> Evaluation {
        self.mapper.begin_run();
        let settings_key = format!("{:?}", config.settings);
        let mut next = HashMap::new();
        let mut outcomes = Vec::with_capacity(config.mapping.resources.len());
        for resource in &config.mapping.resources {
            let listing = items.listing(resource);
            // The listing's address identifies its items: listings are never mutated.
            let key = format!(
                "{}\n{settings_key}\n{:p}",
                fingerprint(resource),
                Arc::as_ptr(&listing)
            );
            let cached = self.cache.get(&key).cloned();
            let reused = cached.is_some();
            let mapped = match cached {
                Some(m) => m,
                None => Arc::new(
                    self.mapper
                        .map(resource, &config.settings, &listing.items, 0),
                ),
            };
            next.insert(key, Arc::clone(&mapped));
            outcomes.push(Outcome {
                mapped: Produced::Cached(mapped),
                items: listing.items.len(),
                reused,
                listing: Verdict::of(&listing),
                streamed: 0,
            });
        }
        self.cache = next;
        assemble(config, revision, outcomes, Vec::new())
    }

    /// Maps every resource of `config` over `items` without keeping anything: each kind's
    /// items (per selector) are streamed in windows of [`CHUNK_ITEMS`] through every
    /// resource that reads them, and dropped; the entities are moved into the result, never
    /// cloned. The cache is left empty. Same result as [`Evaluator::evaluate`].
    pub fn evaluate_once(
        &mut self,
        config: &Config,
        revision: Option<String>,
        items: &mut dyn Items,
    ) -> Evaluation {
        let mut produced: Vec<Vec<Entity>> = vec![Vec::new(); config.mapping.resources.len()];
        let mut evaluation =
            self.evaluate_streamed(config, revision, items, &mut |resource, entities| {
                produced[resource].extend(entities);
            });
        evaluation.desired.entities = produced.into_iter().flatten().collect();
        evaluation
    }

    /// [`Evaluator::evaluate_once`], handing each window's entities to `sink` with the
    /// position of the resource that mapped them (in the mapping's order; a resource's
    /// windows arrive in item order) instead of keeping them: the evaluation's
    /// `desired.entities` is empty, its counts are whole.
    pub fn evaluate_streamed(
        &mut self,
        config: &Config,
        revision: Option<String>,
        items: &mut dyn Items,
        sink: &mut dyn FnMut(usize, Vec<Entity>),
    ) -> Evaluation {
        self.mapper.begin_run();
        self.cache.clear();
        let resources = &config.mapping.resources;
        // Resources that read the same listing (kind and selector options) share one pass.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            let key = format!(
                "{}\n{}",
                r.kind,
                serde_json::Value::Object(r.selector.to_object())
            );
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        let progress = crate::progress::start("mapping", None);
        let mut mapped_items = 0u64;
        let mut slots: Vec<Option<Outcome>> = (0..resources.len()).map(|_| None).collect();
        let mut traced = Vec::new();
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for (_, members) in groups {
            let mut mapped: Vec<Mapped> = members.iter().map(|_| Mapped::default()).collect();
            let mut streamed: Vec<usize> = vec![0; members.len()];
            let mut seen = 0;
            let mapper = &self.mapper;
            let trace = self.trace;
            let kind = resources[members[0]].kind.clone();
            let first = &resources[members[0]];
            // Windows are read on one thread, mapped on every core (each through every
            // member resource), and their entities handed to `sink` here, in item order.
            let verdict = crate::mapping::ordered::in_order(
                threads,
                threads + 1,
                |emit| {
                    let mut start = 0;
                    items.stream(first, CHUNK_ITEMS, &mut |chunk| {
                        let len = chunk.len();
                        emit((start, chunk));
                        start += len;
                    })
                },
                |(start, chunk): (usize, Vec<serde_json::Value>)| {
                    let window: Vec<(Mapped, Vec<Traced>)> = members
                        .iter()
                        .map(|&i| {
                            let mut m = mapper.map(&resources[i], &config.settings, &chunk, start);
                            let traces = if trace {
                                trace_entities(&kind, &m, &chunk, start)
                            } else {
                                Vec::new()
                            };
                            m.origins.clear();
                            (m, traces)
                        })
                        .collect();
                    (chunk.len(), window)
                },
                |(len, window)| {
                    for (((acc, count), &i), (mut m, traces)) in mapped
                        .iter_mut()
                        .zip(&mut streamed)
                        .zip(&members)
                        .zip(window)
                    {
                        traced.extend(traces);
                        let entities = std::mem::take(&mut m.entities);
                        *count += entities.len();
                        sink(i, entities);
                        acc.absorb(m);
                    }
                    seen += len;
                    mapped_items += len as u64;
                    progress.message(|| format!("{mapped_items} items ({kind})"));
                    true
                },
            );
            for ((m, n), &i) in mapped.into_iter().zip(streamed).zip(&members) {
                slots[i] = Some(Outcome {
                    mapped: Produced::Fresh(m),
                    items: seen,
                    reused: false,
                    listing: Verdict::of(&verdict),
                    streamed: n,
                });
            }
        }
        assemble(
            config,
            revision,
            slots.into_iter().flatten().collect(),
            traced,
        )
    }
}

/// Traces each entity of `m` to its item in `items` (the window starting at `first`).
pub fn trace_entities(
    kind: &str,
    m: &Mapped,
    items: &[serde_json::Value],
    first: usize,
) -> Vec<Traced> {
    m.origins
        .iter()
        .zip(&m.entities)
        .filter_map(|(&origin, entity)| {
            let item = items.get(origin.checked_sub(first)?)?;
            Some(Traced {
                kind: kind.to_owned(),
                item: crate::ado::locate::item_key(kind, item)?,
                key: entity.key(),
            })
        })
        .collect()
}

/// The evaluation of `outcomes` (one per resource, in mapping order): entities in resource
/// then item order, incomplete kinds (a partial listing, or items that failed), the stats.
fn assemble(
    config: &Config,
    revision: Option<String>,
    outcomes: Vec<Outcome>,
    traced: Vec<Traced>,
) -> Evaluation {
    let mut entities = Vec::new();
    let mut searched = Vec::new();
    let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut partial: Vec<(String, String, Gap)> = Vec::new();
    let (mut reused, mut evaluated) = (0, 0);
    let mut findings = Vec::new();
    let mut resources = Vec::with_capacity(outcomes.len());
    for (resource, outcome) in config.mapping.resources.iter().zip(outcomes) {
        if let Some(why) = &outcome.listing.incomplete {
            partial.push((
                resource.kind.clone(),
                why.clone(),
                outcome.listing.gap.clone(),
            ));
        }
        if outcome.reused {
            reused += 1;
        } else {
            evaluated += 1;
        }
        let m = outcome.mapped.mapped();
        resources.push(ResourceStats {
            index: resource.index,
            kind: resource.kind.clone(),
            items: outcome.items,
            entities: m.entities.len() + outcome.streamed,
            searched: m.searched.len(),
            rejected: m.rejected,
            dropped: m.dropped,
            item_errors: m.failed_items,
            reused: outcome.reused,
            incomplete: outcome.listing.incomplete,
            unauthorized: outcome.listing.unauthorized,
        });
        if m.failed_items > 0 {
            *failed.entry(&resource.kind).or_insert(0) += m.failed_items;
        }
        findings.extend(repointed(&m.findings, resource));
        match outcome.mapped {
            Produced::Cached(m) => {
                entities.extend(m.entities.iter().cloned());
                searched.extend(m.searched.iter().cloned());
            }
            Produced::Fresh(m) => {
                entities.extend(m.entities);
                searched.extend(m.searched);
            }
        }
    }
    // Items that failed the mapping are not placed in an organization: their kind is in
    // doubt as a whole.
    let mut reasons = partial;
    reasons.extend(failed.into_iter().map(|(kind, n)| {
        (
            kind.to_string(),
            format!("{n} items failed to map"),
            Gap::Whole,
        )
    }));
    let desired = Desired {
        entities,
        incomplete: sync::incomplete_kinds(&config.mapping, reasons),
        options: sync::write_options(&config.mapping),
        revision,
        relation_targets: sync::relation_targets(config),
        kinds: sync::kind_blueprints(&config.mapping),
        blueprints: config.blueprints.clone(),
        declared_ever: None,
        searched,
    };
    Evaluation {
        desired,
        reused,
        evaluated,
        findings,
        resources,
        traced,
    }
}

/// Cached findings with their origins and resource index taken from `resource` as it is now
/// written (a reused result may come from the same content at other lines).
fn repointed(findings: &[FieldDiagnostic], resource: &Resource) -> Vec<FieldDiagnostic> {
    let mut places: HashMap<String, &crate::config::Origin> = resource
        .port
        .mappings
        .leaves()
        .into_iter()
        .map(|(path, jq)| (path, &jq.origin))
        .collect();
    places.insert("selector.query".into(), &resource.selector.query.origin);
    if let Some(jq) = &resource.port.items_to_parse {
        places.insert("itemsToParse".into(), &jq.origin);
    }
    findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.resource_index = resource.index;
            if let Some(origin) = places.get(&f.field) {
                f.origin = (*origin).clone();
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ado::{Listing, Source};
    use crate::config::Settings;
    use crate::config::{ConfigFiles, build_config};
    use crate::entity::Entity;
    use serde_json::Value;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Makes one entity per item, named after the resource's kind, counting calls.
    struct Counting(AtomicUsize);

    impl Mapper for Counting {
        fn map(&self, resource: &Resource, _: &Settings, items: &[Value], _: usize) -> Mapped {
            self.0.fetch_add(1, Ordering::SeqCst);
            Mapped {
                entities: items
                    .iter()
                    .map(|i| Entity::new(i.to_string(), resource.kind.clone()))
                    .collect(),
                ..Mapped::default()
            }
        }
    }

    fn config(yaml: &str) -> Config {
        build_config(ConfigFiles {
            mappings: vec![("a.yaml".into(), yaml.as_bytes().to_vec())],
            ..ConfigFiles::default()
        })
        .config
        .unwrap()
    }

    fn resource(kind: &str, blueprint: &str, prop: &str) -> String {
        format!(
            "  - kind: {kind}\n    selector:\n      query: \"true\"\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"{blueprint}\"'\n          properties:\n            p: {prop}\n"
        )
    }

    fn items() -> Listings {
        let mut m = BTreeMap::new();
        for kind in ["project", "repository"] {
            m.insert(
                kind.to_string(),
                Arc::new(Listing::complete(
                    kind,
                    vec![serde_json::json!({"id": 1}), serde_json::json!({"id": 2})],
                )),
            );
        }
        Listings(m)
    }

    #[test]
    fn only_the_resource_whose_content_changed_is_evaluated_again() {
        let mapper = Arc::new(Counting(AtomicUsize::new(0)));
        let mut ev = Evaluator::new(mapper.clone());
        let mut items = items();
        let a = config(&format!(
            "resources:\n{}{}",
            resource("project", "project", ".a"),
            resource("repository", "service", ".a")
        ));
        let first = ev.evaluate(&a, Some("c1".into()), &mut items);
        assert_eq!((first.evaluated, first.reused), (2, 0));
        assert_eq!(first.desired.entities.len(), 4);
        assert_eq!(first.desired.revision.as_deref(), Some("c1"));

        let b = config(&format!(
            "# moved\nresources:\n{}{}",
            resource("project", "project", ".a"),
            resource("repository", "service", ".b")
        ));
        let second = ev.evaluate(&b, None, &mut items);
        assert_eq!((second.evaluated, second.reused), (1, 1));
        assert_eq!(mapper.0.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_reused_resources_findings_point_at_where_its_fields_are_now() {
        // The real mapping: `.id.q` on a number is an error, found on every item.
        let mut ev = Evaluator::new(Arc::new(MappingMapper::default()));
        let mut items = items();
        let text = format!("resources:\n{}", resource("project", "project", ".id.q"));
        let line_of = |e: &Evaluation| {
            e.findings
                .iter()
                .find(|f| f.field == "properties.p")
                .map(|f| f.origin.line)
        };
        let first = ev.evaluate(&config(&text), None, &mut items);
        let line = line_of(&first).expect("a finding on properties.p");
        let moved = ev.evaluate(&config(&format!("# one\n# two\n{text}")), None, &mut items);
        assert_eq!(moved.reused, 1);
        assert_eq!(line_of(&moved), Some(line + 2));
    }

    #[test]
    fn a_one_off_evaluation_streams_to_the_same_result_as_a_cached_one() {
        let c = config(MAPPING);
        let mut listings = Listings::default();
        let repos: Vec<Value> = (0..(CHUNK_ITEMS * 2 + 7))
            .map(|i| serde_json::json!({"id": format!("r{i}"), "name": i}))
            .collect();
        listings.0.insert(
            "repository".into(),
            Arc::new(Listing::complete("repository", repos)),
        );
        let mapper = Arc::new(MappingMapper::default());
        let cached = Evaluator::new(mapper.clone()).evaluate(&c, Some("x".into()), &mut listings);
        let mut ev = Evaluator::new(mapper);
        let once = ev.evaluate_once(&c, Some("x".into()), &mut listings);
        assert_eq!(once.desired, cached.desired);
        assert_eq!(once.resources, cached.resources);
        assert_eq!(once.findings, cached.findings);
        assert_eq!(once.desired.entities.len(), 2 * (CHUNK_ITEMS * 2 + 7));
        assert!(ev.cache.is_empty(), "a one-off evaluation keeps nothing");
    }

    #[test]
    fn a_kind_missing_from_the_source_is_incomplete_with_its_literal_blueprints() {
        let mut ev = Evaluator::new(Arc::new(Counting(AtomicUsize::new(0))));
        let c = config(&format!("resources:\n{}", resource("team", "team", ".a")));
        let out = ev.evaluate(&c, None, &mut items());
        assert_eq!(out.desired.incomplete.len(), 1);
        assert_eq!(
            out.desired.incomplete[0].blueprints,
            crate::reconcile::KindBlueprints::Known(["team".to_string()].into())
        );
    }

    use crate::sync::tests::MAPPING;

    /// A source that answers from a table and counts its fetches.
    struct Scripted {
        fetches: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Source for Scripted {
        async fn fetch(&self, kind: &str, _selector: &serde_json::Map<String, Value>) -> Listing {
            if let Ok(mut f) = self.fetches.lock() {
                f.push(kind.to_owned());
            }
            match kind {
                "repository" => Listing::complete(
                    kind,
                    vec![
                        serde_json::json!({"id": "r1"}),
                        serde_json::json!({"id": "r2"}),
                    ],
                ),
                _ => Listing::incomplete(
                    kind,
                    vec![serde_json::json!({"id": "w1", "fields": {"System.WorkItemType": "Bug"}})],
                    "HTTP 503 on page 2".to_owned(),
                ),
            }
        }
    }

    #[test]
    fn live_items_keep_resource_order_share_fetches_and_mark_partial_kinds_incomplete() {
        let c = config(MAPPING);
        let source = Arc::new(Scripted {
            fetches: std::sync::Mutex::new(Vec::new()),
        });
        let mut items = LiveItems::new(source.clone()).unwrap();
        let mut ev = Evaluator::new(Arc::new(MappingMapper::default()));
        let prepared = ev.evaluate(&c, Some("abc".into()), &mut items);
        let d = &prepared.desired;
        let keys: Vec<String> = d.entities.iter().map(|e| e.key().to_string()).collect();
        assert_eq!(
            keys,
            ["service/r1", "service/r2", "repo/r1", "repo/r2", "Bug/w1"]
        );
        // Two repository resources with the same selector options share one fetch.
        assert_eq!(
            *source.fetches.lock().unwrap(),
            ["repository".to_owned(), "work-item".to_owned()]
        );
        assert_eq!(d.incomplete.len(), 1);
        assert_eq!(d.incomplete[0].kind, "work-item");
        assert_eq!(
            d.incomplete[0].blueprints,
            crate::reconcile::KindBlueprints::Unknown
        );
        assert!(d.incomplete[0].reason.contains("HTTP 503"));
        assert_eq!(d.revision.as_deref(), Some("abc"));
        assert!(!d.options.merge);
        assert_eq!(
            prepared.resources[2].incomplete.as_deref(),
            Some("HTTP 503 on page 2")
        );
        assert_eq!(prepared.resources[0].entities, 2);
    }
}
