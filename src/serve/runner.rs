//! The pipeline thread: every plan and apply of `serve` runs here, one at a time, with the
//! config in force; and [`ResyncHandler`], the handler that answers a batch of signals with
//! one full plan + apply.
//!
//! [`Pipeline`] blocks on a runtime of its own, so it lives on a plain thread, fed jobs by
//! [`Runner`]; the async side awaits each job's answer. One thread means the worker's
//! batches and the interval resyncs never apply at once, and a resync can never overlap
//! another. Each run opens a fresh pipeline over the catalog opened at start: a live source
//! is read afresh (parent lists included), and a snapshot folder is re-read as it is now.
//! A panic in a run is caught and becomes that run's error; the thread goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::events::Signal;
use super::worker::{HandleError, Handled, Handler, Outcome};
use crate::catalog::Catalog;
use crate::pipeline::{self, Access, Checked, Options, Pipeline, Planned, SourceSpec};
use crate::reconcile::ApplyReport;

/// Errors of one run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source could not be opened (no PAT, a bad organization URL, no snapshot).
    #[error("could not open the source")]
    Open(#[source] pipeline::open::Error),
    /// The pipeline could not be planned or applied (the catalog could not be read, or
    /// another apply holds its lock).
    #[error("the run failed")]
    Pipeline(#[source] pipeline::Error),
    /// The run panicked: a bug, reported as this run's failure.
    #[error("the run panicked: {0}")]
    Panicked(String),
    /// The pipeline thread has stopped.
    #[error("the pipeline thread has stopped")]
    Stopped,
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How each run opens its pipeline: the source named at start, over the catalog opened at
/// start, with the guards and write settings of the command line.
pub struct Opener {
    /// Where items come from.
    pub source: SourceSpec,
    /// The catalog every run writes.
    pub catalog: Arc<dyn Catalog>,
    /// The environment's secrets and overrides.
    pub access: Access,
    /// Guards and apply settings.
    pub options: Options,
}

impl Opener {
    fn open(&self, checked: &Checked) -> Result<Pipeline> {
        let items = pipeline::open::items(&self.source, &checked.config.settings, &self.access)
            .map_err(Error::Open)?;
        Pipeline::new(
            items,
            Some(self.catalog.clone()),
            &self.access,
            self.options.clone(),
        )
        .map_err(Error::Pipeline)
    }
}

/// One finished run.
#[derive(Debug)]
pub struct Run {
    /// When it started.
    pub started: SystemTime,
    /// How long it took.
    pub elapsed: Duration,
    /// The config's revision.
    pub revision: Option<String>,
    /// The plan, with what the mapping reported.
    pub planned: Planned,
    /// What apply did (`None` when only planned).
    pub report: Option<ApplyReport>,
    /// The kinds the config maps.
    pub mapped: BTreeSet<String>,
}

impl Run {
    /// Entities mapped per kind.
    #[must_use]
    pub fn entities(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in &self.planned.summary.resources {
            *out.entry(r.kind.clone()).or_default() += r.entities as u64;
        }
        out
    }

    /// Why `kind` was not read completely, if it was not (`None` when complete or not mapped).
    #[must_use]
    pub fn incomplete(&self, kind: &str) -> Option<String> {
        self.planned
            .summary
            .resources
            .iter()
            .filter(|r| r.kind == kind)
            .find_map(|r| r.incomplete.clone())
    }

    /// Whether ADO refused the credentials for `kind`.
    #[must_use]
    pub fn refused(&self, kind: &str) -> bool {
        self.planned
            .summary
            .resources
            .iter()
            .any(|r| r.kind == kind && r.unauthorized)
    }

    /// What the run did, in a few words.
    #[must_use]
    pub fn summary(&self) -> String {
        match &self.report {
            Some(r) => format!(
                "{} created, {} updated, {} deleted, {} unchanged, {} failed",
                r.created, r.updated, r.deleted, r.unchanged, r.failed
            ),
            None => crate::reconcile::render::text::summary_line(&self.planned.plan),
        }
    }
}

struct Job {
    apply: bool,
    reply: oneshot::Sender<Result<Run>>,
}

/// The handle on the pipeline thread; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    jobs: mpsc::Sender<Job>,
    config: Arc<Mutex<Arc<Checked>>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("revision", &self.config().revision)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Starts the pipeline thread, with `config` in force.
    pub fn start(opener: Opener, config: Checked) -> std::io::Result<Runner> {
        let (jobs, mut rx) = mpsc::channel::<Job>(16);
        let config = Arc::new(Mutex::new(Arc::new(config)));
        let current = config.clone();
        std::thread::Builder::new()
            .name("adoport-pipeline".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let checked = current
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        run(&opener, &checked, job.apply)
                    }))
                    .unwrap_or_else(|panic| Err(Error::Panicked(panic_text(&panic))));
                    let _ = job.reply.send(result);
                }
            })?;
        Ok(Runner { jobs, config })
    }

    /// The config in force.
    #[must_use]
    pub fn config(&self) -> Arc<Checked> {
        self.config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `checked` in force from the next run on.
    pub fn set_config(&self, checked: Checked) {
        *self
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(checked);
    }

    /// Plans the config in force against the catalog as it is, and applies the plan when
    /// `apply`. Waits for the runs queued before it.
    pub async fn run(&self, apply: bool) -> Result<Run> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { apply, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }
}

fn run(opener: &Opener, checked: &Checked, apply: bool) -> Result<Run> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut pipeline = opener.open(checked)?;
    let planned = pipeline.plan(checked).map_err(Error::Pipeline)?;
    let report = if apply {
        Some(pipeline.apply(&planned).map_err(Error::Pipeline)?)
    } else {
        None
    };
    Ok(Run {
        started,
        elapsed: clock.elapsed(),
        revision: checked.revision.clone(),
        mapped: checked
            .config
            .mapping
            .resources
            .iter()
            .map(|r| r.kind.clone())
            .collect(),
        planned,
        report,
    })
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// The simplest correct handler: whatever the signals, one full plan + apply of the config
/// in force, so the catalog ends in ADO's current state (deletes behind the usual guards).
/// Each signal is then judged by how its kind was read: complete → done; incomplete →
/// retried; refused credentials → dead letter; a kind no resource maps, or one this
/// version does not fetch → skipped.
#[derive(Clone, Debug)]
pub struct ResyncHandler {
    runner: Runner,
    apply: bool,
}

impl ResyncHandler {
    /// A handler that plans and applies through `runner`.
    #[must_use]
    pub fn new(runner: Runner) -> Self {
        ResyncHandler {
            runner,
            apply: true,
        }
    }

    /// A handler that only plans (for `event replay --dry-run`).
    #[must_use]
    pub fn planning_only(runner: Runner) -> Self {
        ResyncHandler {
            runner,
            apply: false,
        }
    }

    /// Handles `signals` and also returns the run it made, for callers that show it.
    pub async fn handle_run(&self, signals: &[Signal]) -> Result<(Handled, Run), HandleError> {
        let run = self.runner.run(self.apply).await.map_err(|e| match e {
            Error::Stopped => HandleError::Stopped,
            Error::Open(e) => HandleError::Open(Box::new(e)),
            e @ (Error::Pipeline(_) | Error::Panicked(_)) => HandleError::Catalog(Box::new(e)),
        })?;
        if let Some(report) = &run.report
            && !report.is_success()
        {
            return Err(HandleError::ApplyFailed {
                failed: report.failed + report.skipped_deletes,
            });
        }
        let outcomes = signals.iter().map(|s| outcome(s, &run)).collect();
        Ok((
            Handled {
                outcomes,
                summary: run.summary(),
            },
            run,
        ))
    }
}

#[async_trait]
impl Handler for ResyncHandler {
    async fn handle(&self, signals: &[Signal]) -> Result<Handled, HandleError> {
        let (handled, run) = self.handle_run(signals).await?;
        for note in run.planned.summary.notes() {
            tracing::warn!("{}", note.text);
        }
        Ok(handled)
    }
}

/// How a full run answered one signal.
fn outcome(signal: &Signal, run: &Run) -> Outcome {
    let kind = signal.kind.as_str();
    if !run.mapped.contains(kind) {
        return Outcome::Skipped(format!("no resource of the mapping reads kind {kind}"));
    }
    if run.refused(kind) {
        return Outcome::Refused(format!(
            "Azure DevOps refused the credentials for kind {kind}; check the PAT's scopes"
        ));
    }
    match run.incomplete(kind) {
        None => Outcome::Done,
        Some(why) => Outcome::Retry(format!("the listing of kind {kind} is incomplete: {why}")),
    }
}
