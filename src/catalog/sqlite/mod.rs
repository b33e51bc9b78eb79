//! The embedded catalog: entities in a local SQLite file (`--target sqlite:PATH`).
//!
//! It owns the file's schema (migrated through `PRAGMA user_version`), the write semantics
//! that mirror Port's bulk upsert (`merge=true` merges property and relation keys,
//! `merge=false` replaces the entity), the ownership stamp (`datasource`) and the run
//! history. It knows nothing of plans: the reconciler talks to it through [`Catalog`].
//!
//! Choices, and why:
//! - **WAL + `synchronous=NORMAL`.** WAL lets `plan` read while `apply` or `serve` writes.
//!   In WAL mode `NORMAL` never corrupts the file and survives a crash of the process; only
//!   a power loss may roll back the last commits. That is acceptable because the catalog is
//!   level-triggered state: the next run rewrites whatever was lost, and `FULL` would cost
//!   an fsync per batch.
//! - **One transaction per call.** A batch is committed whole or not at all (entities
//!   refused one by one are simply not written), so an interrupted apply leaves a file in
//!   which every entity is either old or new, never half-written.
//! - **Ownership on overwrite.** Writing an entity that another datasource wrote overwrites
//!   its content *and* makes it ours, as Port does (the last writer's `$datasource` wins). The
//!   reconciler cannot tell its catalogs apart, so the rehearsal must behave like the real
//!   thing; it is also how a team adopts the entities of an integration it replaces.
//! - **Blocking work off the runtime.** Each call runs on `spawn_blocking` holding the one
//!   `Mutex<Connection>`: SQLite has one writer anyway, and a poisoned lock is recovered,
//!   since a panicking holder's open transaction is rolled back when it is dropped.
//!   `BENCHMARKS.md` ("plan") gives the cost of the hop, measured.
//! - **Blueprints beside the entities** (table `blueprints`, schema version 2; a file of
//!   version 1 is migrated on open and keeps its entities): each stored as its JSON document
//!   with the datasource that last wrote it. Creating, replacing and deleting follow Port's
//!   rules (an existing identifier is not created twice; a blueprint is not deleted while
//!   entities of it remain or another blueprint relates to it).
//! - Entities are not checked against the stored blueprints: a catalog file written before
//!   blueprints were stored, or for a config repository without `blueprints/`, keeps working.
//!   Relations are stored as given, so it neither checks relation targets
//!   (`createMissingRelatedEntities`) nor cascades deletes (`deleteDependentEntities`).
//!   Identifiers are checked against Port's pattern, so an entity Port would refuse is
//!   refused here too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};

use super::{Catalog, EntityOutcome, RunRecord, WriteOptions};
use crate::entity::merge_entity;
use crate::entity::{Entity, EntityKey};

/// Port's limit on entities per bulk upsert, enforced here too so tests catch oversize batches.
pub const MAX_UPSERT_BATCH: usize = 20;
/// Port's limit on identifiers per bulk delete.
pub const MAX_DELETE_BATCH: usize = 100;

/// Schema migrations, applied in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: entities and run history.
    "CREATE TABLE entities (
        blueprint   TEXT NOT NULL,
        identifier  TEXT NOT NULL,
        title       TEXT,            -- JSON text; SQL NULL = not set
        icon        TEXT,
        team        TEXT,
        properties  TEXT NOT NULL DEFAULT '{}',
        relations   TEXT NOT NULL DEFAULT '{}',
        datasource  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (blueprint, identifier)
    ) WITHOUT ROWID;
    CREATE INDEX entities_by_datasource ON entities (datasource, blueprint, identifier);
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY,
        finished_at      TEXT NOT NULL,
        datasource       TEXT NOT NULL,
        mapping_revision TEXT,
        created          INTEGER NOT NULL,
        updated          INTEGER NOT NULL,
        deleted          INTEGER NOT NULL,
        failed           INTEGER NOT NULL,
        blocked_deletes  INTEGER NOT NULL,
        unchanged        INTEGER NOT NULL
    );",
    // 2: blueprints, stored beside the entities.
    "CREATE TABLE blueprints (
        identifier  TEXT NOT NULL PRIMARY KEY,
        document    TEXT NOT NULL,  -- Port's blueprint JSON
        datasource  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) WITHOUT ROWID;",
];

/// SQLite's clock, to the millisecond, as an RFC 3339 UTC string.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// What went wrong inside the SQLite catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file could not be opened or configured.
    #[error("could not open the sqlite catalog {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The file's schema is newer than this build knows.
    #[error(
        "the sqlite catalog {path} has schema version {found}, newer than this adoport ({known}): upgrade adoport"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// `user_version` found in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Migrating the schema failed (the migration was rolled back).
    #[error("migrating the sqlite catalog to schema version {version} failed")]
    Migrate {
        /// The version being migrated to.
        version: usize,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A query or a write failed.
    #[error("a sqlite catalog query failed")]
    Query(#[from] rusqlite::Error),
    /// A stored row does not hold valid JSON where JSON belongs.
    #[error("the stored entity {key} is corrupt")]
    Corrupt {
        /// The entity.
        key: EntityKey,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A stored blueprint does not hold valid JSON.
    #[error("the stored blueprint {identifier} is corrupt")]
    CorruptBlueprint {
        /// The blueprint.
        identifier: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A batch is larger than Port accepts.
    #[error("a batch of {len} exceeds the limit of {max} per call")]
    BatchTooLarge {
        /// Entities in the batch.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A blueprint write Port would refuse too (the reason says which rule).
    #[error("blueprint {identifier}: {reason}")]
    BlueprintRefused {
        /// The blueprint.
        identifier: String,
        /// Why.
        reason: String,
    },
    /// The blocking task running the query did not finish.
    #[error("the sqlite catalog task did not finish")]
    Task(#[source] tokio::task::JoinError),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An entity as stored, with its bookkeeping: what `list_all` returns for tests and inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntity {
    /// The entity.
    pub entity: Entity,
    /// Who wrote it last.
    pub datasource: String,
    /// When it was first written (RFC 3339, UTC).
    pub created_at: String,
    /// When it was last written (RFC 3339, UTC).
    pub updated_at: String,
}

/// A run as stored in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    /// When it was recorded (RFC 3339, UTC).
    pub finished_at: String,
    /// The datasource that ran it.
    pub datasource: String,
    /// What it did.
    pub run: RunRecord,
}

/// The embedded SQLite catalog, opened for one datasource.
#[derive(Clone)]
pub struct SqliteCatalog {
    conn: Arc<Mutex<Connection>>,
    datasource: String,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCatalog")
            .field("path", &self.path)
            .field("datasource", &self.datasource)
            .finish_non_exhaustive()
    }
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file at `path` for `datasource`, migrating its
    /// schema. Parent directories are created, so the default `.adoport/catalog.sqlite`
    /// works on a fresh checkout.
    pub fn open(path: impl AsRef<Path>, datasource: impl Into<String>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A failure here resurfaces, with the path, as the open error below.
            let _ = std::fs::create_dir_all(parent);
        }
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Switching a new file to WAL while another process opens it can answer "busy" at
        // once, without the busy handler: tried again until the busy timeout.
        let started = std::time::Instant::now();
        loop {
            let set_up = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
                .map_err(open_err)
                .and_then(|()| migrate(&mut conn, &path));
            match set_up {
                Ok(()) => break,
                Err(Error::Open { source, .. } | Error::Migrate { source, .. })
                    if is_busy(&source) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(SqliteCatalog {
            conn: Arc::new(Mutex::new(conn)),
            datasource: datasource.into(),
            path,
        })
    }

    /// Takes the apply lock: an OS lock on `PATH.lock` (released by the OS if the process
    /// dies, so a `kill -9` leaves no stale lock), with the holder's pid written in it for
    /// the message another apply shows.
    fn apply_lock(&self) -> super::Result<std::fs::File> {
        use std::io::{Read, Seek, Write};
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        let failed = |e: std::io::Error| super::Error::WriteFailed(Box::new(e));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(super::Error::Busy {
                    catalog: format!("sqlite:{}", self.path.display()),
                    pid: if pid.is_empty() {
                        "?".into()
                    } else {
                        pid.into()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        write!(file, "{}", std::process::id()).map_err(failed)?;
        Ok(file)
    }

    /// Opens the catalog at `path` for reading only: a file that does not exist yet is an
    /// empty catalog held in memory, so a run that only plans never creates one.
    pub fn open_read_only(path: impl AsRef<Path>, datasource: impl Into<String>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.exists() {
            return Self::open(path, datasource);
        }
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        migrate(&mut conn, &path)?;
        Ok(SqliteCatalog {
            conn: Arc::new(Mutex::new(conn)),
            datasource: datasource.into(),
            path,
        })
    }

    /// Opens the catalog and writes `entities` stamped with another datasource: the state a
    /// catalog shared with another integration starts from, for tests.
    pub fn open_seeded(
        path: impl AsRef<Path>,
        datasource: impl Into<String>,
        seed_datasource: &str,
        entities: &[Entity],
    ) -> Result<Self> {
        let catalog = Self::open(path, datasource)?;
        catalog.seed(seed_datasource, entities)?;
        Ok(catalog)
    }

    /// Writes `entities` (replacing any with the same key) stamped with `datasource`, in one
    /// transaction and without batch limits. For tests and fixtures.
    pub fn seed(&self, datasource: &str, entities: &[Entity]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in entities {
            write_row(&tx, e, datasource)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The datasource this catalog writes as.
    pub fn datasource(&self) -> &str {
        &self.datasource
    }

    /// Every entity in the file, whoever wrote it, ordered by (blueprint, identifier).
    pub fn list_all(&self) -> Result<Vec<StoredEntity>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT blueprint, identifier, title, icon, team, properties, relations,
                    datasource, created_at, updated_at
             FROM entities ORDER BY blueprint, identifier",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(StoredEntity {
                entity: read_entity(row)?,
                datasource: row.get(7)?,
                created_at: row.get(8)?,
                updated_at: row.get(9)?,
            });
        }
        Ok(out)
    }

    /// The owned entities, read on the calling thread (what `list_owned` runs off the runtime).
    pub fn list_owned_blocking(&self) -> Result<Vec<Entity>> {
        list_owned(&self.lock(), &self.datasource)
    }

    /// The run history, oldest first.
    pub fn runs(&self) -> Result<Vec<StoredRun>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT finished_at, datasource, mapping_revision, created, updated, deleted,
                    failed, blocked_deletes, unchanged
             FROM runs ORDER BY id",
        )?;
        let runs = stmt
            .query_map([], |r| {
                Ok(StoredRun {
                    finished_at: r.get(0)?,
                    datasource: r.get(1)?,
                    run: RunRecord {
                        mapping_revision: r.get(2)?,
                        created: count(r.get(3)?),
                        updated: count(r.get(4)?),
                        deleted: count(r.get(5)?),
                        failed: count(r.get(6)?),
                        blocked_deletes: count(r.get(7)?),
                        unchanged: count(r.get(8)?),
                    },
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(runs)
    }

    /// Locks the connection. A poisoned lock is taken anyway: the panicking holder's
    /// transaction rolled back when dropped, so the connection is consistent.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let datasource = self.datasource.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard, &datasource)
        })
        .await
        .map_err(Error::Task)?
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn list_owned(&self) -> super::Result<Vec<Entity>> {
        self.blocking(|conn, ds| list_owned(conn, ds))
            .await
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    async fn stream_owned(&self, sink: &mut (dyn FnMut(Vec<Entity>) + Send)) -> super::Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Entity>>(STREAM_CHUNKS_IN_FLIGHT);
        let conn = Arc::clone(&self.conn);
        let datasource = self.datasource.clone();
        let producer = tokio::task::spawn_blocking(move || -> Result<()> {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = conn.prepare_cached(LIST_OWNED)?;
            let mut rows = stmt.query([datasource.as_str()])?;
            let mut chunk = Vec::with_capacity(STREAM_CHUNK);
            while let Some(row) = rows.next()? {
                chunk.push(read_entity(row)?);
                if chunk.len() == STREAM_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(STREAM_CHUNK));
                    if tx.blocking_send(full).is_err() {
                        return Ok(()); // The caller stopped listening.
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
            Ok(())
        });
        while let Some(chunk) = rx.recv().await {
            sink(chunk);
        }
        producer
            .await
            .map_err(Error::Task)
            .and_then(|r| r)
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    /// `LIST_OWNED` orders by the primary key, whose text compares as bytes (`BINARY`).
    fn lists_in_key_order(&self) -> bool {
        true
    }

    async fn upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: WriteOptions,
    ) -> super::Result<Vec<EntityOutcome>> {
        let blueprint = blueprint.to_owned();
        let entities = entities.to_vec();
        self.blocking(move |conn, ds| upsert(conn, ds, &blueprint, &entities, options.merge))
            .await
            .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    async fn delete(
        &self,
        blueprint: &str,
        identifiers: &[String],
        _options: WriteOptions,
    ) -> super::Result<Vec<EntityOutcome>> {
        let blueprint = blueprint.to_owned();
        let identifiers = identifiers.to_vec();
        self.blocking(move |conn, ds| delete(conn, ds, &blueprint, &identifiers))
            .await
            .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    async fn owned_among(&self, keys: &[EntityKey]) -> super::Result<Vec<Entity>> {
        let keys = keys.to_vec();
        self.blocking(move |conn, ds| owned_among(conn, ds, &keys))
            .await
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    async fn foreign_owners(
        &self,
        keys: &[EntityKey],
    ) -> super::Result<HashMap<EntityKey, Option<String>>> {
        let keys = keys.to_vec();
        self.blocking(move |conn, ds| foreign_owners(conn, ds, &keys))
            .await
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    async fn list_blueprints(&self) -> super::Result<Vec<Value>> {
        self.blocking(|conn, _| list_blueprints(conn))
            .await
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    async fn create_blueprint(&self, document: &Value) -> super::Result<()> {
        let doc = document.clone();
        self.blocking(move |conn, ds| write_blueprint(conn, ds, &doc, BlueprintWrite::Create))
            .await
            .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    async fn replace_blueprint(&self, document: &Value) -> super::Result<()> {
        let doc = document.clone();
        self.blocking(move |conn, ds| write_blueprint(conn, ds, &doc, BlueprintWrite::Replace))
            .await
            .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    async fn delete_blueprint(&self, identifier: &str) -> super::Result<()> {
        let id = identifier.to_owned();
        self.blocking(move |conn, _| delete_blueprint(conn, &id))
            .await
            .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    async fn find_by_queries(
        &self,
        blueprint: &str,
        queries: &[Value],
    ) -> super::Result<Vec<super::Matches>> {
        let bp = blueprint.to_owned();
        let queries = queries.to_vec();
        self.blocking(move |conn, _| find_by_queries(conn, &bp, &queries))
            .await
            .map_err(|e| super::Error::ListFailed(Box::new(e)))
    }

    fn lock_for_apply(&self) -> super::Result<Option<super::ApplyLock>> {
        self.apply_lock()
            .map(|file| Some(super::ApplyLock(Box::new(file))))
    }

    async fn record_run(&self, run: &RunRecord) -> super::Result<()> {
        let run = run.clone();
        self.blocking(move |conn, ds| {
            conn.execute(
                &format!(
                    "INSERT INTO runs (finished_at, datasource, mapping_revision, created, updated,
                                       deleted, failed, blocked_deletes, unchanged)
                     VALUES ({NOW}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    ds,
                    run.mapping_revision,
                    sql_count(run.created),
                    sql_count(run.updated),
                    sql_count(run.deleted),
                    sql_count(run.failed),
                    sql_count(run.blocked_deletes),
                    sql_count(run.unchanged)
                ],
            )?;
            Ok(())
        })
        .await
        .map_err(|e| super::Error::WriteFailed(Box::new(e)))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// SQLite integers are signed; counts never come near the limit.
fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Applies every migration newer than the file's `user_version`, each in its own transaction.
/// How long a statement waits for another process's lock on the file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether `e` is SQLite's "the file is locked by another connection".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = i + 1;
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process opening the same new file may have migrated it since the
            // version was read: read it again under the write lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now >= version as i64 {
                return tx.commit();
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version as i64)?;
            tx.commit()
        };
        run(conn).map_err(|source| Error::Migrate { version, source })?;
    }
    Ok(())
}

/// The owned entities, in key order.
const LIST_OWNED: &str = "SELECT blueprint, identifier, title, icon, team, properties, relations
     FROM entities WHERE datasource = ?1 ORDER BY blueprint, identifier";
/// Entities per chunk of `stream_owned`.
const STREAM_CHUNK: usize = 1024;
/// Chunks read ahead of the consumer: bounds the memory a slow consumer lets pile up.
const STREAM_CHUNKS_IN_FLIGHT: usize = 4;

/// The keys of `keys` stored under another datasource, with it. Point reads on the primary
/// key, skipped entirely when no other datasource has written anything.
fn foreign_owners(
    conn: &Connection,
    datasource: &str,
    keys: &[EntityKey],
) -> Result<HashMap<EntityKey, Option<String>>> {
    let mut out = HashMap::new();
    let any: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM entities WHERE datasource != ?1 LIMIT 1",
            [datasource],
            |r| r.get(0),
        )
        .optional()?;
    if any.is_none() {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT datasource FROM entities WHERE blueprint = ?1 AND identifier = ?2 AND datasource != ?3",
    )?;
    for key in keys {
        let owner: Option<String> = stmt
            .query_row(params![key.blueprint, key.identifier, datasource], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(owner) = owner {
            out.insert(key.clone(), Some(owner));
        }
    }
    Ok(out)
}

/// What each query matches among every entity of `blueprint`, whoever wrote it (as Port
/// searches the whole blueprint). The rows are read once and not held: each is checked
/// against every query still standing, so memory stays flat at any blueprint size.
fn find_by_queries(
    conn: &Connection,
    blueprint: &str,
    queries: &[Value],
) -> Result<Vec<super::Matches>> {
    // `matches` checks every rule whatever the entity, so one probe tells which queries
    // cannot be evaluated, even on an empty blueprint.
    let probe = Entity::new(String::new(), blueprint.to_owned());
    let mut found: Vec<super::Matches> = queries
        .iter()
        .map(|q| crate::search::matches(q, &probe).map(|_| Vec::new()))
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT blueprint, identifier, title, icon, team, properties, relations
         FROM entities WHERE blueprint = ?1 ORDER BY identifier",
    )?;
    let mut rows = stmt.query([blueprint])?;
    while let Some(row) = rows.next()? {
        let entity = read_entity(row)?;
        for (query, slot) in queries.iter().zip(found.iter_mut()) {
            let Ok(ids) = slot else { continue };
            match crate::search::matches(query, &entity) {
                Ok(true) => ids.push(entity.identifier.clone()),
                Ok(false) => {}
                Err(why) => *slot = Err(why),
            }
        }
    }
    Ok(found)
}

/// The entities of `keys` stamped with `datasource`: point reads on the primary key.
fn owned_among(conn: &Connection, datasource: &str, keys: &[EntityKey]) -> Result<Vec<Entity>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blueprint, identifier, title, icon, team, properties, relations
         FROM entities WHERE blueprint = ?1 AND identifier = ?2 AND datasource = ?3",
    )?;
    let mut out = Vec::new();
    for key in keys {
        let mut rows = stmt.query(params![key.blueprint, key.identifier, datasource])?;
        if let Some(row) = rows.next()? {
            out.push(read_entity(row)?);
        }
    }
    Ok(out)
}

fn list_owned(conn: &Connection, datasource: &str) -> Result<Vec<Entity>> {
    let mut stmt = conn.prepare_cached(LIST_OWNED)?;
    let mut rows = stmt.query([datasource])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_entity(row)?);
    }
    Ok(out)
}

/// Reads columns 0..=6 (blueprint … relations) into an entity.
fn read_entity(row: &rusqlite::Row<'_>) -> Result<Entity> {
    let mut entity = Entity::new(row.get::<_, String>(1)?, row.get::<_, String>(0)?);
    let corrupt = |entity: &Entity, source| Error::Corrupt {
        key: entity.key(),
        source,
    };
    let optional = |i: usize, entity: &Entity| -> Result<Option<Value>> {
        match row
            .get_ref(i)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?
        {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| corrupt(entity, e)),
        }
    };
    entity.title = optional(2, &entity)?;
    entity.icon = optional(3, &entity)?;
    entity.team = optional(4, &entity)?;
    let map = |i: usize, entity: &Entity| -> Result<Map<String, Value>> {
        serde_json::from_str(row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?)
            .map_err(|e| corrupt(entity, e))
    };
    entity.properties = map(5, &entity)?;
    entity.relations = map(6, &entity)?;
    Ok(entity)
}

/// Upserts one batch of one blueprint in one transaction.
fn upsert(
    conn: &mut Connection,
    datasource: &str,
    blueprint: &str,
    entities: &[Entity],
    merge: bool,
) -> Result<Vec<EntityOutcome>> {
    if entities.len() > MAX_UPSERT_BATCH {
        return Err(Error::BatchTooLarge {
            len: entities.len(),
            max: MAX_UPSERT_BATCH,
        });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(entities.len());
    for e in entities {
        let result = if e.blueprint != blueprint {
            Err(format!(
                "entity of blueprint {:?} sent in a batch for {blueprint:?}",
                e.blueprint
            ))
        } else if let Err(why) = check_identifier(&e.identifier) {
            Err(why)
        } else {
            let stored = if merge {
                read_one(&tx, blueprint, &e.identifier)?
            } else {
                None
            };
            let written = match stored {
                Some(stored) => merge_entity(stored, e),
                None => e.clone(),
            };
            write_row(&tx, &written, datasource)?;
            Ok(())
        };
        outcomes.push(EntityOutcome {
            key: e.key(),
            result,
        });
    }
    tx.commit()?;
    Ok(outcomes)
}

fn read_one(conn: &Connection, blueprint: &str, identifier: &str) -> Result<Option<Entity>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blueprint, identifier, title, icon, team, properties, relations
         FROM entities WHERE blueprint = ?1 AND identifier = ?2",
    )?;
    let mut rows = stmt.query([blueprint, identifier])?;
    match rows.next()? {
        Some(row) => read_entity(row).map(Some),
        None => Ok(None),
    }
}

/// Writes the whole row, keeping `created_at` of an existing row and taking ownership.
fn write_row(conn: &Connection, e: &Entity, datasource: &str) -> Result<()> {
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO entities (blueprint, identifier, title, icon, team, properties, relations,
                               datasource, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {NOW}, {NOW})
         ON CONFLICT (blueprint, identifier) DO UPDATE SET
             title = excluded.title, icon = excluded.icon, team = excluded.team,
             properties = excluded.properties, relations = excluded.relations,
             datasource = excluded.datasource, updated_at = excluded.updated_at"
    ))?;
    stmt.execute(params![
        e.blueprint,
        e.identifier,
        json(&e.title),
        json(&e.icon),
        json(&e.team),
        Value::Object(e.properties.clone()).to_string(),
        Value::Object(e.relations.clone()).to_string(),
        datasource,
    ])?;
    Ok(())
}

/// Deletes one batch in one transaction. A missing entity counts as deleted (Port treats a
/// 404 the same); an entity another datasource owns is refused, as a safety net: the
/// reconciler only ever deletes what `list_owned` returned.
fn delete(
    conn: &mut Connection,
    datasource: &str,
    blueprint: &str,
    identifiers: &[String],
) -> Result<Vec<EntityOutcome>> {
    if identifiers.len() > MAX_DELETE_BATCH {
        return Err(Error::BatchTooLarge {
            len: identifiers.len(),
            max: MAX_DELETE_BATCH,
        });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(identifiers.len());
    {
        let mut owner = tx.prepare_cached(
            "SELECT datasource FROM entities WHERE blueprint = ?1 AND identifier = ?2",
        )?;
        let mut del =
            tx.prepare_cached("DELETE FROM entities WHERE blueprint = ?1 AND identifier = ?2")?;
        for id in identifiers {
            let found: Option<String> =
                owner.query_row([blueprint, id], |r| r.get(0)).optional()?;
            let result = match found {
                Some(ds) if ds != datasource => {
                    Err("owned by another datasource: not deleted".to_owned())
                }
                Some(_) => {
                    del.execute([blueprint, id])?;
                    Ok(())
                }
                None => Ok(()),
            };
            outcomes.push(EntityOutcome {
                key: EntityKey {
                    blueprint: blueprint.to_owned(),
                    identifier: id.clone(),
                },
                result,
            });
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

/// Every stored blueprint document, by identifier.
fn list_blueprints(conn: &Connection) -> Result<Vec<Value>> {
    let mut stmt =
        conn.prepare_cached("SELECT identifier, document FROM blueprints ORDER BY identifier")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let text: String = row.get(1)?;
        let doc = serde_json::from_str(&text).map_err(|source| Error::CorruptBlueprint {
            identifier: id,
            source,
        })?;
        out.push(doc);
    }
    Ok(out)
}

/// How a blueprint write treats an existing one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlueprintWrite {
    /// Refused when it exists.
    Create,
    /// Refused when it does not.
    Replace,
}

/// Creates or replaces a blueprint, as Port's `POST /v1/blueprints` and `PUT …/{id}` do.
fn write_blueprint(
    conn: &mut Connection,
    datasource: &str,
    doc: &Value,
    mode: BlueprintWrite,
) -> Result<()> {
    let refused = |identifier: &str, reason: &str| Error::BlueprintRefused {
        identifier: identifier.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(id) = crate::blueprint::identifier(doc) else {
        return Err(refused("?", "the document has no identifier"));
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = blueprint_exists(&tx, id)?;
    match (mode, exists) {
        (BlueprintWrite::Create, true) => return Err(refused(id, "it exists already")),
        (BlueprintWrite::Replace, false) => return Err(refused(id, "it does not exist")),
        _ => {}
    }
    for target in crate::blueprint::depends_on(doc) {
        if !blueprint_exists(&tx, &target)? {
            return Err(refused(
                id,
                &format!("it relates to blueprint {target}, which does not exist"),
            ));
        }
    }
    let text = crate::blueprint::without_server_fields(doc).to_string();
    tx.execute(
        &format!(
            "INSERT INTO blueprints (identifier, document, datasource, created_at, updated_at)
             VALUES (?1, ?2, ?3, {NOW}, {NOW})
             ON CONFLICT (identifier) DO UPDATE SET
                 document = excluded.document, datasource = excluded.datasource,
                 updated_at = excluded.updated_at"
        ),
        params![id, text, datasource],
    )?;
    tx.commit()?;
    Ok(())
}

fn blueprint_exists(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM blueprints WHERE identifier = ?1",
            [id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Deletes a blueprint unless entities of it remain or another blueprint relates to it.
fn delete_blueprint(conn: &mut Connection, id: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let entities: i64 = tx.query_row(
        "SELECT count(*) FROM entities WHERE blueprint = ?1",
        [id],
        |r| r.get(0),
    )?;
    if entities > 0 {
        return Err(Error::BlueprintRefused {
            identifier: id.to_owned(),
            reason: format!(
                "{entities} entities of it remain; a blueprint delete never takes entities with it"
            ),
        });
    }
    let others = list_blueprints(&tx)?;
    if let Some(other) = others.iter().find(|d| {
        crate::blueprint::identifier(d) != Some(id) && crate::blueprint::depends_on(d).contains(id)
    }) {
        return Err(Error::BlueprintRefused {
            identifier: id.to_owned(),
            reason: format!(
                "blueprint {} relates to it",
                crate::blueprint::identifier(other).unwrap_or("?")
            ),
        });
    }
    tx.execute("DELETE FROM blueprints WHERE identifier = ?1", [id])?;
    tx.commit()?;
    Ok(())
}

/// Port's identifier rule: 1–1000 characters of letters, digits and `@_.+:\/=-`, not `.`
/// or `..`.
fn check_identifier(id: &str) -> std::result::Result<(), String> {
    let ok_char = |c: char| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/=-".contains(c);
    if id.is_empty() || id.chars().count() > 1000 {
        Err("identifier must be 1 to 1000 characters".to_owned())
    } else if id == "." || id == ".." {
        Err("identifier cannot be . or ..".to_owned())
    } else if let Some(c) = id.chars().find(|c| !ok_char(*c)) {
        Err(format!(
            "identifier contains {c:?}, outside Port's allowed characters (letters, digits, @_.+:\\/=-)"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
