//! A [`Catalog`] wrapper that fails on purpose, for the reconciler's fault tests: one batch
//! that always fails, every write after the first N (an apply killed midway), or a listing
//! that fails.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::catalog::{Catalog, EntityOutcome, Error, Result, RunRecord, WriteOptions};
use crate::entity::Entity;

/// Which faults to inject.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Fail (as a whole) every write call whose batch contains this identifier.
    pub fail_batch_containing: Option<String>,
    /// Let this many write calls through, then fail every later one.
    pub fail_after_writes: Option<usize>,
    /// Fail `list_owned`.
    pub fail_list: bool,
}

/// Wraps a catalog and injects [`Faults`]; everything else passes through.
pub struct FaultyCatalog<C> {
    inner: C,
    faults: Faults,
    writes: AtomicUsize,
}

impl<C: Catalog> FaultyCatalog<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, faults: Faults) -> Self {
        FaultyCatalog {
            inner,
            faults,
            writes: AtomicUsize::new(0),
        }
    }

    /// The wrapped catalog.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Write calls seen so far (failed ones included).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn check<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if self.faults.fail_after_writes.is_some_and(|max| n >= max) {
            return Err(Error::WriteFailed(
                "injected: the process was killed".into(),
            ));
        }
        if let Some(bad) = &self.faults.fail_batch_containing
            && ids.any(|id| id == bad)
        {
            return Err(Error::WriteFailed(
                "injected: HTTP 502 for this batch".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl<C: Catalog> Catalog for FaultyCatalog<C> {
    async fn list_owned(&self) -> Result<Vec<Entity>> {
        if self.faults.fail_list {
            return Err(Error::ListFailed("injected: listing cut short".into()));
        }
        self.inner.list_owned().await
    }

    async fn foreign_owners(
        &self,
        keys: &[crate::entity::EntityKey],
    ) -> Result<std::collections::HashMap<crate::entity::EntityKey, Option<String>>> {
        self.inner.foreign_owners(keys).await
    }

    async fn upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: WriteOptions,
    ) -> Result<Vec<EntityOutcome>> {
        self.check(entities.iter().map(|e| e.identifier.as_str()))?;
        self.inner.upsert(blueprint, entities, options).await
    }

    async fn delete(
        &self,
        blueprint: &str,
        identifiers: &[String],
        options: WriteOptions,
    ) -> Result<Vec<EntityOutcome>> {
        self.check(identifiers.iter().map(String::as_str))?;
        self.inner.delete(blueprint, identifiers, options).await
    }

    async fn list_blueprints(&self) -> Result<Vec<serde_json::Value>> {
        self.inner.list_blueprints().await
    }

    async fn create_blueprint(&self, document: &serde_json::Value) -> Result<()> {
        let id = crate::blueprint::identifier(document).unwrap_or_default();
        self.check(std::iter::once(id))?;
        self.inner.create_blueprint(document).await
    }

    async fn replace_blueprint(&self, document: &serde_json::Value) -> Result<()> {
        let id = crate::blueprint::identifier(document).unwrap_or_default();
        self.check(std::iter::once(id))?;
        self.inner.replace_blueprint(document).await
    }

    async fn delete_blueprint(&self, identifier: &str) -> Result<()> {
        self.check(std::iter::once(identifier))?;
        self.inner.delete_blueprint(identifier).await
    }

    fn resolves_search_on_write(&self) -> bool {
        self.inner.resolves_search_on_write()
    }

    async fn find_by_queries(
        &self,
        blueprint: &str,
        queries: &[serde_json::Value],
    ) -> Result<Vec<crate::catalog::Matches>> {
        self.inner.find_by_queries(blueprint, queries).await
    }

    async fn upsert_by_query(
        &self,
        blueprint: &str,
        documents: &[serde_json::Value],
        options: WriteOptions,
    ) -> Result<Vec<crate::catalog::SearchOutcome>> {
        self.check(std::iter::empty())?;
        self.inner
            .upsert_by_query(blueprint, documents, options)
            .await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<()> {
        self.inner.record_run(run).await
    }

    fn describe(&self) -> String {
        format!("faulty({})", self.inner.describe())
    }
}
