//! The durable queue between the webhook and the worker: a SQLite file of its own.
//!
//! An accepted event's signals are committed (`synchronous = FULL`) before the webhook
//! answers 202, and a signal leaves the queue only once it was handled: a crash at any
//! point loses nothing, and a restart resumes where the last process stopped.
//!
//! - **Coalescing.** One row per entity ([`Signal::key`]): a second event for an entity
//!   already queued updates that row (newest signal, event count, `version` + 1) instead of
//!   adding one. Handlers read ADO's current state, so one read covers every event.
//! - **Order.** Rows are handed out in order of their first event; one row per entity keeps
//!   each entity's events in order.
//! - **Claims are versioned.** [`Queue::complete`] removes a row only if no event touched it
//!   while it was being handled; otherwise it stays, to be read again.
//! - **Retries and dead letters.** A failed row waits (`not_before`) and counts attempts;
//!   the worker's policy moves it to the `dead` table, with the reason, after the last.
//! - **Resyncs supersede.** A full resync that began after a row's last event and read its
//!   kind completely has handled it ([`Queue::supersede`]).
//!
//! The same file records every resync (start, end, entities per kind, completeness), which
//! `adoport status` reads (`status` holds the queries that only inspect). [`Queue`] is the
//! seam between engines: [`SqliteQueue`] for one process (the default), and
//! [`NatsQueue`](super::nats::NatsQueue), a JetStream work queue shared by replicas
//! (`--queue nats://HOST:PORT`); [`QueueSpec`] says which.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::events::Signal;
use super::lease::LeaseInfo;
use super::nats::NatsSpec;
use super::state_db::StateDb;
use super::status::Status;

/// Errors of the queue database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or migrated.
    #[error("could not open the queue database {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A read or write of the queue failed.
    #[error("the queue database failed")]
    Database(#[from] rusqlite::Error),
    /// A stored signal is not one this version reads.
    #[error("a queued signal could not be read")]
    BadSignal(#[source] serde_json::Error),
    /// A queue call was cut off (the runtime shutting down); nothing was committed by it
    /// that the queue's transactions do not account for.
    #[error("the queue call was interrupted")]
    Interrupted,
    /// `--queue` names no queue this version knows.
    #[error("`{0}` is not a queue: use sqlite:PATH or nats://HOST:PORT")]
    UnknownQueue(String),
    /// The NATS server failed a call, or is not set up for the queue.
    #[error(transparent)]
    Nats(#[from] super::nats::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch, as the database stores times.
#[must_use]
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time `ms` milliseconds after the epoch.
#[must_use]
pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A count as the database stores it (SQLite integers are signed).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count (never negative in practice; a negative one reads as 0).
pub(super) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The event that brought signals: what the queue keeps about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    /// `eventType`.
    pub event_type: String,
    /// When it was accepted.
    pub received: SystemTime,
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Signals that started a new row.
    pub new: usize,
    /// Signals folded into a row already queued for the same entity.
    pub coalesced: usize,
}

/// A queued row handed to the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The entity's key.
    pub key: String,
    /// The newest signal for it.
    pub signal: Signal,
    /// The row's version when claimed.
    pub version: i64,
    /// Failed attempts before this one.
    pub attempts: u32,
    /// Events coalesced into it.
    pub events: i64,
    /// The newest event's type.
    pub last_event: String,
    /// When its first event came.
    pub first_seen: SystemTime,
}

/// The queue at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Rows waiting (due or backing off).
    pub pending: u64,
    /// Rows due now.
    pub due: u64,
    /// Age of the oldest row's first event, in milliseconds.
    pub oldest_age_ms: Option<u64>,
    /// Age of the oldest row that is due now, in milliseconds.
    pub oldest_due_age_ms: Option<u64>,
    /// Dead letters.
    pub dead: u64,
}

/// One resync, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncRecord {
    /// Why it ran: `start`, `interval`, `config`.
    pub trigger: String,
    /// Start (ms since the epoch).
    pub started_ms: i64,
    /// End, once finished.
    pub finished_ms: Option<i64>,
    /// `ok`, `failed` or `running`.
    pub outcome: String,
    /// Whether every kind's listing was complete.
    pub complete: bool,
    /// The config's revision.
    pub revision: Option<String>,
    /// Entities mapped, per kind.
    pub entities: BTreeMap<String, u64>,
    /// Kinds whose listing was incomplete.
    pub incomplete: Vec<String>,
    /// Entities created, updated, deleted, failed.
    pub created: u64,
    /// See `created`.
    pub updated: u64,
    /// See `created`.
    pub deleted: u64,
    /// See `created`.
    pub failed: u64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The replica that ran it, when replicas share the queue (NATS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// Where signals wait: the webhook enqueues, the worker claims, completes, retries and
/// dead-letters; resyncs are recorded beside them. Calls block (run them off the async
/// runtime's threads).
pub trait Queue: Send + Sync {
    /// Commits an event's signals, coalescing each with a row queued for its entity.
    fn enqueue(&self, event: &EventMeta, signals: &[Signal]) -> Result<Enqueued>;
    /// Up to `limit` rows due at `now`, oldest first.
    fn claim(&self, limit: usize, now: SystemTime) -> Result<Vec<Claimed>>;
    /// Removes rows that no event touched since they were claimed.
    fn complete(&self, rows: &[Claimed]) -> Result<()>;
    /// Counts a failed attempt; the row is due again at `not_before`.
    fn retry(&self, row: &Claimed, not_before: SystemTime, reason: &str) -> Result<()>;
    /// Moves a row to the dead letters with `reason` (or, if an event touched it since it
    /// was claimed, gives it a fresh start instead).
    fn dead_letter(&self, row: &Claimed, reason: &str, now: SystemTime) -> Result<()>;
    /// Removes rows of `kinds` whose last event came before `before`: a complete resync
    /// that started then has read them. Returns how many.
    fn supersede(&self, kinds: &[String], before: SystemTime) -> Result<usize>;
    /// When the next row falls due, if any is waiting.
    fn next_due(&self) -> Result<Option<SystemTime>>;
    /// The queue at a glance.
    fn stats(&self, now: SystemTime) -> Result<Stats>;
    /// Records a resync's start; returns its id.
    fn resync_started(&self, trigger: &str, started: SystemTime) -> Result<i64>;
    /// Records a resync's end.
    fn resync_finished(&self, id: i64, record: &ResyncRecord) -> Result<()>;
    /// Everything `adoport status` and the status page show: at most `limit` waiting
    /// signals and dead letters, and the `resyncs` newest resyncs.
    fn status(&self, limit: usize, resyncs: usize) -> Result<Status>;
    /// Who holds the resync lease, when replicas share the queue; `None` for a queue of one
    /// process, whose resync always runs there.
    fn resync_lease(&self) -> Result<Option<LeaseInfo>> {
        Ok(None)
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    signal TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    events INTEGER NOT NULL DEFAULT 1,
    last_event TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS pending_due ON pending (not_before_ms, seq);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    signal TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    dead_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    last_event TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resyncs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    revision TEXT,
    entities TEXT NOT NULL DEFAULT '{}',
    incomplete TEXT NOT NULL DEFAULT '[]',
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
";

/// Which queue `--queue` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueSpec {
    /// `sqlite:PATH`: a file of this process's own.
    Sqlite(PathBuf),
    /// `nats://HOST:PORT[/NAME]`: JetStream streams shared by every replica.
    Nats(NatsSpec),
}

impl QueueSpec {
    /// Parses `--queue`: `sqlite:PATH` or `nats://HOST:PORT[/NAME]`.
    pub fn parse(spec: &str) -> Result<QueueSpec> {
        if spec.starts_with("nats://") {
            return Ok(QueueSpec::Nats(NatsSpec::parse(spec)?));
        }
        match spec.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => {
                Ok(QueueSpec::Sqlite(PathBuf::from(path)))
            }
            _ => Err(Error::UnknownQueue(spec.to_owned())),
        }
    }
}

impl std::fmt::Display for QueueSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            QueueSpec::Nats(spec) => write!(f, "{spec}"),
        }
    }
}

/// The queue in a SQLite file (WAL, `synchronous = FULL`: a commit survives a power loss).
pub struct SqliteQueue {
    db: Arc<StateDb>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteQueue {
    /// Opens (creating it and its folder if needed) the queue at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A failure here resurfaces, with the path, as the open error below.
            let _ = std::fs::create_dir_all(parent);
        }
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let db = super::state_db::open(&path).map_err(open_err)?;
        Self::setup(db, path.clone()).map_err(open_err)
    }

    /// A queue held in memory, for tests and one-off replays: nothing survives the process.
    pub fn in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let db = super::state_db::in_memory().map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        Self::setup(db, path.clone()).map_err(|source| Error::Open { path, source })
    }

    fn setup(db: Arc<StateDb>, path: PathBuf) -> rusqlite::Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(SqliteQueue { db, path })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock()
    }
}

impl Queue for SqliteQueue {
    fn enqueue(&self, event: &EventMeta, signals: &[Signal]) -> Result<Enqueued> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = millis(event.received);
        let mut done = Enqueued::default();
        for signal in signals {
            let key = signal.key();
            let json = serde_json::to_string(signal).map_err(Error::BadSignal)?;
            let existed: bool = tx
                .query_row("SELECT 1 FROM pending WHERE key = ?1", [&key], |_| Ok(()))
                .optional()?
                .is_some();
            tx.execute(
                "INSERT INTO pending (key, kind, signal, first_seen_ms, last_seen_ms, last_event)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET
                     signal = excluded.signal, last_seen_ms = excluded.last_seen_ms,
                     events = events + 1, last_event = excluded.last_event,
                     version = version + 1",
                params![key, signal.kind, json, now, event.event_type],
            )?;
            if existed {
                done.coalesced += 1;
            } else {
                done.new += 1;
            }
        }
        tx.commit()?;
        Ok(done)
    }

    fn claim(&self, limit: usize, now: SystemTime) -> Result<Vec<Claimed>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT key, signal, version, attempts, events, last_event, first_seen_ms
             FROM pending WHERE not_before_ms <= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![millis(now), limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, signal, version, attempts, events, last_event, first_seen) = row?;
            out.push(Claimed {
                key,
                signal: serde_json::from_str(&signal).map_err(Error::BadSignal)?,
                version,
                attempts,
                events,
                last_event,
                first_seen: from_millis(first_seen),
            });
        }
        Ok(out)
    }

    fn complete(&self, rows: &[Claimed]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for row in rows {
            tx.execute(
                "DELETE FROM pending WHERE key = ?1 AND version = ?2",
                params![row.key, row.version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn retry(&self, row: &Claimed, not_before: SystemTime, reason: &str) -> Result<()> {
        let reason = crate::secrets::scrub(reason);
        self.lock().execute(
            "UPDATE pending SET attempts = attempts + 1, not_before_ms = ?2, last_error = ?3
             WHERE key = ?1",
            params![row.key, millis(not_before), reason],
        )?;
        Ok(())
    }

    fn dead_letter(&self, row: &Claimed, reason: &str, now: SystemTime) -> Result<()> {
        let reason = crate::secrets::scrub(reason);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "INSERT INTO dead (key, kind, signal, first_seen_ms, dead_ms, events, last_event,
                               attempts, reason)
             SELECT key, kind, signal, first_seen_ms, ?3, events, last_event, attempts + 1, ?4
             FROM pending WHERE key = ?1 AND version = ?2",
            params![row.key, row.version, millis(now), reason],
        )?;
        if moved > 0 {
            tx.execute(
                "DELETE FROM pending WHERE key = ?1 AND version = ?2",
                params![row.key, row.version],
            )?;
        } else {
            // An event came while it was being handled: it deserves attempts of its own.
            tx.execute(
                "UPDATE pending SET attempts = 0, not_before_ms = 0, last_error = ?2
                 WHERE key = ?1",
                params![row.key, reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn supersede(&self, kinds: &[String], before: SystemTime) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut removed = 0;
        for kind in kinds {
            removed += tx.execute(
                "DELETE FROM pending WHERE kind = ?1 AND last_seen_ms < ?2",
                params![kind, millis(before)],
            )?;
        }
        tx.commit()?;
        Ok(removed)
    }

    fn next_due(&self) -> Result<Option<SystemTime>> {
        let due: Option<i64> =
            self.lock()
                .query_row("SELECT MIN(not_before_ms) FROM pending", [], |r| r.get(0))?;
        Ok(due.map(from_millis))
    }

    fn stats(&self, now: SystemTime) -> Result<Stats> {
        let conn = self.lock();
        let now_ms = millis(now);
        let age = |first: Option<i64>| first.map(|f| u64::try_from(now_ms - f).unwrap_or(0));
        let (pending, oldest): (i64, Option<i64>) = conn.query_row(
            "SELECT COUNT(*), MIN(first_seen_ms) FROM pending",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (due, oldest_due): (i64, Option<i64>) = conn.query_row(
            "SELECT COUNT(*), MIN(first_seen_ms) FROM pending WHERE not_before_ms <= ?1",
            [now_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let dead: i64 = conn.query_row("SELECT COUNT(*) FROM dead", [], |r| r.get(0))?;
        let (pending, due, dead) = (unsigned(pending), unsigned(due), unsigned(dead));
        Ok(Stats {
            pending,
            due,
            oldest_age_ms: age(oldest),
            oldest_due_age_ms: age(oldest_due),
            dead,
        })
    }

    fn resync_started(&self, trigger: &str, started: SystemTime) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO resyncs (trigger, started_ms, outcome) VALUES (?1, ?2, 'running')",
            params![trigger, millis(started)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn status(&self, limit: usize, resyncs: usize) -> Result<Status> {
        self.read_status(limit, resyncs)
    }

    fn resync_finished(&self, id: i64, r: &ResyncRecord) -> Result<()> {
        let entities = serde_json::to_string(&r.entities).unwrap_or_else(|_| "{}".into());
        let incomplete = serde_json::to_string(&r.incomplete).unwrap_or_else(|_| "[]".into());
        let error = r.error.as_deref().map(crate::secrets::scrub);
        self.lock().execute(
            "UPDATE resyncs SET finished_ms = ?2, outcome = ?3, complete = ?4, revision = ?5,
                 entities = ?6, incomplete = ?7, created = ?8, updated = ?9, deleted = ?10,
                 failed = ?11, error = ?12
             WHERE id = ?1",
            params![
                id,
                r.finished_ms,
                r.outcome,
                i64::from(r.complete),
                r.revision,
                entities,
                incomplete,
                signed(r.created),
                signed(r.updated),
                signed(r.deleted),
                signed(r.failed),
                error,
            ],
        )?;
        Ok(())
    }
}
