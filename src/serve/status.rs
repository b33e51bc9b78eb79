//! `adoport status`: what the queue database says about a `serve` process, running or not —
//! the queue's depth and oldest signal, the dead letters and why, and the last resyncs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::queue::{self, DeadLetter, PendingSignal, Queue, ResyncRecord, SqliteQueue, Stats};

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
}

/// Reads the status of the queue at `path`: at most `limit` waiting signals and dead letters
/// and `resyncs` resyncs, newest first.
pub fn read(path: &Path, limit: usize, resyncs: usize) -> Result<Status, Error> {
    if !path.is_file() {
        return Err(Error::Missing(path.to_path_buf()));
    }
    let q = SqliteQueue::open(path)?;
    Ok(Status {
        queue: q.stats(SystemTime::now())?,
        pending_by_kind: q.pending_by_kind()?,
        pending: q.pending(limit)?,
        dead_letters: q.dead_letters(limit)?,
        resyncs: q.resyncs(resyncs)?,
    })
}

fn age(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{:01}s", s, d.subsec_millis() / 100),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn when(ms: i64) -> String {
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
