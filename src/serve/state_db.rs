//! The one SQLite connection a process keeps to each of `serve`'s state files.
//!
//! The queue, the item traces and the cursors of one `serve` share a file. SQLite makes a
//! writer that finds the file locked poll with growing sleeps, which is not fair: a writer
//! committing in a loop, an fsync each, can starve another connection's writer past any
//! busy timeout. So every store of a process opens the file through [`open`], which hands
//! out one connection per file behind a mutex that wakes its waiters in turn. Another
//! process (`adoport status`) still has its own connection and meets the busy timeout, but
//! in WAL mode its reads never wait for a writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use rusqlite::Connection;

/// A state file's connection, shared by every store of the process that uses the file.
pub(crate) struct StateDb {
    conn: Mutex<Connection>,
}

/// The files open in this process, by their canonical path.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<StateDb>>>> = LazyLock::new(Default::default);

/// The connection to the file at `path`, opened (and the file created) on first use:
/// WAL, commits forced to disk (`synchronous = FULL`), a busy timeout for other processes.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Arc<StateDb>> {
    let key = canonical(path);
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(db) = open.get(&key).and_then(Weak::upgrade) {
        return Ok(db);
    }
    let db = Arc::new(StateDb::setup(Connection::open(path)?)?);
    open.retain(|_, db| db.strong_count() > 0);
    open.insert(key, Arc::downgrade(&db));
    Ok(db)
}

/// A connection to a database held in memory, private to its caller (tests, replays).
pub(crate) fn in_memory() -> rusqlite::Result<Arc<StateDb>> {
    Ok(Arc::new(StateDb::setup(Connection::open_in_memory()?)?))
}

/// `path` with its folder resolved, so that two spellings of one file share a connection.
/// The file itself may not exist yet.
fn canonical(path: &Path) -> PathBuf {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

impl StateDb {
    fn setup(conn: Connection) -> rusqlite::Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(StateDb {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, once no other store of the process is using it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_spellings_of_one_file_share_a_connection_and_a_closed_one_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir.path().join("state.sqlite")).unwrap();
        let b = open(&dir.path().join(".").join("state.sqlite")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = open(&dir.path().join("other.sqlite")).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        drop((a, b));
        let again = open(&dir.path().join("state.sqlite")).unwrap();
        let n: i64 = again
            .lock()
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
