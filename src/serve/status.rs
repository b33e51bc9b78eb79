//! `adoport status`: what the queue database says about a `serve` process, running or not —
//! the queue's depth and oldest signal, the dead letters and why, and the last resyncs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::events::Signal;
use super::lease::LeaseInfo;
use super::queue::{self, Error as QueueError, Queue, ResyncRecord, SqliteQueue, Stats, unsigned};

/// Errors reading the status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// There is no queue database at the path.
    #[error("there is no queue at {} (has `adoport serve` run with this --queue?)", .0.display())]
    Missing(std::path::PathBuf),
    /// The database could not be read.
    #[error(transparent)]
    Queue(#[from] queue::Error),
}

/// A signal given up on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The signal.
    pub signal: Signal,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last one failed.
    pub reason: String,
    /// The newest event's type.
    pub last_event: String,
    /// Events coalesced into it.
    pub events: i64,
    /// When its first event came (ms since the epoch).
    pub first_seen_ms: i64,
    /// When it was given up on (ms since the epoch).
    pub dead_ms: i64,
}

/// A signal waiting in the queue, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSignal {
    /// The signal.
    pub signal: Signal,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Events coalesced into it.
    pub events: i64,
    /// When its first event came (ms since the epoch).
    pub first_seen_ms: i64,
    /// When it is due (ms since the epoch; 0: now).
    pub not_before_ms: i64,
}

/// Everything `status` shows.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Depth, ages, dead letters.
    pub queue: Stats,
    /// Pending signals per kind.
    pub pending_by_kind: BTreeMap<String, u64>,
    /// The waiting signals, most attempted first.
    pub pending: Vec<PendingSignal>,
    /// The newest dead letters.
    pub dead_letters: Vec<DeadLetter>,
    /// The newest resyncs.
    pub resyncs: Vec<ResyncRecord>,
    /// Who holds the resync lease (replicas sharing a NATS queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseInfo>,
}

impl SqliteQueue {
    /// The status of this queue (see [`Queue::status`]).
    pub(super) fn read_status(&self, limit: usize, resyncs: usize) -> Result<Status, QueueError> {
        Ok(Status {
            queue: self.stats(SystemTime::now())?,
            pending_by_kind: self.pending_by_kind()?,
            pending: self.pending(limit)?,
            dead_letters: self.dead_letters(limit)?,
            resyncs: self.resyncs(resyncs)?,
            lease: None,
        })
    }

    /// Every dead letter, newest first, at most `limit`.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT signal, attempts, reason, last_event, events, first_seen_ms, dead_ms
             FROM dead ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (signal, attempts, reason, last_event, events, first_seen_ms, dead_ms) = row?;
            out.push(DeadLetter {
                signal: serde_json::from_str(&signal).map_err(QueueError::BadSignal)?,
                attempts,
                reason,
                last_event,
                events,
                first_seen_ms,
                dead_ms,
            });
        }
        Ok(out)
    }

    /// The last `limit` resyncs, newest first.
    pub fn resyncs(&self, limit: usize) -> Result<Vec<ResyncRecord>, QueueError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT trigger, started_ms, finished_ms, outcome, complete, revision, entities,
                    incomplete, created, updated, deleted, failed, error
             FROM resyncs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let entities: String = r.get(6)?;
            let incomplete: String = r.get(7)?;
            Ok(ResyncRecord {
                trigger: r.get(0)?,
                started_ms: r.get(1)?,
                finished_ms: r.get(2)?,
                outcome: r.get(3)?,
                complete: r.get::<_, i64>(4)? != 0,
                revision: r.get(5)?,
                entities: serde_json::from_str(&entities).unwrap_or_default(),
                incomplete: serde_json::from_str(&incomplete).unwrap_or_default(),
                created: unsigned(r.get(8)?),
                updated: unsigned(r.get(9)?),
                deleted: unsigned(r.get(10)?),
                failed: unsigned(r.get(11)?),
                error: r.get(12)?,
                replica: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Waiting signals, most attempted first (then oldest), at most `limit`.
    pub fn pending(&self, limit: usize) -> Result<Vec<PendingSignal>, QueueError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT signal, attempts, last_error, events, first_seen_ms, not_before_ms
             FROM pending ORDER BY attempts DESC, seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (signal, attempts, last_error, events, first_seen_ms, not_before_ms) = row?;
            out.push(PendingSignal {
                signal: serde_json::from_str(&signal).map_err(QueueError::BadSignal)?,
                attempts,
                last_error,
                events,
                first_seen_ms,
                not_before_ms,
            });
        }
        Ok(out)
    }

    /// Pending rows per kind.
    pub fn pending_by_kind(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT kind, COUNT(*) FROM pending GROUP BY kind")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, unsigned(r.get::<_, i64>(1)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Reads the status of the queue at `path`: at most `limit` waiting signals and dead letters
/// and `resyncs` resyncs, newest first.
pub fn read(path: &Path, limit: usize, resyncs: usize) -> Result<Status, Error> {
    if !path.is_file() {
        return Err(Error::Missing(path.to_path_buf()));
    }
    let q = SqliteQueue::open(path)?;
    Ok(q.read_status(limit, resyncs)?)
}

/// A duration in milliseconds as people read it: `4.2s`, `3m05s`, `2h10m`.
#[must_use]
pub fn age(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{:01}s", s, d.subsec_millis() / 100),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A time (ms since the epoch) as an RFC 3339 timestamp.
#[must_use]
pub fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// The status as text for people.
#[must_use]
pub fn render_text(status: &Status) -> String {
    let mut out = String::new();
    let q = &status.queue;
    out.push_str(&format!("queue: {} pending ({} due)", q.pending, q.due));
    if let Some(ms) = q.oldest_age_ms {
        out.push_str(&format!(", oldest {}", age(ms)));
    }
    out.push_str(&format!(", {} dead letters\n", q.dead));
    for (kind, n) in &status.pending_by_kind {
        out.push_str(&format!("  {kind}: {n}\n"));
    }
    let retried: Vec<&PendingSignal> = status.pending.iter().filter(|p| p.attempts > 0).collect();
    if !retried.is_empty() {
        out.push_str("retrying (most attempted first):\n");
        for p in retried {
            let locator = serde_json::to_string(&p.signal.locator).unwrap_or_default();
            out.push_str(&format!(
                "  {} {locator}: {} failed attempts, next at {}: {}\n",
                p.signal.kind,
                p.attempts,
                when(p.not_before_ms),
                p.last_error.as_deref().unwrap_or("")
            ));
        }
    }
    if !status.dead_letters.is_empty() {
        out.push_str("dead letters (newest first):\n");
        for d in &status.dead_letters {
            let locator = serde_json::to_string(&d.signal.locator).unwrap_or_default();
            out.push_str(&format!(
                "  {} {} {locator} after {} attempts ({}, {} events): {}\n",
                when(d.dead_ms),
                d.signal.kind,
                d.attempts,
                d.last_event,
                d.events,
                d.reason
            ));
        }
    }
    if let Some(lease) = &status.lease {
        out.push_str(&format!("resync lease: {}\n", lease.describe()));
    }
    if status.resyncs.is_empty() {
        out.push_str("resyncs: none yet\n");
    } else {
        out.push_str("resyncs (newest first):\n");
        for r in &status.resyncs {
            let took = r
                .finished_ms
                .map(|f| age(u64::try_from(f - r.started_ms).unwrap_or(0)))
                .unwrap_or_else(|| "running".into());
            let entities: Vec<String> =
                r.entities.iter().map(|(k, n)| format!("{k} {n}")).collect();
            out.push_str(&format!(
                "  {} {} {} in {took}: {}, {} created, {} updated, {} deleted, {} failed",
                when(r.started_ms),
                r.trigger,
                r.outcome,
                if r.complete { "complete" } else { "incomplete" },
                r.created,
                r.updated,
                r.deleted,
                r.failed
            ));
            if !r.incomplete.is_empty() {
                out.push_str(&format!(" (incomplete: {})", r.incomplete.join(", ")));
            }
            if let Some(replica) = &r.replica {
                out.push_str(&format!(" on {replica}"));
            }
            out.push('\n');
            if !entities.is_empty() {
                out.push_str(&format!("    entities: {}\n", entities.join(", ")));
            }
            if let Some(e) = &r.error {
                out.push_str(&format!("    error: {e}\n"));
            }
        }
    }
    out
}
