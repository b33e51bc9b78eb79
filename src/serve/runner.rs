//! The pipeline thread: every plan and apply of `serve` runs here, one at a time, with the
//! config in force: full resyncs, live events' targeted plans and incremental passes.
//!
//! [`Pipeline`] blocks on a runtime of its own, so it lives on a plain thread, fed jobs by
//! [`Runner`]; the async side awaits each job's answer. One thread means the worker's
//! batches, the incremental passes and the interval resyncs never apply at once, and a
//! resync can never overlap another. The pipeline is opened once, at the first job, over
//! the catalog opened at start; each full resync starts a new sync of the source
//! (`Pipeline::refresh`: parent lists read again), while targeted reads go to ADO for the
//! items they name every time. A panic in a run is caught and becomes that run's error;
//! the thread goes on, with the pipeline opened again at the next job.
//!
//! After each applied run the traces (which item each entity came from, [`Traces`]) are
//! recorded: a full resync's for the kinds it read completely, a targeted plan's for the
//! scopes it read completely.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};

use super::traces::Traces;
use crate::catalog::Catalog;
use crate::pipeline::{
    self, Access, Checked, KindTarget, Options, Pipeline, Planned, SourceSpec, TargetOutcome,
    TraceUpdate,
};
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

/// How the pipeline is opened: the source named at start, over the catalog opened at
/// start, with the guards and write settings of the command line, and where the traces
/// are kept.
pub struct Opener {
    /// Where items come from.
    pub source: SourceSpec,
    /// The catalog every run writes.
    pub catalog: Arc<dyn Catalog>,
    /// The environment's secrets and overrides.
    pub access: Access,
    /// Guards and apply settings.
    pub options: Options,
    /// Which item each entity came from.
    pub traces: Arc<dyn Traces>,
}

impl Opener {
    fn open(&self, checked: &Checked) -> Result<Pipeline> {
        let items = pipeline::open::items(&self.source, &checked.config.settings, &self.access)
            .map_err(Error::Open)?;
        let options = Options {
            trace: true,
            ..self.options.clone()
        };
        Pipeline::new(items, Some(self.catalog.clone()), &self.access, options)
            .map_err(Error::Pipeline)
    }
}

/// What a job asks for.
#[derive(Clone, Debug)]
pub enum Work {
    /// A full plan of the config in force (a resync).
    Full,
    /// A plan of the items these targets name (a batch of live events).
    Targets(Vec<KindTarget>),
    /// A plan of what changed since these times, per kind (an incremental pass).
    Changed(BTreeMap<String, jiff::Timestamp>),
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
    /// Per target (or per kind of an incremental pass), in the order given; empty for a
    /// full run.
    pub outcomes: Vec<TargetOutcome>,
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
    work: Work,
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
                let mut opened: Option<Pipeline> = None;
                while let Some(job) = rx.blocking_recv() {
                    let checked = current
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let pipeline = match opened.take() {
                            Some(p) => p,
                            None => opener.open(&checked)?,
                        };
                        let pipeline = opened.insert(pipeline);
                        run(pipeline, &opener, &checked, job.work, job.apply)
                    }))
                    .unwrap_or_else(|panic| {
                        // The pipeline may be half-way through anything: open it again.
                        opened = None;
                        Err(Error::Panicked(panic_text(&panic)))
                    });
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

    /// Plans the config in force against the catalog as it is (all of it, or what `work`
    /// names), and applies the plan when `apply`. Waits for the runs queued before it.
    pub async fn run(&self, work: Work, apply: bool) -> Result<Run> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { work, apply, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }
}

fn run(
    pipeline: &mut Pipeline,
    opener: &Opener,
    checked: &Checked,
    work: Work,
    apply: bool,
) -> Result<Run> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let traces = opener.traces.as_ref();
    let full = matches!(work, Work::Full);
    let (planned, outcomes, update) = match work {
        Work::Full => {
            pipeline.refresh();
            let planned = pipeline.plan(checked).map_err(Error::Pipeline)?;
            let update = full_traces(checked, &planned);
            (planned, Vec::new(), update)
        }
        Work::Targets(targets) => {
            let t = pipeline
                .plan_targets(checked, &targets, traces)
                .map_err(Error::Pipeline)?;
            (t.planned, t.outcomes, t.traces)
        }
        Work::Changed(since) => {
            let t = pipeline
                .plan_changed(checked, &since, traces)
                .map_err(Error::Pipeline)?;
            (t.planned, t.outcomes, t.traces)
        }
    };
    let report = if apply {
        Some(pipeline.apply(&planned).map_err(Error::Pipeline)?)
    } else {
        None
    };
    // A full run's traces say what the mapping produces, written or not. A targeted
    // run's are recorded only once every write succeeded: a delete that failed is found
    // again, by the same traces, when the batch is tried again.
    let record = match &report {
        Some(report) => full || report.is_success(),
        None => false,
    };
    if record && let Err(e) = traces.record(&update) {
        tracing::error!(error = %crate::http::error_chain(e.as_ref()),
            "could not record which items the entities came from");
    }
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
        outcomes,
    })
}

/// A full run's traces: the kinds read completely replace theirs, the others add to
/// theirs, and kinds no resource maps any more lose theirs.
fn full_traces(checked: &Checked, planned: &Planned) -> TraceUpdate {
    let resources = &planned.summary.resources;
    let mapped: BTreeSet<&str> = checked
        .config
        .mapping
        .resources
        .iter()
        .map(|r| r.kind.as_str())
        .collect();
    let replace = crate::ado::KINDS
        .iter()
        .map(|k| k.name)
        .filter(|kind| {
            !mapped.contains(kind)
                || resources
                    .iter()
                    .filter(|r| r.kind == *kind)
                    .all(|r| r.incomplete.is_none() && r.item_errors == 0)
        })
        .map(|kind| (kind.to_owned(), crate::ado::locate::Scope::Kind))
        .collect();
    TraceUpdate {
        replace,
        rows: planned.traced.clone(),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}
