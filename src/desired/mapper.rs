//! How one resource's mapping is run: the [`Mapper`] trait the evaluator calls, and the
//! mapping module's evaluator behind it with the jq engine each config's settings ask for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::config::settings::JqSettings;
use crate::config::{Resource, Settings};
use crate::entity::Entity;
use crate::jq::{Engine, EngineOptions, Limits};
use crate::mapping::FieldDiagnostic;
use crate::search::SearchedEntity;

/// Evaluates one resource's selector and entity mapping over its kind's raw items.
pub trait Mapper: Send + Sync {
    /// Maps `items` — the listing of `resource.kind`, or the window of it that starts at
    /// position `first_index` — through `resource`.
    fn map(
        &self,
        resource: &Resource,
        settings: &Settings,
        items: &[Value],
        first_index: usize,
    ) -> Mapped;

    /// Maps `items` as [`Mapper::map`] does, and also the items the selector rejects, into
    /// [`Mapped::rejected_entities`]: for a live event, those are the entities to delete.
    /// The default maps the selected items only.
    fn map_all(&self, resource: &Resource, settings: &Settings, items: &[Value]) -> Mapped {
        self.map(resource, settings, items, 0)
    }

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

    fn map(
        &self,
        resource: &Resource,
        settings: &Settings,
        items: &[Value],
        first_index: usize,
    ) -> Mapped {
        let options = crate::mapping::Options {
            first_index,
            ..crate::mapping::Options::default()
        };
        self.run(resource, settings, items, options)
    }

    fn map_all(&self, resource: &Resource, settings: &Settings, items: &[Value]) -> Mapped {
        let options = crate::mapping::Options {
            parse_all: true,
            ..crate::mapping::Options::default()
        };
        self.run(resource, settings, items, options)
    }
}

impl MappingMapper {
    fn run(
        &self,
        resource: &Resource,
        settings: &Settings,
        items: &[Value],
        options: crate::mapping::Options,
    ) -> Mapped {
        let engine = self.engine(&settings.jq);
        let result = crate::mapping::evaluate_parallel(resource, items, &engine, options);
        // An identifier that is a search query names an existing entity: the catalog
        // resolves it (`crate::search`), so it travels apart from the planned entities.
        let mut entities = Vec::with_capacity(result.entities.len());
        let mut origins = Vec::with_capacity(result.entities.len());
        let mut searched = Vec::new();
        for m in result.entities {
            match m.entity {
                Some(entity) => {
                    origins.push(m.item.index);
                    entities.push(entity);
                }
                // Otherwise an identifier Port's API would refuse, with its finding.
                None => {
                    let document = m.json();
                    searched.extend(SearchedEntity::from_mapped(
                        &resource.kind,
                        m.item.id,
                        document,
                    ));
                }
            }
        }
        // A rejected item whose identifier is a search query deletes nothing: the entity it
        // names is not its own (Port's integration leaves those out of its deletes too).
        let rejected_entities = result
            .rejected_entities
            .into_iter()
            .filter_map(|m| Some((m.item.index, m.entity?)))
            .collect();
        Mapped {
            failed_items: result.item_errors,
            findings: result.diagnostics,
            searched,
            rejected: result.rejected.len(),
            dropped: result.dropped,
            entities,
            origins,
            rejected_entities,
        }
    }
}

impl Mapped {
    /// Folds the next window of the same resource's items into this result.
    pub fn absorb(&mut self, later: Mapped) {
        self.entities.extend(later.entities);
        self.origins.extend(later.origins);
        self.rejected_entities.extend(later.rejected_entities);
        self.failed_items += later.failed_items;
        crate::mapping::absorb_findings(&mut self.findings, later.findings);
        self.searched.extend(later.searched);
        self.rejected += later.rejected;
        self.dropped += later.dropped;
    }
}

/// What one resource produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapped {
    /// Entities, in item order (items the selector dropped or that had no identifier left out).
    pub entities: Vec<Entity>,
    /// For each entity, the position of the item it came from (in the whole listing); empty
    /// when the mapper does not say.
    pub origins: Vec<usize>,
    /// With [`Mapper::map_all`], the entities the items the selector rejected map to, each
    /// with its item's position.
    pub rejected_entities: Vec<(usize, Entity)>,
    /// Items whose selector or identifier/blueprint failed: the kind is then incomplete.
    pub failed_items: usize,
    /// Per-field findings (jq errors, nulls), aggregated over the items.
    pub findings: Vec<FieldDiagnostic>,
    /// Entities identified by a search query, which the catalog resolves.
    pub searched: Vec<SearchedEntity>,
    /// Items the selector rejected.
    pub rejected: usize,
    /// Items dropped for a null or empty identifier or blueprint.
    pub dropped: usize,
}
