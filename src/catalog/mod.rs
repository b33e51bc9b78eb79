//! Where entities live: the `Catalog` trait the reconciler talks to.
//!
//! Two implementations exist and the reconciler cannot tell them apart: Port's REST API
//! (`port`) and the embedded SQLite catalog (`sqlite:PATH`). A catalog is opened for one
//! datasource id: every write it makes is stamped with that id, and `list_owned` returns
//! only entities stamped with it. That is the whole ownership model: nothing else is ever
//! listed for deletion.
//!
//! A catalog also holds the catalog's shape: its blueprints (Port's blueprint JSON), listed
//! for the plan (what to create or update, and each relation's target blueprint) and written
//! by `apply` before any entity that needs them.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::{Entity, EntityKey};

pub mod port;
pub mod sqlite;
pub mod target;

pub use sqlite::SqliteCatalog;
pub use target::{OpenMode, open};

/// Options that Port's bulk endpoints take, set from the mapping's top-level flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOptions {
    /// `enableMergeEntity`: merge properties into the existing entity instead of replacing it.
    pub merge: bool,
    /// `createMissingRelatedEntities`: create placeholder relation targets.
    pub create_missing_related_entities: bool,
    /// `deleteDependentEntities`: a delete also removes entities that depend on the target.
    pub delete_dependents: bool,
}

impl Default for WriteOptions {
    /// Port's defaults: all three flags on.
    fn default() -> Self {
        WriteOptions {
            merge: true,
            create_missing_related_entities: true,
            delete_dependents: true,
        }
    }
}

/// What happened to one entity of a batch write.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityOutcome {
    /// The entity the outcome is about.
    pub key: EntityKey,
    /// `Ok` when written, or the catalog's reason for refusing this entity alone.
    pub result: std::result::Result<(), String>,
}

/// What one search query matched: the identifiers of the entities, or why the catalog
/// cannot evaluate the query (an operator it does not support).
pub type Matches = std::result::Result<Vec<String>, String>;

/// What happened to one entity written by its search query: the identifier the catalog
/// resolved the query to, or the catalog's reason for refusing it.
pub type SearchOutcome = std::result::Result<String, String>;

/// One finished apply, as a catalog keeps it in its run history.
///
/// Counts are entities. The history answers "when did this catalog last change, from which
/// mapping revision, and how much" (a later `status` command) without asking the source again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The mapping's revision (a git commit id) when it is known.
    pub mapping_revision: Option<String>,
    /// Entities created.
    pub created: u64,
    /// Entities updated.
    pub updated: u64,
    /// Entities deleted.
    pub deleted: u64,
    /// Entities whose write or delete failed.
    pub failed: u64,
    /// Deletes a guard held back.
    pub blocked_deletes: u64,
    /// Entities already as desired (not written).
    pub unchanged: u64,
}

/// Holds a catalog's apply lock until dropped.
pub struct ApplyLock(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for ApplyLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplyLock")
    }
}

/// Errors a catalog raises for a whole call (per-entity refusals are `EntityOutcome`s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog could not be opened or reached.
    #[error("could not open the catalog {target}")]
    Open {
        /// The target as the user gave it, secrets excluded.
        target: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Listing the owned entities failed or was cut short: never read this as "empty".
    #[error("listing the entities owned by this datasource failed")]
    ListFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A whole write call failed (no entity of the batch is known to be written).
    #[error("writing to the catalog failed")]
    WriteFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Another process is applying to the same catalog.
    #[error("another apply is running on {catalog} (pid {pid}); try again when it has finished")]
    Busy {
        /// The catalog.
        catalog: String,
        /// The process holding the lock, as it wrote it (`?` when unreadable).
        pid: String,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place entities live, opened for one datasource.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Every entity stamped with this catalog's datasource, complete, or an error.
    async fn list_owned(&self) -> Result<Vec<Entity>>;

    /// The owned entities in chunks, handed to `sink` as they are read, so a caller can
    /// compare while listing instead of holding the whole listing (the planner drops each
    /// unchanged entity at once: at 100,000 entities this halves peak memory).
    ///
    /// On `Err` the chunks already handed over are a partial listing: discard them. The
    /// default hands over `list_owned` in one chunk.
    async fn stream_owned(&self, sink: &mut (dyn FnMut(Vec<Entity>) + Send)) -> Result<()> {
        sink(self.list_owned().await?);
        Ok(())
    }

    /// Of `keys`, the entities stamped with this catalog's datasource, complete, or an
    /// error: what a plan for a few entities (a live event) compares with, instead of every
    /// owned entity. The default filters the whole listing.
    async fn owned_among(&self, keys: &[EntityKey]) -> Result<Vec<Entity>> {
        let wanted: std::collections::HashSet<&EntityKey> = keys.iter().collect();
        let mut out = Vec::new();
        self.stream_owned(&mut |chunk| {
            out.extend(chunk.into_iter().filter(|e| wanted.contains(&e.key())));
        })
        .await?;
        Ok(out)
    }

    /// Creates or updates entities of one blueprint, stamping them with our datasource.
    /// A batch holds at most 20 entities; per-entity refusals come back as outcomes.
    async fn upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: WriteOptions,
    ) -> Result<Vec<EntityOutcome>>;

    /// Deletes entities of one blueprint by identifier (at most 100 per call).
    async fn delete(
        &self,
        blueprint: &str,
        identifiers: &[String],
        options: WriteOptions,
    ) -> Result<Vec<EntityOutcome>>;

    /// Of `keys`, those that entities of *another* datasource hold, with that datasource
    /// (or `None` when the catalog does not say which). The planner sets these apart from
    /// its creates: another writer's entity is never silently taken over (`--adopt` does).
    async fn foreign_owners(
        &self,
        keys: &[EntityKey],
    ) -> Result<HashMap<EntityKey, Option<String>>>;

    /// Every blueprint the catalog holds, as Port's blueprint JSON, complete, or an error (a
    /// failed listing is never read as "no blueprints").
    async fn list_blueprints(&self) -> Result<Vec<Value>>;

    /// Creates a blueprint; refused when one with its identifier exists, or when a blueprint
    /// it relates to does not.
    async fn create_blueprint(&self, document: &Value) -> Result<()>;

    /// Replaces a blueprint whole with `document`; refused when none has its identifier.
    async fn replace_blueprint(&self, document: &Value) -> Result<()>;

    /// Deletes a blueprint (one already gone counts as deleted). Refused while any entity of
    /// it remains, whoever wrote it, or while another blueprint relates to it: a blueprint
    /// delete never takes entities with it.
    async fn delete_blueprint(&self, identifier: &str) -> Result<()>;

    /// Whether this catalog resolves search-query identifiers itself, on write (Port): the
    /// entities are then sent as they are ([`Catalog::upsert_by_query`]). Otherwise the
    /// reconciler resolves them at plan time ([`Catalog::find_by_queries`]).
    fn resolves_search_on_write(&self) -> bool {
        false
    }

    /// For each of `queries` (search queries over one blueprint), the identifiers of the
    /// blueprint's entities, any datasource's, that it matches, or why this catalog cannot
    /// evaluate it; for a catalog that does not resolve search identifiers on write. `Err`
    /// when the catalog cannot be read. One call per blueprint: the blueprint is read once.
    async fn find_by_queries(&self, blueprint: &str, queries: &[Value]) -> Result<Vec<Matches>> {
        let _ = (blueprint, queries);
        Err(Error::ListFailed(
            "this catalog resolves search identifiers on write".into(),
        ))
    }

    /// Writes entities whose identifier is a search query (`documents`, Port's entity JSON,
    /// at most 20, one blueprint), for a catalog that resolves them on write: one outcome
    /// per document, in order, naming the entity the query resolved to.
    async fn upsert_by_query(
        &self,
        blueprint: &str,
        documents: &[Value],
        options: WriteOptions,
    ) -> Result<Vec<SearchOutcome>> {
        let _ = (blueprint, documents, options);
        Err(Error::WriteFailed(
            "this catalog does not resolve search identifiers on write".into(),
        ))
    }

    /// Takes the catalog's apply lock, held until the guard is dropped, so two applies never
    /// interleave their writes on one catalog. A catalog with no such lock (Port, whose API
    /// serialises nothing for us) returns `None`.
    fn lock_for_apply(&self) -> Result<Option<ApplyLock>> {
        Ok(None)
    }

    /// Appends a finished apply to the catalog's run history.
    ///
    /// Added to the trait (rather than kept by the caller) so the history lives with the data
    /// it describes: the SQLite catalog stores it in the same file. The default keeps nothing,
    /// which suits Port, where the integration's own sync history is Port's business.
    async fn record_run(&self, run: &RunRecord) -> Result<()> {
        let _ = run;
        Ok(())
    }

    /// A short description for output, such as `sqlite:.adoport/catalog.sqlite`. No secrets.
    fn describe(&self) -> String;
}
