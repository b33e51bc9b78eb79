//! Progress of long work (fetching, mapping, applying), told to whoever listens.
//!
//! The library reports; it never draws. A front end installs one [`Reporter`] for the
//! process (the CLI draws bars on a terminal, and installs nothing when stderr is not one,
//! with `--quiet`, or with JSON logs); with none installed every call is a no-op that
//! costs a load of an empty cell. A [`Task`] finishes when dropped, so an early return
//! never leaves a bar behind.

use std::sync::OnceLock;

/// Draws progress: one bar or spinner per task.
pub trait Reporter: Send + Sync {
    /// Starts a task called `label`, with `total` units when known (else a spinner).
    fn start(&self, label: &str, total: Option<u64>) -> Box<dyn Bar>;
}

/// One task's display.
pub trait Bar: Send + Sync {
    /// `n` more units done.
    fn inc(&self, n: u64);
    /// A short note beside the bar (counts, the current item).
    fn message(&self, text: String);
    /// The task is over: clear it.
    fn finish(&self);
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Installs the process's reporter; a second call is ignored (the first stays).
pub fn install(reporter: Box<dyn Reporter>) {
    let _ = REPORTER.set(reporter);
}

/// Starts a task; a no-op when no reporter is installed.
pub fn start(label: &str, total: Option<u64>) -> Task {
    Task {
        bar: REPORTER.get().map(|r| r.start(label, total)),
    }
}

/// A running task; finished when dropped.
pub struct Task {
    bar: Option<Box<dyn Bar>>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("shown", &self.bar.is_some())
            .finish()
    }
}

impl Task {
    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// A note beside the bar; `text` is only built when someone listens.
    pub fn message(&self, text: impl FnOnce() -> String) {
        if let Some(bar) = &self.bar {
            bar.message(text());
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
