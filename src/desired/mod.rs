//! From a config and raw items to the reconciler's [`Desired`], one resource at a time, with
//! a cache of each resource's entities keyed by the resource's content.
//!
//! Evaluating one resource over its kind's items is the mapping's business: this module
//! reaches it through the [`Mapper`] trait, and owns only what surrounds it — which items
//! each resource gets, which results can be reused, how partial data becomes
//! incomplete kinds (the rules themselves are `crate::sync`'s). `plan`, `apply`, watch mode,
//! pull-request review and branch following all build their `Desired` here, so an edit that
//! touches one resource re-evaluates that resource only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::ado::{Listing, Snapshot, Source};
use crate::config::diff::fingerprint;
use crate::config::settings::JqSettings;
use crate::config::{Config, Resource, Settings};
use crate::entity::Entity;
use crate::jq::{Engine, EngineOptions, Limits};
use crate::mapping::FieldDiagnostic;
use crate::reconcile::Desired;
use crate::sync;

/// Evaluates one resource's selector and entity mapping over its kind's raw items.
pub trait Mapper: Send + Sync {
    /// Maps `items` (the whole listing of `resource.kind`) through `resource`.
    fn map(&self, resource: &Resource, settings: &Settings, items: &[Value]) -> Mapped;

    /// A new run starts (a plan, a watch re-plan, a resync): per-run budgets start afresh.
    fn begin_run(&self) {}
}

/// Looks an environment variable up: the CLI's closure over the process environment, asked
/// only for the names a mapping's `jq.envAllowList` gives (the library never reads the
/// environment itself).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The engine options `jq` settings ask for: the allow-listed variables' values (looked up
/// through `env`) and the limits.
pub fn engine_options(jq: &JqSettings, env: &EnvLookup) -> EngineOptions {
    let values: BTreeMap<String, String> = jq
        .env_allow_list
        .iter()
        .filter_map(|k| env(k).map(|v| (k.clone(), v)))
        .collect();
    let mut limits = Limits::default();
    if let Some(ms) = jq.timeout_ms {
        limits.timeout = std::time::Duration::from_millis(ms);
    }
    if let Some(bytes) = jq.max_output_bytes {
        limits.max_output_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    EngineOptions {
        env_allow_list: jq.env_allow_list.clone(),
        env: values,
        limits,
    }
}

/// The mapping module's evaluator ([`crate::mapping::evaluate`]) as a [`Mapper`], with the
/// jq engine each config's `jq` settings ask for (built when they change, else reused with
/// its compiled programs).
pub struct MappingMapper {
    env: EnvLookup,
    engine: Mutex<Option<(JqSettings, Arc<Engine>)>>,
}

impl std::fmt::Debug for MappingMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingMapper").finish_non_exhaustive()
    }
}

impl MappingMapper {
    /// A mapper whose engines read allow-listed variables through `env`.
    pub fn with_env(env: EnvLookup) -> Self {
        MappingMapper {
            env,
            engine: Mutex::new(None),
        }
    }

    /// The engine for `jq` settings: the last one when they did not change.
    fn engine(&self, jq: &JqSettings) -> Arc<Engine> {
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((settings, engine)) if settings == jq => Arc::clone(engine),
            _ => {
                let engine = Arc::new(Engine::new(engine_options(jq, &self.env)));
                *slot = Some((jq.clone(), Arc::clone(&engine)));
                engine
            }
        }
    }
}

impl Default for MappingMapper {
    /// An empty environment: `$ENV` exposes nothing whatever the allow-list says.
    fn default() -> Self {
        MappingMapper::with_env(Arc::new(|_| None))
    }
}

impl Mapper for MappingMapper {
    fn begin_run(&self) {
        let slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, engine)) = &*slot {
            engine.run_budget().reset();
        }
    }

    fn map(&self, resource: &Resource, settings: &Settings, items: &[Value]) -> Mapped {
        let engine = self.engine(&settings.jq);
        let result = crate::mapping::evaluate(resource, items, &engine);
        let mapped = result.entities.len();
        // Search-query identifiers resolve in Port, server-side: nothing to plan offline.
        let entities: Vec<Entity> = result
            .entities
            .into_iter()
            .filter_map(|m| m.entity)
            .collect();
        Mapped {
            failed_items: result.item_errors,
            findings: result.diagnostics,
            searched: mapped - entities.len(),
            rejected: result.rejected.len(),
            dropped: result.dropped,
            entities,
        }
    }
}

/// What one resource produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapped {
    /// Entities, in item order (items the selector dropped or that had no identifier left out).
    pub entities: Vec<Entity>,
    /// Items whose selector or identifier/blueprint failed: the kind is then incomplete.
    pub failed_items: usize,
    /// Per-field findings (jq errors, nulls), aggregated over the items.
    pub findings: Vec<FieldDiagnostic>,
    /// Entities identified by a search query: Port resolves those, so they are not planned.
    pub searched: usize,
    /// Items the selector rejected.
    pub rejected: usize,
    /// Items dropped for a null or empty identifier or blueprint.
    pub dropped: usize,
}

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
    /// Entities whose identifier is a search query: Port resolves those, so they are not
    /// planned.
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

/// Raw items for each resource, read once and shared by every evaluation.
pub trait Items: Send {
    /// The listing `resource` maps over (a kind the source lacks is incomplete and empty).
    fn listing(&mut self, resource: &Resource) -> Arc<Listing>;

    /// Forgets what was read, so the next listings come fresh from a live source. Fixed
    /// item sets (a snapshot, a test's items) keep theirs.
    fn refresh(&mut self) {}
}

/// A fixed set of listings (a snapshot read into memory, or a test's items).
#[derive(Clone, Debug, Default)]
pub struct Listings(pub BTreeMap<String, Arc<Listing>>);

impl Items for Listings {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let kind = resource.kind.as_str();
        self.0
            .entry(kind.to_string())
            .or_insert_with(|| {
                Arc::new(Listing::incomplete(
                    kind,
                    Vec::new(),
                    "the source has no items of this kind",
                ))
            })
            .clone()
    }
}

/// A snapshot's listings, each kind read and parsed on first use and then kept.
#[derive(Clone, Debug)]
pub struct SnapshotItems {
    snapshot: Snapshot,
    read: BTreeMap<String, Arc<Listing>>,
}

impl SnapshotItems {
    /// Wraps an opened snapshot; nothing is read yet.
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotItems {
            snapshot,
            read: BTreeMap::new(),
        }
    }
}

impl Items for SnapshotItems {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let kind = resource.kind.as_str();
        if let Some(l) = self.read.get(kind) {
            return l.clone();
        }
        let l = Arc::new(self.snapshot.listing(kind));
        self.read.insert(kind.to_string(), l.clone());
        l
    }
}

/// Listings fetched from a live source on first use, one per (kind, selector): a source
/// applies selector options server-side, so two resources of a kind may see different items.
/// Each listing is fetched once and kept for the life of this value.
pub struct LiveItems {
    source: Arc<dyn Source>,
    runtime: tokio::runtime::Runtime,
    fetched: BTreeMap<(String, String), Arc<Listing>>,
}

impl std::fmt::Debug for LiveItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveItems")
            .field("fetched", &self.fetched.len())
            .finish_non_exhaustive()
    }
}

impl LiveItems {
    /// Fetches from `source` on a runtime of its own (call `listing` outside async code).
    pub fn new(source: Arc<dyn Source>) -> std::io::Result<Self> {
        Ok(LiveItems {
            source,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            fetched: BTreeMap::new(),
        })
    }
}

impl Items for LiveItems {
    fn listing(&mut self, resource: &Resource) -> Arc<Listing> {
        let selector = resource.selector.to_object();
        let key = (
            resource.kind.clone(),
            Value::Object(selector.clone()).to_string(),
        );
        if let Some(l) = self.fetched.get(&key) {
            return l.clone();
        }
        let listing = Arc::new(
            self.runtime
                .block_on(self.source.fetch(&resource.kind, &selector)),
        );
        self.fetched.insert(key, listing.clone());
        listing
    }

    fn refresh(&mut self) {
        self.fetched.clear();
    }
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
}

/// Builds [`Desired`] from configs, remembering each resource's entities by content.
pub struct Evaluator {
    mapper: Arc<dyn Mapper>,
    cache: HashMap<String, Arc<Mapped>>,
}

impl Evaluator {
    /// An evaluator with an empty cache.
    pub fn new(mapper: Arc<dyn Mapper>) -> Self {
        Evaluator {
            mapper,
            cache: HashMap::new(),
        }
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
        let mut entities = Vec::new();
        let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
        let mut partial: BTreeMap<&str, String> = BTreeMap::new();
        let (mut reused, mut evaluated) = (0, 0);
        let mut findings = Vec::new();
        let mut resources = Vec::with_capacity(config.mapping.resources.len());
        for resource in &config.mapping.resources {
            let listing = items.listing(resource);
            let incomplete = (!listing.complete).then(|| {
                listing
                    .error
                    .clone()
                    .unwrap_or_else(|| "the listing is incomplete".into())
            });
            if let Some(why) = &incomplete {
                partial.insert(&resource.kind, why.clone());
            }
            // The listing's address identifies its items: listings are never mutated.
            let key = format!(
                "{}\n{settings_key}\n{:p}",
                fingerprint(resource),
                Arc::as_ptr(&listing)
            );
            let cached = self.cache.get(&key).cloned();
            let was_cached = cached.is_some();
            let mapped = match cached {
                Some(m) => {
                    reused += 1;
                    m
                }
                None => {
                    evaluated += 1;
                    Arc::new(self.mapper.map(resource, &config.settings, &listing.items))
                }
            };
            resources.push(ResourceStats {
                index: resource.index,
                kind: resource.kind.clone(),
                items: listing.items.len(),
                entities: mapped.entities.len(),
                searched: mapped.searched,
                rejected: mapped.rejected,
                dropped: mapped.dropped,
                item_errors: mapped.failed_items,
                reused: was_cached,
                incomplete,
                unauthorized: listing.is_unauthorized(),
            });
            if mapped.failed_items > 0 {
                *failed.entry(&resource.kind).or_insert(0) += mapped.failed_items;
            }
            entities.extend(mapped.entities.iter().cloned());
            findings.extend(repointed(&mapped.findings, resource));
            next.insert(key, mapped);
        }
        self.cache = next;

        let mut reasons: Vec<(String, String)> = partial
            .into_iter()
            .map(|(kind, why)| (kind.to_string(), why))
            .collect();
        reasons.extend(
            failed
                .into_iter()
                .map(|(kind, n)| (kind.to_string(), format!("{n} items failed to map"))),
        );
        let desired = Desired {
            entities,
            incomplete: sync::incomplete_kinds(&config.mapping, reasons),
            options: sync::write_options(&config.mapping),
            revision,
            relation_targets: sync::relation_targets(config),
            kinds: sync::kind_blueprints(&config.mapping),
        };
        Evaluation {
            desired,
            reused,
            evaluated,
            findings,
            resources,
        }
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
    use crate::config::{ConfigFiles, build_config};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Makes one entity per item, named after the resource's kind, counting calls.
    struct Counting(AtomicUsize);

    impl Mapper for Counting {
        fn map(&self, resource: &Resource, _: &Settings, items: &[Value]) -> Mapped {
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
