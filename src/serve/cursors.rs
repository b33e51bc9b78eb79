//! The incremental passes' cursors, kept in `serve`'s database (a table of the queue's
//! SQLite file): per kind, the time from which the next incremental pass reads ADO's
//! changes.
//!
//! A cursor only moves after a pass (or a full resync) that read the kind completely and
//! was applied: to the time the pass *started*, less [`SKEW`], so that a change ADO dated
//! just before that moment (clocks differ; ADO stamps a change when it commits it) is read
//! again rather than missed. Reading a change twice is harmless: every read is of current
//! state. A cursor is written durably (`synchronous = FULL`), like the queue.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use super::state_db::StateDb;

/// How far before a pass's start its kinds' cursors are set.
pub const SKEW: Duration = Duration::from_secs(120);

/// Errors of the cursors table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or migrated.
    #[error("could not open the cursors in {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A read or write failed.
    #[error("the cursors table failed")]
    Database(#[from] rusqlite::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cursors (
    kind TEXT PRIMARY KEY NOT NULL,
    since_ms INTEGER NOT NULL
);
";

/// The cursors in a SQLite file.
pub struct Cursors {
    db: Arc<StateDb>,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursors").finish_non_exhaustive()
    }
}

impl Cursors {
    /// Opens the cursors in the database at `path` (creating the table).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let db = super::state_db::open(&path).map_err(open_err)?;
        Self::setup(db).map_err(open_err)
    }

    /// Cursors held in memory (tests).
    pub fn in_memory() -> Result<Self> {
        let db = super::state_db::in_memory().map_err(|source| Error::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::setup(db).map_err(|source| Error::Open {
            path: ":memory:".into(),
            source,
        })
    }

    fn setup(db: Arc<StateDb>) -> rusqlite::Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(Cursors { db })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock()
    }

    /// Every cursor, by kind.
    pub fn all(&self) -> Result<BTreeMap<String, jiff::Timestamp>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT kind, since_ms FROM cursors")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (kind, ms) = row?;
            if let Ok(at) = jiff::Timestamp::from_millisecond(ms) {
                out.insert(kind, at);
            }
        }
        Ok(out)
    }

    /// Moves the cursors of `kinds` to `started` − [`SKEW`] (a pass that started then read
    /// them completely and was applied). A cursor never moves back.
    pub fn advance(&self, kinds: &[String], started: jiff::Timestamp) -> Result<()> {
        let skew = jiff::SignedDuration::try_from(SKEW).unwrap_or_default();
        let at = (started - skew).as_millisecond();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO cursors (kind, since_ms) VALUES (?1, ?2)
                 ON CONFLICT (kind) DO UPDATE SET since_ms = MAX(since_ms, excluded.since_ms)",
            )?;
            for kind in kinds {
                stmt.execute(params![kind, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_moves_to_before_the_pass_started_and_never_back() {
        let cursors = Cursors::in_memory().unwrap();
        let t = |s: i64| jiff::Timestamp::from_second(s).unwrap();
        cursors.advance(&["build".into()], t(10_000)).unwrap();
        assert_eq!(cursors.all().unwrap()["build"], t(10_000 - 120));
        cursors.advance(&["build".into()], t(5_000)).unwrap();
        assert_eq!(cursors.all().unwrap()["build"], t(10_000 - 120));
    }
}
