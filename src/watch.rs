//! Watch mode: re-lint and re-plan a config folder on every save, fast enough to feel instant.
//!
//! [`Session::step`] is one re-plan: read the config's files, skip if their content is what
//! was last seen, then the [`Pipeline`]: the lint gate, the mapping (only resources whose
//! content changed are mapped again, and the items were parsed once), the plan against the
//! catalog as it is now and, with `apply`, the write. A save that does not lint yields
//! [`Event::Rejected`] and keeps the last good config: nothing is applied from it.
//!
//! [`run`] drives steps from file events: `notify` debounced (~300 ms), plus a periodic
//! rescan, because events can miss files written into a folder before its watch is attached
//! (and content hashing makes a rescan that finds nothing new cost only the reads). Editor
//! temporary files do not wake it. Events go out through a channel, so the terminal UI
//! (`cli/watch.rs`) and tests consume the same loop.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::config::diff::{MappingDiff, diff};
use crate::config::source::SourceFile;
use crate::config::{self, Config, ConfigFiles, Diagnostic, Loaded};
use crate::pipeline::{self, Pipeline};
use crate::reconcile::ApplyReport;

/// Errors that stop watch mode (a bad save never does: it becomes an [`Event`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file watcher could not be started on the folder.
    #[error("could not watch {path}")]
    WatchFailed {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: notify::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// How long file events settle before a re-plan (editors write in several steps).
    pub debounce: Duration,
    /// How often the folder is rescanned regardless of events.
    pub rescan: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(300),
            rescan: Duration::from_secs(2),
        }
    }
}

/// What a step produced.
#[derive(Debug)]
pub enum Event {
    /// A new config was planned (and applied, in apply mode).
    Planned(Box<Planned>),
    /// The save has errors: shown, and the last good state kept.
    Rejected(Box<Rejected>),
    /// The config folder could not be read (moved, no mapping), or the catalog could not be
    /// read: the last good state is kept.
    Unreadable(String),
}

/// A successful re-plan.
#[derive(Debug)]
pub struct Planned {
    /// The plan against the catalog, and what the mapping reported on the way.
    pub planned: pipeline::Planned,
    /// Warnings (no errors, or it would be rejected), with the files to quote.
    pub diagnostics: Vec<Diagnostic>,
    /// The files, for rendering diagnostics.
    pub sources: Vec<Arc<SourceFile>>,
    /// What changed in the mapping since the last good config (`None` on the first step).
    pub changed: Option<MappingDiff>,
    /// What the apply did, in apply mode when the plan had changes (or why it could not run).
    pub applied: Option<std::result::Result<ApplyReport, String>>,
    /// From reading the files to the plan (the apply excluded).
    pub elapsed: Duration,
}

/// A save that does not lint.
#[derive(Debug)]
pub struct Rejected {
    /// The findings and files.
    pub loaded: Loaded,
    /// Whether an earlier good config is still in force.
    pub kept_last_good: bool,
}

/// The state carried between saves: the pipeline (its evaluator's cache, the items and the
/// catalog) and the last good config.
pub struct Session {
    dir: PathBuf,
    pipeline: Pipeline,
    apply: bool,
    last_seen: Option<u64>,
    last_good: Option<Config>,
}

impl Session {
    /// A session over the config folder `dir`, planning (and with `apply`, applying) through
    /// `pipeline`. The catalog is read afresh on every plan, so a change another process
    /// made to it shows in the next save's plan.
    pub fn new(dir: impl Into<PathBuf>, pipeline: Pipeline, apply: bool) -> Self {
        Session {
            dir: dir.into(),
            pipeline,
            apply,
            last_seen: None,
            last_good: None,
        }
    }

    /// The folder being watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last config that linted clean, if any.
    pub fn last_good(&self) -> Option<&Config> {
        self.last_good.as_ref()
    }

    /// One re-plan if the files changed since the last step; `None` when they did not.
    pub fn step(&mut self) -> Option<Event> {
        let started = Instant::now();
        let files = match config::read_files(&self.dir) {
            Ok(f) => f,
            Err(e) => return self.unreadable(error_chain(&e)),
        };
        let seen = hash_files(&files);
        if self.last_seen == Some(seen) {
            return None;
        }
        let checked = match pipeline::gate(config::build_config(files), None) {
            pipeline::Gate::Passed(checked) => checked,
            pipeline::Gate::Refused(loaded) => {
                self.last_seen = Some(seen);
                return Some(Event::Rejected(Box::new(Rejected {
                    loaded: *loaded,
                    kept_last_good: self.last_good.is_some(),
                })));
            }
        };
        let planned = match self.pipeline.plan(&checked) {
            Ok(p) => p,
            // Not remembered as seen: the next step (or rescan) tries the catalog again.
            Err(e) => return Some(Event::Unreadable(error_chain(&e))),
        };
        self.last_seen = Some(seen);
        let elapsed = started.elapsed();
        let applied = (self.apply && planned.plan.has_changes())
            .then(|| self.pipeline.apply(&planned).map_err(|e| error_chain(&e)));
        let changed = self
            .last_good
            .as_ref()
            .map(|old| diff(old, &checked.config));
        let checked = *checked;
        self.last_good = Some(checked.config);
        Some(Event::Planned(Box::new(Planned {
            planned,
            diagnostics: checked.warnings,
            sources: checked.sources,
            changed,
            applied,
            elapsed,
        })))
    }

    /// An unreadable folder, reported once until the message changes.
    fn unreadable(&mut self, message: String) -> Option<Event> {
        let seen = hash_str(&message);
        if self.last_seen == Some(seen) {
            return None;
        }
        self.last_seen = Some(seen);
        Some(Event::Unreadable(message))
    }
}

/// Runs `session` until `stop` is set or the receiver of `events` is dropped: one step at
/// start, then one after each settled burst of file events and at every rescan tick.
pub fn run(
    mut session: Session,
    options: &WatchOptions,
    events: &Sender<Event>,
    stop: &AtomicBool,
) -> Result<()> {
    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    let mut debouncer = new_debouncer(
        options.debounce,
        None,
        move |result: DebounceEventResult| {
            let relevant = match &result {
                Ok(evs) => evs.iter().any(|e| {
                    !matches!(e.event.kind, notify::EventKind::Access(_))
                        && e.event.paths.iter().any(|p| !is_temp_file(p))
                }),
                // A watcher error may mean missed events: rescan.
                Err(_) => true,
            };
            if relevant {
                let _ = wake_tx.send(());
            }
        },
    )
    .map_err(|source| Error::WatchFailed {
        path: session.dir.clone(),
        source,
    })?;
    debouncer
        .watch(&session.dir, RecursiveMode::Recursive)
        .map_err(|source| Error::WatchFailed {
            path: session.dir.clone(),
            source,
        })?;

    if let Some(e) = session.step()
        && events.send(e).is_err()
    {
        return Ok(());
    }
    while !stop.load(Ordering::Relaxed) {
        match wake_rx.recv_timeout(options.rescan) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // One step covers every wake-up queued so far.
        while wake_rx.try_recv().is_ok() {}
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(e) = session.step()
            && events.send(e).is_err()
        {
            break;
        }
    }
    debouncer.stop_nonblocking();
    Ok(())
}

/// Editors' temporary and backup files (`.swp`, `~`, `.#name`, vim's `4913` probe).
pub fn is_temp_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.starts_with(".#")
        || name == "4913"
}

fn hash_files(files: &ConfigFiles) -> u64 {
    let mut h = DefaultHasher::new();
    files.mappings.hash(&mut h);
    files.settings.hash(&mut h);
    files.blueprints.hash(&mut h);
    h.finish()
}

fn hash_str(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_temporary_files_are_recognised() {
        for name in ["a.yaml~", ".a.yaml.swp", ".#a.yaml", "4913", "x.tmp"] {
            assert!(is_temp_file(Path::new(name)), "{name}");
        }
        assert!(!is_temp_file(Path::new("mappings/a.yaml")));
    }
}
