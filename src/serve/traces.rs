//! Which ADO item each entity came from, kept in `serve`'s database (the queue's SQLite
//! file, a table of its own): how a live event that says "this work item is gone" finds the
//! entities to delete, whatever the mapping computes their identifiers from.
//!
//! Every full resync records the traces of the kinds it read completely (replacing what
//! was there) and adds those of the others; every applied targeted plan replaces the traces
//! of the scopes it read completely (`pipeline::TraceUpdate`). Losing the file loses
//! nothing that the next full resync does not rebuild; its writes share the file's
//! connection (`state_db`) and so its forced commits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior, params};

use super::state_db::StateDb;

use crate::ado::locate::Scope;
use crate::entity::EntityKey;
use crate::pipeline::targets::OriginsError;
use crate::pipeline::{NoOrigins, Origins, TraceUpdate, Traced};

/// Errors of the traces table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or migrated.
    #[error("could not open the traces in {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A read or write failed.
    #[error("the traces table failed")]
    Database(#[from] rusqlite::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Traces a runner reads (as [`Origins`]) and records after each applied plan.
pub trait Traces: Origins {
    /// Applies `update`: the traces of each scope read completely are replaced.
    fn record(&self, update: &TraceUpdate) -> std::result::Result<(), OriginsError>;
}

impl Traces for NoOrigins {
    fn record(&self, _: &TraceUpdate) -> std::result::Result<(), OriginsError> {
        Ok(())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS traces (
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    blueprint TEXT NOT NULL,
    identifier TEXT NOT NULL,
    PRIMARY KEY (kind, item, blueprint, identifier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_by_entity ON traces (blueprint, identifier);
";

/// The traces in a SQLite file.
pub struct SqliteTraces {
    db: Arc<StateDb>,
}

impl std::fmt::Debug for SqliteTraces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTraces").finish_non_exhaustive()
    }
}

impl SqliteTraces {
    /// Opens the traces in the database at `path` (creating the table).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let db = super::state_db::open(&path).map_err(open_err)?;
        Self::setup(db).map_err(open_err)
    }

    /// Traces held in memory (tests).
    pub fn in_memory() -> Result<Self> {
        let open_err = |source| Error::Open {
            path: ":memory:".into(),
            source,
        };
        let db = super::state_db::in_memory().map_err(open_err)?;
        Self::setup(db).map_err(open_err)
    }

    fn setup(db: Arc<StateDb>) -> rusqlite::Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(SqliteTraces { db })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock()
    }

    /// How many traces there are (for tests and status).
    pub fn count(&self) -> Result<u64> {
        let n: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn apply(&self, update: &TraceUpdate) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (kind, scope) in &update.replace {
            match scope {
                Scope::Kind => {
                    tx.execute("DELETE FROM traces WHERE kind = ?1", [kind])?;
                }
                Scope::Prefix(prefix) => {
                    tx.execute(
                        "DELETE FROM traces WHERE kind = ?1 AND item >= ?2 AND item < ?3",
                        params![kind, prefix, upper(prefix)],
                    )?;
                }
                Scope::Items(items) => {
                    let mut stmt =
                        tx.prepare_cached("DELETE FROM traces WHERE kind = ?1 AND item = ?2")?;
                    for item in items {
                        stmt.execute(params![kind, item])?;
                    }
                }
            }
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO traces (kind, item, blueprint, identifier)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for t in &update.rows {
                stmt.execute(params![t.kind, t.item, t.key.blueprint, t.key.identifier])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn select(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Traced>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok(Traced {
                kind: r.get(0)?,
                item: r.get(1)?,
                key: EntityKey {
                    blueprint: r.get(2)?,
                    identifier: r.get(3)?,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// The least text greater than every text starting with `prefix` (SQLite compares text
/// byte by byte; no UTF-8 text starts with a byte above `0xF4`).
fn upper(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Origins for SqliteTraces {
    fn within(&self, kind: &str, scope: &Scope) -> std::result::Result<Vec<Traced>, OriginsError> {
        const COLUMNS: &str = "SELECT kind, item, blueprint, identifier FROM traces";
        let found = match scope {
            Scope::Kind => self.select(&format!("{COLUMNS} WHERE kind = ?1"), &[&kind])?,
            Scope::Prefix(prefix) => self.select(
                &format!("{COLUMNS} WHERE kind = ?1 AND item >= ?2 AND item < ?3"),
                &[&kind, prefix, &upper(prefix)],
            )?,
            Scope::Items(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.select(
                        &format!("{COLUMNS} WHERE kind = ?1 AND item = ?2"),
                        &[&kind, item],
                    )?);
                }
                out
            }
        };
        Ok(found)
    }

    fn producers(&self, keys: &[EntityKey]) -> std::result::Result<Vec<Traced>, OriginsError> {
        let mut out = Vec::new();
        for key in keys {
            out.extend(self.select(
                "SELECT kind, item, blueprint, identifier FROM traces
                 WHERE blueprint = ?1 AND identifier = ?2",
                &[&key.blueprint, &key.identifier],
            )?);
        }
        Ok(out)
    }
}

impl Traces for SqliteTraces {
    fn record(&self, update: &TraceUpdate) -> std::result::Result<(), OriginsError> {
        Ok(self.apply(update)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: &str, item: &str, id: &str) -> Traced {
        Traced {
            kind: kind.into(),
            item: item.into(),
            key: EntityKey {
                blueprint: "b".into(),
                identifier: id.into(),
            },
        }
    }

    #[test]
    fn a_scope_read_completely_replaces_its_traces_and_leaves_the_others() {
        let traces = SqliteTraces::in_memory().unwrap();
        traces
            .record(&TraceUpdate {
                replace: Vec::new(),
                rows: vec![
                    t("branch", "r1/refs/heads/a", "a"),
                    t("branch", "r1/refs/heads/b", "b"),
                    t("branch", "r10/refs/heads/c", "c"),
                ],
            })
            .unwrap();
        let r1 = Scope::Prefix("r1/".into());
        assert_eq!(traces.within("branch", &r1).unwrap().len(), 2);
        traces
            .record(&TraceUpdate {
                replace: vec![("branch".into(), r1.clone())],
                rows: vec![t("branch", "r1/refs/heads/a", "a")],
            })
            .unwrap();
        assert_eq!(
            traces.within("branch", &r1).unwrap(),
            [t("branch", "r1/refs/heads/a", "a")]
        );
        assert_eq!(traces.count().unwrap(), 2, "r10 is not under r1/");
        let key = t("x", "y", "c").key;
        assert_eq!(traces.producers(&[key]).unwrap().len(), 1);
    }
}
