//! The run-wide jq time budget: one handle shared by every evaluation an engine makes (and
//! by several engines, when a caller hands the same handle to each).
//!
//! A per-evaluation timeout bounds one field, not a run: a slow expression over many items
//! can still take minutes. The run budget adds up the wall-clock time of every jq
//! evaluation (summed over threads, so it reads like CPU time of the jq work) and, once the
//! total is spent, makes every further evaluation fail at once. An evaluation that is
//! running when the budget runs out is stopped at the budget's end, as it would be at its
//! own timeout. Plain-path and literal fields (the fast path) cost nothing, but they fail
//! too once the budget is spent, so a run never half-maps an item after that point.
//!
//! What to do about an exceeded budget (stop, report, mark kinds incomplete) is the
//! caller's concern: [`RunBudget::is_exceeded`] says whether it happened. The budget counts
//! from the engine's creation: a caller that keeps one engine for run after run (watch,
//! follow) calls [`RunBudget::reset`] at the start of each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The run budget when the settings name none: ten minutes of jq evaluation.
///
/// Port's default mapping costs a few microseconds per item here, so a run of a hundred
/// thousand items spends well under a second; ten minutes is only reached by expressions
/// that hit their per-evaluation timeout on item after item (300 items at the default 2 s),
/// which is a mistake to report rather than wait out.
pub const DEFAULT_RUN_BUDGET: Duration = Duration::from_secs(600);

/// A shareable run-wide jq time budget. Cloning shares it.
#[derive(Clone)]
pub struct RunBudget {
    inner: Arc<Inner>,
}

struct Inner {
    total: Option<Duration>,
    spent_nanos: AtomicU64,
    exceeded: AtomicBool,
}

impl std::fmt::Debug for RunBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunBudget")
            .field("total", &self.inner.total)
            .field("spent", &self.spent())
            .field("exceeded", &self.is_exceeded())
            .finish()
    }
}

impl RunBudget {
    /// A budget of `total` evaluation time.
    pub fn new(total: Duration) -> RunBudget {
        Self::with_total(Some(total))
    }

    /// A budget that never runs out (time is still counted).
    pub fn unlimited() -> RunBudget {
        Self::with_total(None)
    }

    /// A budget of `total`, or an unlimited one for `None`.
    pub fn with_total(total: Option<Duration>) -> RunBudget {
        RunBudget {
            inner: Arc::new(Inner {
                total,
                spent_nanos: AtomicU64::new(0),
                exceeded: AtomicBool::new(false),
            }),
        }
    }

    /// The whole budget, `None` when unlimited.
    pub fn total(&self) -> Option<Duration> {
        self.inner.total
    }

    /// Evaluation time charged so far.
    pub fn spent(&self) -> Duration {
        Duration::from_nanos(self.inner.spent_nanos.load(Ordering::Relaxed))
    }

    /// Time left, `None` when unlimited.
    pub fn remaining(&self) -> Option<Duration> {
        self.inner
            .total
            .map(|total| total.saturating_sub(self.spent()))
    }

    /// Whether the budget ran out: some evaluation was stopped or refused because of it.
    pub fn is_exceeded(&self) -> bool {
        self.inner.exceeded.load(Ordering::Relaxed)
    }

    /// Starts afresh, for a long-lived engine that serves one run after another (watch).
    pub fn reset(&self) {
        self.inner.spent_nanos.store(0, Ordering::Relaxed);
        self.inner.exceeded.store(false, Ordering::Relaxed);
    }

    /// The message every evaluation refused or stopped by the budget fails with.
    pub fn message(&self) -> String {
        let total = self.inner.total.unwrap_or_default();
        format!(
            "the run's jq time budget of {} s is spent; no further jq expressions are \
             evaluated in this run",
            format_secs(total)
        )
    }

    /// Whether an evaluation may start; marks the budget exceeded when it may not.
    pub(crate) fn admits(&self) -> bool {
        if self.is_exceeded() {
            return false;
        }
        if self.remaining().is_some_and(|r| r.is_zero()) {
            self.mark_exceeded();
            return false;
        }
        true
    }

    /// The deadline the run imposes on an evaluation starting at `now`, if any.
    pub(crate) fn deadline(&self, now: Instant) -> Option<Instant> {
        self.remaining().and_then(|r| now.checked_add(r))
    }

    /// Adds one evaluation's time.
    pub(crate) fn charge(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.inner.spent_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Records that an evaluation was stopped by the budget.
    pub(crate) fn mark_exceeded(&self) {
        self.inner.exceeded.store(true, Ordering::Relaxed);
    }
}

/// Whole seconds when the duration is whole, else with the fraction (`0.25`).
fn format_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        let text = format!("{:.3}", d.as_secs_f64());
        text.trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_admits_nothing_until_reset() {
        let budget = RunBudget::new(Duration::from_millis(10));
        assert!(budget.admits());
        budget.charge(Duration::from_millis(10));
        assert!(!budget.admits());
        assert!(budget.is_exceeded());
        budget.reset();
        assert!(budget.admits() && !budget.is_exceeded());
    }

    #[test]
    fn clones_share_one_budget() {
        let budget = RunBudget::new(Duration::from_secs(1));
        budget.clone().charge(Duration::from_millis(400));
        assert_eq!(budget.remaining(), Some(Duration::from_millis(600)));
        assert!(RunBudget::unlimited().remaining().is_none());
    }

    #[test]
    fn the_message_names_the_budget_in_seconds() {
        assert!(
            RunBudget::new(Duration::from_secs(600))
                .message()
                .starts_with("the run's jq time budget of 600 s is spent;")
        );
        assert!(
            RunBudget::new(Duration::from_millis(250))
                .message()
                .contains(" 0.25 s ")
        );
    }
}
