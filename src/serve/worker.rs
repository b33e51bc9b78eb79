//! The worker: drains the queue in batches through a [`Handler`], and decides, in one
//! function ([`error_policy`]), what becomes of a signal that could not be handled.
//!
//! The handler never learns why it was called: it gets signals ("these entities may have
//! changed") and brings the catalog in line with ADO for them, level-triggered. A signal
//! leaves the queue only once its handler said so; a batch that fails as a whole is retried
//! with capped, jittered backoff, and after [`RetryPolicy::max_attempts`] a signal goes to
//! the dead letters with the last reason. The batch in hand is always finished before the
//! worker stops; what is still queued stays queued for the next process.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::{Notify, watch};

use super::app::Health;
use super::events::Signal;
use super::metrics::{Metrics, SignalOutcome};
use super::queue::{self, Claimed, Queue};

/// A boxed cause.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a whole batch could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The catalog could not be read or locked: it may answer later.
    #[error("the catalog could not be read or written")]
    Catalog(#[source] Cause),
    /// Some writes failed; the batch is tried again (writes are idempotent).
    #[error("{failed} catalog writes failed{}", .first.as_ref().map(|f| format!(", the first: {f}")).unwrap_or_default())]
    ApplyFailed {
        /// Entities not written or deleted.
        failed: usize,
        /// The first failure, as the catalog gave it (the entity and why).
        first: Option<String>,
    },
    /// The source or catalog could not be opened (a missing PAT, a bad URL): trying again
    /// will not help until the operator fixes it.
    #[error("the source or the catalog could not be opened")]
    Open(#[source] Cause),
    /// The handler is shutting down: the batch stays queued, no attempt is counted.
    #[error("the handler has stopped")]
    Stopped,
}

impl HandleError {
    /// Whether trying the batch again may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HandleError::Catalog(_) | HandleError::ApplyFailed { .. } | HandleError::Stopped
        )
    }
}

/// What became of one signal of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The catalog now matches ADO for it.
    Done,
    /// Nothing can be done for it, now or later (say why): it leaves the queue.
    Skipped(String),
    /// It could not be satisfied this time (say why): tried again, like a failed batch.
    Retry(String),
    /// It can never be satisfied as things stand (say why): straight to the dead letters.
    Refused(String),
}

/// A batch's result: one [`Outcome`] per signal, in order, and a line for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// Per signal, in the order given.
    pub outcomes: Vec<Outcome>,
    /// What the handler did, in a few words (`3 created, 1 updated`).
    pub summary: String,
}

/// Brings the catalog in line with ADO for a batch of signals.
#[async_trait]
pub trait Handler: Send + Sync {
    /// Handles `signals`; an error fails the whole batch.
    async fn handle(&self, signals: &[Signal]) -> Result<Handled, HandleError>;
}

/// How failed signals are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff step.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// Attempts (the first included) before a signal is given up on.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 1 s, doubling, capped at 5 minutes; given up on after 8 attempts (about 12 minutes).
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 8,
        }
    }
}

/// What to do with a signal whose attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this long.
    Retry(Duration),
    /// Move it to the dead letters.
    GiveUp,
}

/// The one retry policy of `serve`: a failure that may heal is retried after capped,
/// jittered exponential backoff until `max_attempts` attempts were made (`failed_before`
/// counts the earlier ones); one that cannot heal is given up on at once.
#[must_use]
pub fn error_policy(failed_before: u32, retryable: bool, policy: &RetryPolicy) -> Decision {
    if !retryable || failed_before.saturating_add(1) >= policy.max_attempts.max(1) {
        return Decision::GiveUp;
    }
    Decision::Retry(crate::http::backoff(failed_before, policy.base, policy.cap))
}

/// What one pass over the queue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Nothing was due.
    Idle,
    /// A batch of this many signals was handled (or scheduled for retry).
    Handled(usize),
    /// The handler has stopped: the batch stays queued.
    Stopped,
}

/// Drains the queue through a handler.
pub struct Worker {
    /// The queue.
    pub queue: Arc<dyn Queue>,
    /// The handler.
    pub handler: Arc<dyn Handler>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Readiness, told of progress.
    pub health: Arc<Health>,
    /// Woken by the webhook when something is queued.
    pub wake: Arc<Notify>,
    /// The retry policy.
    pub policy: RetryPolicy,
    /// Signals per batch.
    pub batch_size: usize,
}

/// The longest the worker sleeps without looking at the queue.
const IDLE_POLL: Duration = Duration::from_secs(5);

impl Worker {
    /// Drains until `stop` turns true; a batch in hand is finished first.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.pass().await {
                Ok(Pass::Handled(_)) => continue,
                Ok(Pass::Stopped) => return,
                Ok(Pass::Idle) => {}
                Err(e) => {
                    tracing::error!(error = %crate::http::error_chain(&e), "the queue could not be read");
                }
            }
            let wait = self.idle_wait().await;
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// How long to sleep when nothing is due: until the next row falls due, at most
    /// [`IDLE_POLL`].
    async fn idle_wait(&self) -> Duration {
        let queue = self.queue.clone();
        let next = tokio::task::spawn_blocking(move || queue.next_due())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        match next {
            Some(at) => at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(10), IDLE_POLL),
            None => IDLE_POLL,
        }
    }

    /// Claims one batch, hands it to the handler and settles every row.
    pub async fn pass(&self) -> queue::Result<Pass> {
        let queue = self.queue.clone();
        let limit = self.batch_size.max(1);
        let rows = blocking(move || queue.claim(limit, SystemTime::now())).await?;
        if rows.is_empty() {
            return Ok(Pass::Idle);
        }
        let signals: Vec<Signal> = rows.iter().map(|r| r.signal.clone()).collect();
        let started = std::time::Instant::now();
        let result = self.handler.handle(&signals).await;
        let mut done = Vec::new();
        let mut failed: Vec<(Claimed, bool, String)> = Vec::new();
        match result {
            Err(HandleError::Stopped) => return Ok(Pass::Stopped),
            Err(err) => {
                let reason = crate::http::error_chain(&err);
                tracing::warn!(signals = rows.len(), error = %reason, "a batch failed");
                if let HandleError::Catalog(_) = &err {
                    self.health.set_catalog_error(Some(reason.clone()));
                }
                self.metrics.batch("failed");
                let retryable = err.is_retryable();
                failed.extend(rows.into_iter().map(|r| (r, retryable, reason.clone())));
            }
            Ok(handled) => {
                self.metrics.batch("ok");
                self.health.set_catalog_error(None);
                let mut outcomes = handled.outcomes.into_iter();
                for row in rows {
                    match outcomes.next() {
                        Some(Outcome::Done) => {
                            self.metrics.signals(SignalOutcome::Done, 1);
                            done.push(row);
                        }
                        Some(Outcome::Skipped(why)) => {
                            tracing::info!(kind = %row.signal.kind, reason = %why, "signal skipped");
                            self.metrics.signals(SignalOutcome::Skipped, 1);
                            done.push(row);
                        }
                        Some(Outcome::Retry(why)) => failed.push((row, true, why)),
                        Some(Outcome::Refused(why)) => failed.push((row, false, why)),
                        None => failed.push((
                            row,
                            true,
                            "the handler gave no outcome for it".to_owned(),
                        )),
                    }
                }
                tracing::info!(signals = signals.len(), elapsed = ?started.elapsed(),
                    "handled a batch: {}", handled.summary);
                self.health.progress();
            }
        }
        let handled = done.len() + failed.len();
        let queue = self.queue.clone();
        let policy = self.policy;
        let metrics = self.metrics.clone();
        blocking(move || {
            // Every row is settled even when settling one fails: a row left unsettled would
            // wait (on NATS, for the ack wait) for no reason. The first failure is returned.
            let mut first_error = queue.complete(&done).err();
            let now = SystemTime::now();
            for (row, retryable, reason) in failed {
                let settled = match error_policy(row.attempts, retryable, &policy) {
                    Decision::Retry(after) => {
                        metrics.signals(SignalOutcome::Retried, 1);
                        queue.retry(&row, now + after, &reason)
                    }
                    Decision::GiveUp => {
                        tracing::warn!(kind = %row.signal.kind, key = %row.key,
                            attempts = row.attempts + 1, reason = %reason, "signal given up on");
                        metrics.signals(SignalOutcome::Dead, 1);
                        queue.dead_letter(&row, &reason, now)
                    }
                };
                if let Err(e) = settled {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        })
        .await?;
        Ok(Pass::Handled(handled))
    }
}

/// Runs a queue call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> queue::Result<T> + Send + 'static,
) -> queue::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        // A queue call panicked: a bug; surface it rather than hide it as "nothing due".
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(queue::Error::Interrupted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_failures_back_off_until_the_last_attempt() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
            max_attempts: 4,
        };
        for before in 0..3 {
            match error_policy(before, true, &policy) {
                Decision::Retry(after) => assert!(after <= Duration::from_millis(400)),
                Decision::GiveUp => panic!("gave up after {before}"),
            }
        }
        assert_eq!(error_policy(3, true, &policy), Decision::GiveUp);
        assert_eq!(error_policy(0, false, &policy), Decision::GiveUp);
    }
}
