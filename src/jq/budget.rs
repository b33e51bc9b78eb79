//! Per-evaluation limits: a thread-local step budget, deadline, stack-depth guard and a
//! count of the bytes natives build.
//!
//! jaq evaluates lazily and recursively on the native stack, so every construct that can
//! loop or recurse (user definitions, `range`, `repeat`, `recurse`, `while`, `until`, …)
//! runs through `__guard`, which charges a step, checks the deadline every few hundred
//! steps and measures how much native stack the evaluation uses. Natives whose loops are
//! expensive per iteration (regex searches, path walks) charge through [`charge_timed`],
//! which reads the clock every time, and count what they build with [`charge_bytes`]. Once
//! tripped, the budget stays tripped until the evaluation ends, so a `try` cannot swallow
//! it for long.
//!
//! The run-wide budget (`run_budget`) is enforced here through the deadline: an evaluation's
//! deadline is the earlier of its own timeout and the run's remaining time.

use std::cell::Cell;
use std::time::Instant;

/// Native stack an evaluation may use below the point where it started.
const MAX_STACK_BYTES: usize = 1 << 20;
/// How often (in steps) the clock is read.
const CLOCK_EVERY: u64 = 256;

thread_local! {
    static STATE: State = const { State {
        steps: Cell::new(0),
        max_steps: Cell::new(u64::MAX),
        deadline: Cell::new(None),
        late: Cell::new(TIMEOUT),
        stack_base: Cell::new(0),
        tripped: Cell::new(None),
        active: Cell::new(false),
        max_bytes: Cell::new(usize::MAX),
        built: Cell::new(0),
    } };
}

struct State {
    steps: Cell<u64>,
    max_steps: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    /// Why passing the deadline stops the evaluation ([`TIMEOUT`] or [`RUN_SPENT`]).
    late: Cell<&'static str>,
    stack_base: Cell<usize>,
    tripped: Cell<Option<&'static str>>,
    active: Cell<bool>,
    max_bytes: Cell<usize>,
    built: Cell<usize>,
}

/// Why an evaluation was stopped.
pub(crate) const STEPS: &str = "step budget exceeded";
/// The evaluation ran past its deadline.
pub(crate) const TIMEOUT: &str = "evaluation timed out";
/// The evaluation ran past the end of the run's time budget.
pub(crate) const RUN_SPENT: &str = "the run's jq time budget is spent";
/// An output was larger than allowed.
pub(crate) const OUTPUT: &str = "output too large";
/// The evaluation recursed too deeply.
pub(crate) const DEPTH: &str = "recursion too deep";

/// What one evaluation may spend.
pub(crate) struct Allowance {
    /// Steps it may take.
    pub(crate) max_steps: u64,
    /// When it must stop.
    pub(crate) deadline: Option<Instant>,
    /// The reason given when the deadline passes ([`TIMEOUT`] or [`RUN_SPENT`]).
    pub(crate) late: &'static str,
    /// Largest value it may build, and the total natives may build, in bytes.
    pub(crate) max_bytes: usize,
}

/// An evaluation in progress on this thread; ends the budget when dropped.
pub(crate) struct Session {
    nested: bool,
}

/// Starts the budget for one evaluation on this thread.
pub(crate) fn start(allowance: Allowance) -> Session {
    STATE.with(|s| {
        if s.active.get() {
            return Session { nested: true };
        }
        s.active.set(true);
        s.steps.set(0);
        s.max_steps.set(allowance.max_steps);
        s.deadline.set(allowance.deadline);
        s.late.set(allowance.late);
        s.stack_base.set(stack_address());
        s.tripped.set(None);
        s.max_bytes.set(allowance.max_bytes);
        s.built.set(0);
        Session { nested: false }
    })
}

impl Session {
    /// The reason the budget tripped, if it did.
    pub(crate) fn tripped(&self) -> Option<&'static str> {
        STATE.with(|s| s.tripped.get())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.nested {
            STATE.with(|s| s.active.set(false));
        }
    }
}

/// Largest string or array an evaluation may build, in bytes.
pub(crate) fn max_bytes() -> usize {
    STATE.with(|s| {
        if s.active.get() {
            s.max_bytes.get()
        } else {
            usize::MAX
        }
    })
}

fn stack_address() -> usize {
    let probe = 0u8;
    std::ptr::addr_of!(probe) as usize
}

/// Charges `n` steps; fails once the budget, the deadline or the stack allowance is spent.
pub(crate) fn charge(n: u64) -> Result<(), &'static str> {
    charge_with(n, false)
}

/// Like [`charge`], but always reads the clock: for natives whose iterations are expensive
/// (a regex search, a walk over a large value), so a slow loop stops promptly.
pub(crate) fn charge_timed(n: u64) -> Result<(), &'static str> {
    charge_with(n, true)
}

fn charge_with(n: u64, timed: bool) -> Result<(), &'static str> {
    STATE.with(|s| {
        if let Some(why) = s.tripped.get() {
            return Err(why);
        }
        if !s.active.get() {
            return Ok(());
        }
        let before = s.steps.get();
        let steps = before.saturating_add(n);
        s.steps.set(steps);
        let read_clock = timed || before / CLOCK_EVERY != steps / CLOCK_EVERY;
        let why = if steps > s.max_steps.get() {
            Some(STEPS)
        } else if read_clock && s.deadline.get().is_some_and(|d| Instant::now() >= d) {
            Some(s.late.get())
        } else if s.stack_base.get().abs_diff(stack_address()) > MAX_STACK_BYTES {
            Some(DEPTH)
        } else {
            None
        };
        trip(s, why)
    })
}

/// Counts `n` bytes built by a native (paths, match objects, replaced strings) against the
/// evaluation's size allowance: a loop that builds much cannot exhaust memory before the
/// size of its result is checked.
pub(crate) fn charge_bytes(n: usize) -> Result<(), &'static str> {
    STATE.with(|s| {
        if let Some(why) = s.tripped.get() {
            return Err(why);
        }
        if !s.active.get() {
            return Ok(());
        }
        let built = s.built.get().saturating_add(n);
        s.built.set(built);
        trip(s, (built > s.max_bytes.get()).then_some(OUTPUT))
    })
}

fn trip(s: &State, why: Option<&'static str>) -> Result<(), &'static str> {
    match why {
        Some(why) => {
            s.tripped.set(Some(why));
            Err(why)
        }
        None => Ok(()),
    }
}

/// Wraps a stream so that producing each element costs one step.
pub(crate) struct Charged<I> {
    inner: I,
    done: bool,
}

impl<I> Charged<I> {
    pub(crate) fn new(inner: I) -> Self {
        Self { inner, done: false }
    }
}

/// Builds the error an exhausted budget yields inside the stream's item type.
pub(crate) trait BudgetError {
    fn budget(why: &'static str) -> Self;
}

impl<I, T, E> Iterator for Charged<I>
where
    I: Iterator<Item = Result<T, E>>,
    E: BudgetError,
{
    type Item = Result<T, E>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Err(why) = charge(1) {
            self.done = true;
            return Some(Err(E::budget(why)));
        }
        self.inner.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn allowance(max_steps: u64, deadline: Option<Instant>, max_bytes: usize) -> Allowance {
        Allowance {
            max_steps,
            deadline,
            late: TIMEOUT,
            max_bytes,
        }
    }

    #[test]
    fn a_timed_charge_reads_the_clock_on_every_call() {
        let _s = start(allowance(u64::MAX, Some(Instant::now()), usize::MAX));
        // An untimed charge reads the clock only every CLOCK_EVERY steps.
        assert_eq!(charge(1), Ok(()));
        assert_eq!(charge_timed(1), Err(TIMEOUT));
        assert_eq!(charge(1), Err(TIMEOUT), "a tripped budget stays tripped");
    }

    #[test]
    fn the_run_deadline_is_reported_as_the_run_budget() {
        let _s = start(Allowance {
            late: RUN_SPENT,
            ..allowance(u64::MAX, Some(Instant::now()), usize::MAX)
        });
        assert_eq!(charge_timed(1), Err(RUN_SPENT));
    }

    #[test]
    fn bytes_built_by_natives_add_up_to_the_size_allowance() {
        let _s = start(allowance(
            u64::MAX,
            Instant::now().checked_add(Duration::from_secs(60)),
            100,
        ));
        assert_eq!(charge_bytes(60), Ok(()));
        assert_eq!(charge_bytes(60), Err(OUTPUT));
    }
}
