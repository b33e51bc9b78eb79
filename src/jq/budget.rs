//! Per-evaluation limits: a thread-local step budget, deadline and stack-depth guard.
//!
//! jaq evaluates lazily and recursively on the native stack, so every construct that can
//! loop or recurse (user definitions, `range`, `repeat`, `recurse`, `while`, `until`, …)
//! runs through [`guard`], which charges a step, checks the deadline every few hundred
//! steps and measures how much native stack the evaluation uses. Once tripped, the budget
//! stays tripped until the evaluation ends, so a `try` cannot swallow it for long.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Native stack an evaluation may use below the point where it started.
const MAX_STACK_BYTES: usize = 1 << 20;
/// How often (in steps) the clock is read.
const CLOCK_EVERY: u64 = 256;

thread_local! {
    static STATE: State = const { State {
        steps: Cell::new(0),
        max_steps: Cell::new(u64::MAX),
        deadline: Cell::new(None),
        stack_base: Cell::new(0),
        tripped: Cell::new(None),
        active: Cell::new(false),
        max_bytes: Cell::new(usize::MAX),
    } };
}

struct State {
    steps: Cell<u64>,
    max_steps: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    stack_base: Cell<usize>,
    tripped: Cell<Option<&'static str>>,
    active: Cell<bool>,
    max_bytes: Cell<usize>,
}

/// Why an evaluation was stopped.
pub(crate) const STEPS: &str = "step budget exceeded";
/// The evaluation ran past its deadline.
pub(crate) const TIMEOUT: &str = "evaluation timed out";
/// An output was larger than allowed.
pub(crate) const OUTPUT: &str = "output too large";
/// The evaluation recursed too deeply.
pub(crate) const DEPTH: &str = "recursion too deep";

/// An evaluation in progress on this thread; ends the budget when dropped.
pub(crate) struct Session {
    nested: bool,
}

/// Starts the budget for one evaluation on this thread.
pub(crate) fn start(max_steps: u64, timeout: Duration, max_bytes: usize) -> Session {
    STATE.with(|s| {
        if s.active.get() {
            return Session { nested: true };
        }
        s.active.set(true);
        s.steps.set(0);
        s.max_steps.set(max_steps);
        s.deadline.set(Instant::now().checked_add(timeout));
        s.stack_base.set(stack_address());
        s.tripped.set(None);
        s.max_bytes.set(max_bytes);
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
        let why = if steps > s.max_steps.get() {
            Some(STEPS)
        } else if before / CLOCK_EVERY != steps / CLOCK_EVERY
            && s.deadline.get().is_some_and(|d| Instant::now() >= d)
        {
            Some(TIMEOUT)
        } else if s.stack_base.get().abs_diff(stack_address()) > MAX_STACK_BYTES {
            Some(DEPTH)
        } else {
            None
        };
        match why {
            Some(why) => {
                s.tripped.set(Some(why));
                Err(why)
            }
            None => Ok(()),
        }
    })
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
