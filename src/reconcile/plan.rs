//! The planner: desired entities against the catalog's owned entities, into a [`Plan`].
//!
//! Pure and synchronous: no I/O, no clock, no runtime, so the same inputs always give the
//! same plan (STYLE.md rule 3). Level-triggered: it never learns why it runs (rule 4). It
//! owns the plan's data types, duplicate folding and the [`Planner`]; field comparison lives
//! in `diff`, the pruning guards in `guard` (a delete the plan does not list cannot happen,
//! rule 5).
//!
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::blueprints::{self, BlueprintPlan};
use super::diff::diff;
use super::guard::{Related, guard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::WriteOptions;
use crate::entity::merge_entity;
use crate::entity::{Entity, EntityKey};
use crate::search::SearchedEntity;
use crate::spill::{self, Entries, Grouped};

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
    /// Each relation's target blueprint, from the blueprints' schemas.
    pub relation_targets: RelationTargets,
    /// The blueprints each kind's resources write, by kind.
    pub kinds: BTreeMap<String, KindBlueprints>,
    /// The config repository's blueprints (`blueprints/*.json`), by identifier: planned
    /// against the catalog's when the catalog's are given ([`Planner::against`]).
    pub blueprints: BTreeMap<String, Value>,
    /// The blueprints the config repository ever declared (its git history), for
    /// `--prune-blueprints`; `None` when that history cannot be read.
    pub declared_ever: Option<BTreeSet<String>>,
    /// Entities whose identifier is a search query: [`crate::reconcile::plan_catalog`]
    /// resolves them against the catalog, or sets them apart to be sent as they are when the
    /// catalog resolves them on write. The pure [`plan`] leaves them out.
    pub searched: Vec<SearchedEntity>,
}

/// Which blueprint each relation points at (blueprint → relation → target blueprint), from
/// the blueprints' schemas: the config repository's `blueprints/`, or Port's blueprint API.
///
/// The relation-target guard matches a delete candidate by (target blueprint, identifier),
/// as Port's `_safe_delete` does; a relation whose target is not known here can only be
/// matched by identifier, and the plan says so.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationTargets(BTreeMap<String, BTreeMap<String, String>>);

impl RelationTargets {
    /// Reads the `relations.NAME.target` of each blueprint document (Port's blueprint JSON);
    /// later documents of the same blueprint win.
    pub fn from_blueprints<'a>(docs: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut out = RelationTargets::default();
        out.add(docs);
        out
    }

    /// Takes `other`'s relations over these, blueprint by blueprint: the config repository's
    /// blueprints over the catalog's, since apply writes them before any entity.
    pub fn overlay(&mut self, other: RelationTargets) {
        self.0.extend(other.0);
    }

    /// Adds (or replaces) the relations of `docs`.
    pub fn add<'a>(&mut self, docs: impl IntoIterator<Item = &'a Value>) {
        for doc in docs {
            let Some(id) = doc.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let relations = doc
                .get("relations")
                .and_then(Value::as_object)
                .map(|rels| {
                    rels.iter()
                        .filter_map(|(name, r)| {
                            let target = r.get("target").and_then(Value::as_str)?;
                            Some((name.clone(), target.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.0.insert(id.to_owned(), relations);
        }
    }

    /// The blueprint `relation` of `blueprint` points at, when its schema says.
    pub fn target(&self, blueprint: &str, relation: &str) -> Option<&str> {
        self.0
            .get(blueprint)
            .and_then(|rels| rels.get(relation))
            .map(String::as_str)
    }
}

/// A kind whose listing is partial: none of its blueprints' entities may be deleted, unless
/// the gaps are confined to some organizations and an entity is proven to be another's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncompleteKind {
    /// The ADO kind, as the mapping names it.
    pub kind: String,
    /// Why it is incomplete, for the plan's message.
    pub reason: String,
    /// The blueprints its resources map to.
    pub blueprints: KindBlueprints,
    /// When only some organizations' shares are incomplete: which, and how an owned entity
    /// is known to come from another. `None`: the whole kind is in doubt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confined: Option<Confined>,
}

/// The organizations an incomplete kind's gaps are confined to, and how to tell an owned
/// entity of a whole organization from one of an incomplete organization (see `guard`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confined {
    /// The organizations whose share of the kind is incomplete.
    pub incomplete: Vec<OrgNames>,
    /// The organizations whose share of the kind is whole.
    pub complete: Vec<OrgNames>,
    /// By blueprint: the properties the kind's resources map straight from an item's
    /// organization field (`.__organizationUrl` or `.__organizationName`).
    pub attribution: BTreeMap<String, Vec<OrgProperty>>,
}

/// An organization as an entity's properties may name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgNames {
    /// Its URL (`__organizationUrl`).
    pub url: String,
    /// Its name (`__organizationName`).
    pub name: String,
}

/// A property that holds the organization an entity came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgProperty {
    /// The property's key.
    pub property: String,
    /// Which of the organization's names it holds.
    pub field: OrgField,
}

/// Which of an organization's names a property holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrgField {
    /// `__organizationUrl`.
    Url,
    /// `__organizationName`.
    Name,
}

impl OrgField {
    /// The field of `org` this names.
    pub fn of<'a>(&self, org: &'a OrgNames) -> &'a str {
        match self {
            OrgField::Url => &org.url,
            OrgField::Name => &org.name,
        }
    }
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

/// Pruning guards: when deletes proceed, and whether another datasource's entities may be
/// taken over.
#[derive(Clone, Debug, PartialEq)]
pub struct Guards {
    /// `false` (`--no-prune`): deletes are listed as blocked, never applied.
    pub prune: bool,
    /// `entityDeletionThreshold`, 0 to 1: the largest share of owned entities one run deletes.
    pub deletion_threshold: f64,
    /// `--max-deletes N`: the most deletes one run makes.
    pub max_deletes: Option<usize>,
    /// `--allow-empty-kind`: kinds (or blueprints) whose every entity one run may delete.
    pub allow_empty: BTreeSet<String>,
    /// `--adopt`: an entity another datasource wrote under a key the mapping produces is
    /// taken over (re-stamped as ours) instead of held.
    pub adopt: bool,
    /// `--prune-blueprints`: blueprints the config repository once declared and declares no
    /// more are deleted, and entries a declared blueprint dropped are removed
    /// (`super::blueprints` has the rules).
    pub prune_blueprints: bool,
}

impl Default for Guards {
    /// Port's defaults (prune, threshold 0.9, no cap), no blueprint emptied at once, and
    /// no entity of another datasource taken over.
    fn default() -> Self {
        Guards {
            prune: true,
            deletion_threshold: 0.9,
            max_deletes: None,
            allow_empty: BTreeSet::new(),
            adopt: false,
            prune_blueprints: false,
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
    /// Entities to create, as they will be written (in a temporary file past a size).
    pub creates: Entries<Entity>,
    /// Entities to update, each with its field diff (in a temporary file past a size).
    pub updates: Entries<Update>,
    /// Owned entities to delete, as the catalog holds them.
    pub deletes: Vec<Entity>,
    /// Delete candidates a guard held back, grouped by reason.
    pub blocked: Vec<BlockedDeletes>,
    /// Owned entities already as desired.
    pub unchanged: usize,
    /// Keys the mapping produced more than once (folded, last resource winning).
    pub duplicates: Vec<Duplicate>,
    /// Keys the mapping produces that another datasource's entities hold: taken over when
    /// `adopted` (they stay in `creates`), else held (left out of `creates`).
    #[serde(default)]
    pub foreign: Vec<Foreign>,
    /// The catalog's blueprints: created and updated before the entities, deleted after.
    #[serde(default)]
    pub blueprints: BlueprintPlan,
    /// Entities identified by a search query, sent as they are for the catalog to resolve
    /// on write (Port, as its integration sends them): not compared, always written.
    #[serde(default)]
    pub searched: Vec<SearchedEntity>,
    /// Search-query identifiers the catalog resolved to no entity or to several: item
    /// errors (their kind is incomplete), nothing written for them.
    #[serde(default)]
    pub search_errors: Vec<SearchError>,
    /// Counts.
    pub summary: Summary,
}

/// A search-query identifier that did not resolve to exactly one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchError {
    /// The kind of the resource that mapped it.
    pub kind: String,
    /// The item it came from.
    pub item: String,
    /// The blueprint searched.
    pub blueprint: String,
    /// The query.
    pub query: Value,
    /// Why, for people: how many entities matched, or what the query uses that is not
    /// supported.
    pub message: String,
}

/// An entity another datasource wrote under a key the mapping produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Foreign {
    /// The entity.
    pub key: EntityKey,
    /// The datasource that owns it.
    pub owner: String,
    /// Whether this run takes it over (`--adopt`); otherwise it is left alone.
    pub adopted: bool,
}

impl Plan {
    /// Whether `apply` would write or delete anything, blueprints included (blocked deletes
    /// are not changes).
    pub fn has_changes(&self) -> bool {
        !(self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty())
            || self.blueprints.has_changes()
            || !self.searched.is_empty()
    }

    /// Why reading the plan's creates or updates back from their temporary file ended
    /// early, if it did: output or an apply made from such a read is incomplete.
    pub fn read_error(&self) -> Option<&str> {
        self.creates
            .read_error()
            .or_else(|| self.updates.read_error())
    }
}

impl Grouped for Entity {
    fn group(&self) -> &str {
        &self.blueprint
    }
}

impl Grouped for Update {
    fn group(&self) -> &str {
        &self.entity.blueprint
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
    /// Entities of another datasource this run takes over (`--adopt`), among `create`.
    #[serde(default)]
    pub adopt: usize,
    /// Entities of another datasource left alone (neither created nor overwritten).
    #[serde(default)]
    pub foreign_held: usize,
    /// Blueprints to create.
    #[serde(default)]
    pub blueprint_create: usize,
    /// Blueprints to update.
    #[serde(default)]
    pub blueprint_update: usize,
    /// Blueprints to delete.
    #[serde(default)]
    pub blueprint_delete: usize,
    /// Blueprint deletes a rule held back.
    #[serde(default)]
    pub blueprint_blocked_delete: usize,
    /// Entities sent with their search query, for the catalog to resolve on write.
    #[serde(default)]
    pub searched: usize,
    /// Search-query identifiers that resolved to no entity or several.
    #[serde(default)]
    pub search_error: usize,
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
    /// A desired entity's relation names it (with `createMissingRelatedEntities`, as Port).
    RelationTarget,
    /// A desired entity's relation names its identifier, and the relation's target blueprint
    /// is unknown (neither the config repository nor the catalog has the blueprint's
    /// schema): kept, since it may be the target.
    RelationTargetUnknown,
    /// Pruning is off.
    NoPrune,
    /// Every entity of a blueprint the mapping still writes would go (`--allow-empty-kind`).
    EmptiesBlueprint,
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
/// with merge off, whole. Equivalent to feeding `actual` to a [`Planner`] one by one.
pub fn plan(desired: Desired, actual: Vec<Entity>, guards: &Guards) -> Plan {
    let mut planner = Planner::new(desired, guards);
    for e in actual {
        planner.observe(e);
    }
    planner.finish()
}

/// The planner fed one owned entity at a time, so a listing can be compared while it
/// streams in: an unchanged pair is dropped as soon as it is seen, and the whole listing
/// is never held (see `BENCHMARKS.md`, "plan"). Pure, like [`plan`]: no I/O.
///
/// A caller whose listing fails midway must discard the planner: a partial listing would
/// turn every entity not yet seen into a create, and no guard could tell.
#[derive(Debug)]
pub struct Planner {
    guards: Guards,
    incomplete: Vec<IncompleteKind>,
    options: WriteOptions,
    revision: Option<String>,
    duplicates: Vec<Duplicate>,
    /// Desired entities by position; `None` once an owned entity with the key was observed.
    wanted: Vec<Option<Entity>>,
    /// blueprint → identifier → position in `wanted`.
    index: HashMap<String, HashMap<String, usize>>,
    /// What desired relations name, when `createMissingRelatedEntities` protects it.
    targets: Option<Targets>,
    /// Each relation's target blueprint, for the relations of entities a guard keeps.
    schemas: RelationTargets,
    /// The blueprints each kind writes.
    kinds: BTreeMap<String, KindBlueprints>,
    /// What the blueprint plan is made from.
    shape: Shape,
    /// Owned entities seen, by blueprint.
    owned_by_blueprint: HashMap<String, usize>,
    /// The owned entities observed are only those of some keys (a live event's), not the
    /// whole listing: the guards that judge a whole listing do not apply (see `guard`).
    scoped: bool,
    updates: Vec<Update>,
    candidates: Vec<Entity>,
    unchanged: usize,
    owned: usize,
}

impl Planner {
    /// Starts a plan for `desired`, folding its duplicates. Blueprints are not planned (the
    /// catalog's are not known): [`Planner::against`] plans them.
    pub fn new(desired: Desired, guards: &Guards) -> Self {
        Self::start(desired, None, guards)
    }

    /// Starts a plan for `desired` against a catalog holding `catalog_blueprints`: the
    /// declared blueprints are planned against these, and each relation's target blueprint
    /// is taken from the declared blueprints, else from these.
    pub fn against(desired: Desired, catalog_blueprints: Vec<Value>, guards: &Guards) -> Self {
        Self::start(desired, Some(catalog_blueprints), guards)
    }

    fn start(desired: Desired, catalog_blueprints: Option<Vec<Value>>, guards: &Guards) -> Self {
        let Desired {
            entities,
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
        let mut index: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let mut wanted: Vec<Option<Entity>> = Vec::with_capacity(entities.len());
        let mut counts: BTreeMap<EntityKey, usize> = BTreeMap::new();
        for e in entities {
            let ids = match index.get_mut(e.blueprint.as_str()) {
                Some(ids) => ids,
                None => index.entry(e.blueprint.clone()).or_default(),
            };
            match ids.get(e.identifier.as_str()) {
                Some(&i) => {
                    *counts.entry(e.key()).or_insert(1) += 1;
                    wanted[i] = Some(match wanted[i].take() {
                        Some(earlier) if options.merge => merge_entity(earlier, &e),
                        _ => e,
                    });
                }
                None => {
                    ids.insert(e.identifier.clone(), wanted.len());
                    wanted.push(Some(e));
                }
            }
        }
        let duplicates = counts
            .into_iter()
            .map(|(key, count)| Duplicate { key, count })
            .collect();
        let targets = options
            .create_missing_related_entities
            .then(|| Targets::of(wanted.iter().flatten(), &relation_targets));
        Planner {
            schemas: relation_targets,
            guards: guards.clone(),
            incomplete,
            options,
            revision,
            duplicates,
            wanted,
            index,
            targets,
            kinds,
            shape,
            owned_by_blueprint: HashMap::new(),
            scoped: false,
            updates: Vec::new(),
            candidates: Vec::new(),
            unchanged: 0,
            owned: 0,
        }
    }

    /// Starts a plan for `desired` that will observe only the owned entities of some keys
    /// (those `desired` names and the delete candidates of a live event), not the whole
    /// listing. Deletes stay behind every guard except the two that judge a whole listing
    /// (a blueprint emptied, the deletion threshold): a scoped delete rests on ADO's answer
    /// for that very item, never on an item missing from a listing.
    /// Relation targets come from the declared blueprints, else from `catalog_blueprints`;
    /// the blueprints themselves are left to full plans.
    pub fn scoped(desired: Desired, catalog_blueprints: Vec<Value>, guards: &Guards) -> Self {
        let mut planner = Self::start(desired, Some(catalog_blueprints), guards);
        planner.scoped = true;
        planner.shape.catalog = None;
        planner
    }

    /// Compares one owned entity. A key the catalog lists twice counts once.
    pub fn observe(&mut self, stored: Entity) {
        let position = self
            .index
            .get(stored.blueprint.as_str())
            .and_then(|ids| ids.get(stored.identifier.as_str()))
            .copied();
        let Some(i) = position else {
            self.count_owned(&stored.blueprint);
            self.candidates.push(stored);
            return;
        };
        let Some(entity) = self.wanted[i].take() else {
            return;
        };
        self.count_owned(&stored.blueprint);
        let changes = diff(&entity, &stored, self.options.merge);
        if changes.is_empty() {
            self.unchanged += 1;
        } else {
            self.updates.push(Update { entity, changes });
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

    /// Ends the listing: what was not seen is created, what was not wanted is a delete
    /// candidate, and the guards decide which candidates go.
    pub fn finish(self) -> Plan {
        let Planner {
            schemas,
            guards,
            incomplete,
            options,
            revision,
            duplicates,
            wanted,
            index,
            targets,
            kinds,
            shape,
            owned_by_blueprint,
            scoped,
            mut updates,
            mut candidates,
            unchanged,
            owned,
        } = self;
        let written: BTreeSet<String> = index.into_keys().collect();
        let mut creates: Vec<Entity> = wanted.into_iter().flatten().collect();
        creates.sort_by(key_cmp);
        updates.sort_by(|a, b| key_cmp(&a.entity, &b.entity));
        candidates.sort_by(key_cmp);
        candidates.dedup_by(|a, b| key_cmp(a, b).is_eq());
        let (deletes, blocked) = guard(
            candidates,
            &Counts {
                owned,
                by_blueprint: &owned_by_blueprint,
            },
            &incomplete,
            Related {
                desired: targets,
                schemas: &schemas,
            },
            &kinds,
            &guards,
            scoped,
        );
        let blueprints = shape.plan(
            &written,
            &owned_by_blueprint,
            &deletes,
            &incomplete,
            &guards,
        );
        assemble(Planned {
            revision,
            options,
            creates: Entries::from(creates),
            updates: Entries::from(updates),
            deletes,
            blocked,
            unchanged,
            duplicates,
            blueprints,
        })
    }
}

/// What the blueprint plan is made from, carried by a planner ([`Planner`] or
/// [`MergePlanner`](super::MergePlanner)) until its entities are planned: both plan the
/// catalog's shape the same way, here.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// The config repository's blueprints.
    pub(crate) declared: BTreeMap<String, Value>,
    /// The blueprints the config repository ever declared.
    pub(crate) declared_ever: Option<BTreeSet<String>>,
    /// The catalog's blueprints; `None`: not planned (the catalog's shape is not known).
    pub(crate) catalog: Option<Vec<Value>>,
}

impl Shape {
    /// Each relation's target blueprint: the config repository's blueprints (`declared`, as
    /// [`Desired::relation_targets`] gives them) over the catalog's, since apply writes them
    /// before any entity.
    pub(crate) fn relation_targets(&self, declared: RelationTargets) -> RelationTargets {
        let mut targets = RelationTargets::from_blueprints(self.catalog.iter().flatten());
        targets.overlay(declared);
        targets
    }

    /// Plans the blueprints once the entities are: `written`, the blueprints the mapping
    /// writes entities of; `owned_by_blueprint`, the owned entities listed; `deletes`, the
    /// entity deletes that proceed. No blueprint is deleted while a kind is incomplete.
    pub(crate) fn plan(
        self,
        written: &BTreeSet<String>,
        owned_by_blueprint: &HashMap<String, usize>,
        deletes: &[Entity],
        incomplete: &[IncompleteKind],
        guards: &Guards,
    ) -> BlueprintPlan {
        let Some(catalog) = &self.catalog else {
            return BlueprintPlan::default();
        };
        let mut remaining = owned_by_blueprint.clone();
        for e in deletes {
            if let Some(n) = remaining.get_mut(&e.blueprint) {
                *n = n.saturating_sub(1);
            }
        }
        let hold = (!incomplete.is_empty()).then(|| {
            let kinds: Vec<&str> = incomplete.iter().map(|k| k.kind.as_str()).collect();
            format!(
                "kind {} is incomplete this run, so no blueprint is deleted",
                kinds.join(", ")
            )
        });
        blueprints::plan(&blueprints::Inputs {
            declared: &self.declared,
            catalog,
            prune: guards.prune_blueprints,
            declared_ever: self.declared_ever.as_ref(),
            written,
            remaining: &remaining,
            hold,
        })
    }
}

/// A plan's parts, before its counts are taken.
pub(crate) struct Planned {
    pub(crate) revision: Option<String>,
    pub(crate) options: WriteOptions,
    pub(crate) creates: Entries<Entity>,
    pub(crate) updates: Entries<Update>,
    pub(crate) deletes: Vec<Entity>,
    pub(crate) blocked: Vec<BlockedDeletes>,
    pub(crate) unchanged: usize,
    pub(crate) duplicates: Vec<Duplicate>,
    pub(crate) blueprints: BlueprintPlan,
}

/// The plan of `parts`, with its counts (no creates set apart as another datasource's yet:
/// [`Plan::set_foreign`]).
pub(crate) fn assemble(parts: Planned) -> Plan {
    let Planned {
        revision,
        options,
        creates,
        updates,
        deletes,
        blocked,
        unchanged,
        duplicates,
        blueprints,
    } = parts;
    let summary = Summary {
        create: creates.len(),
        update: updates.len(),
        delete: deletes.len(),
        blocked_delete: blocked.iter().map(|b| b.entities.len()).sum(),
        unchanged,
        duplicate: duplicates.len(),
        adopt: 0,
        foreign_held: 0,
        blueprint_create: blueprints.creates.len(),
        blueprint_update: blueprints.updates.len(),
        blueprint_delete: blueprints.deletes.len(),
        blueprint_blocked_delete: blueprints.blocked.len(),
        searched: 0,
        search_error: 0,
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
        foreign: Vec::new(),
        blueprints,
        searched: Vec::new(),
        search_errors: Vec::new(),
        summary,
    }
}

impl Plan {
    /// Sets apart the creates whose key another datasource holds (`owners`: key → its
    /// datasource): with `adopt` they stay creates and are listed as taken over; without,
    /// they leave `creates` and are listed as held, so nothing of another writer is
    /// overwritten or, later, deleted as ours. Fails only when creates kept in a temporary
    /// file cannot be rewritten without the held ones.
    pub fn set_foreign(
        &mut self,
        owners: &HashMap<EntityKey, Option<String>>,
        adopt: bool,
    ) -> spill::Result<()> {
        if owners.is_empty() {
            return Ok(());
        }
        let mut foreign = Vec::new();
        for e in self.creates.iter() {
            let key = e.key();
            if let Some(owner) = owners.get(&key) {
                foreign.push(Foreign {
                    key,
                    owner: owner.clone().unwrap_or_else(|| "another datasource".into()),
                    adopted: adopt,
                });
            }
        }
        if !adopt && !foreign.is_empty() {
            self.creates.retain(|e| !owners.contains_key(&e.key()))?;
        }
        foreign.sort_by(|a, b| a.key.cmp(&b.key));
        let held = foreign.iter().filter(|f| !f.adopted).count();
        self.summary.create = self.creates.len();
        self.summary.adopt = foreign.len() - held;
        self.summary.foreign_held = held;
        self.foreign = foreign;
        Ok(())
    }
}

/// What the relations of desired entities name, for the relation-target guard.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    /// (target blueprint, identifier) of relations whose target blueprint is known.
    pub(crate) known: HashSet<(String, String)>,
    /// Identifiers named by relations whose target blueprint is unknown, with the
    /// `blueprint.relation` names that named them.
    pub(crate) loose: HashMap<String, BTreeSet<String>>,
}

impl Targets {
    fn of<'a>(entities: impl Iterator<Item = &'a Entity>, schemas: &RelationTargets) -> Self {
        Self::of_only(entities, schemas, |_| true)
    }

    /// What `entities`' relations name, keeping only the identifiers `keep` accepts (the
    /// merge planner keeps its delete candidates' alone).
    pub(crate) fn of_only<E: std::borrow::Borrow<Entity>>(
        entities: impl Iterator<Item = E>,
        schemas: &RelationTargets,
        keep: impl Fn(&str) -> bool,
    ) -> Self {
        let mut t = Targets::default();
        for e in entities {
            t.add_only(e.borrow(), schemas, &keep);
        }
        t
    }

    /// Adds what `e`'s relations name.
    pub(crate) fn add(&mut self, e: &Entity, schemas: &RelationTargets) {
        self.add_only(e, schemas, &|_| true);
    }

    /// Adds what `e`'s relations name, the identifiers `keep` accepts alone.
    fn add_only(&mut self, e: &Entity, schemas: &RelationTargets, keep: &dyn Fn(&str) -> bool) {
        for (relation, v) in &e.relations {
            let ids: Vec<&str> = match v {
                Value::String(id) => vec![id.as_str()],
                Value::Array(ids) => ids.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let ids: Vec<&str> = ids.into_iter().filter(|id| keep(id)).collect();
            match schemas.target(&e.blueprint, relation) {
                Some(target) => {
                    for id in ids {
                        self.known.insert((target.to_owned(), id.to_owned()));
                    }
                }
                None => {
                    for id in ids {
                        self.loose
                            .entry(id.to_owned())
                            .or_default()
                            .insert(format!("{}.{relation}", e.blueprint));
                    }
                }
            }
        }
    }
}

/// Owned entities, in all and by blueprint.
pub(crate) struct Counts<'a> {
    pub(crate) owned: usize,
    pub(crate) by_blueprint: &'a HashMap<String, usize>,
}

fn key_cmp(a: &Entity, b: &Entity) -> std::cmp::Ordering {
    (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier))
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
                .map(|e| e.identifier.clone())
                .collect::<Vec<_>>(),
            ["z"]
        );
        assert_eq!(p.updates.len(), 1);
        assert_eq!(
            p.updates.first().unwrap().changes,
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
        let fields: Vec<String> = replaced
            .updates
            .first()
            .unwrap()
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
            p.creates.first().unwrap().properties,
            *json!({"x": 1, "y": 2}).as_object().unwrap()
        );
        assert_eq!(p.creates.first().unwrap().title, Some(json!("first")));
        assert_eq!(
            p.duplicates,
            vec![Duplicate {
                key: first.key(),
                count: 2
            }]
        );

        let mut d = desired(vec![first, second.clone()]);
        d.options.merge = false;
        assert_eq!(
            plan(d, vec![], &Guards::default()).creates,
            Entries::from(vec![second])
        );
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
