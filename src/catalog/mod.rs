//! Where entities live: the `Catalog` trait the reconciler talks to.
//!
//! Two implementations exist and the reconciler cannot tell them apart: Port's REST API
//! (`port`) and the embedded SQLite catalog (`sqlite:PATH`). A catalog is opened for one
//! datasource id: every write it makes is stamped with that id, and `list_owned` returns
//! only entities stamped with it. That is the whole ownership model: nothing else is ever
//! listed for deletion.

use async_trait::async_trait;

use crate::port::{Entity, EntityKey};

pub mod target;

pub use target::open;

/// Options that Port's bulk endpoints take, set from the mapping's top-level flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place entities live, opened for one datasource.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Every entity stamped with this catalog's datasource, complete, or an error.
    async fn list_owned(&self) -> Result<Vec<Entity>>;

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

    /// A short description for output, such as `sqlite:.adoport/catalog.sqlite`. No secrets.
    fn describe(&self) -> String;
}
