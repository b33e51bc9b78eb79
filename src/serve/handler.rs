//! The handler of `serve`'s worker: a batch of signals becomes one targeted plan of the
//! items they name (`Pipeline::plan_targets`), applied through the same pipeline and
//! guards as a full run, on the pipeline thread.
//!
//! Each signal is answered by how its target went: read completely and applied → done; a
//! kind no resource maps → skipped; ADO refused the credentials → dead letter at once; any
//! other failed read (a 500, a 429 storm outlasting the client's retries, an item that
//! failed to map) → tried again later, never judged gone. A batch whose writes failed is
//! tried again as a whole (writes are idempotent).

use async_trait::async_trait;

use super::events::Signal;
use super::runner::{self, Run, Runner, Work};
use super::worker::{HandleError, Handled, Handler, Outcome};
use crate::ado::locate::Target;
use crate::pipeline::{KindTarget, TargetOutcome};

/// Answers signals with a targeted plan + apply (or only the plan).
#[derive(Clone, Debug)]
pub struct EventHandler {
    runner: Runner,
    apply: bool,
}

impl EventHandler {
    /// A handler that plans and applies through `runner`.
    #[must_use]
    pub fn new(runner: Runner) -> Self {
        EventHandler {
            runner,
            apply: true,
        }
    }

    /// A handler that only plans (for `event replay --dry-run`).
    #[must_use]
    pub fn planning_only(runner: Runner) -> Self {
        EventHandler {
            runner,
            apply: false,
        }
    }

    /// Handles `signals` and also returns the run it made, for callers that show it.
    pub async fn handle_run(&self, signals: &[Signal]) -> Result<(Handled, Run), HandleError> {
        let targets = signals
            .iter()
            .map(|s| KindTarget {
                kind: s.kind.clone(),
                target: Target {
                    locator: s.locator.clone(),
                    project: s.project.clone(),
                },
            })
            .collect();
        let run = self
            .runner
            .run(Work::Targets(targets), self.apply)
            .await
            .map_err(run_error)?;
        if let Some(report) = &run.report
            && !report.is_success()
        {
            return Err(HandleError::ApplyFailed {
                failed: report.failed + report.skipped_deletes,
                first: report
                    .failures
                    .first()
                    .map(|f| format!("{} {}: {}", f.operation.verb(), f.key, f.message)),
            });
        }
        let outcomes = signals
            .iter()
            .zip(&run.outcomes)
            .map(|(signal, outcome)| answer(signal, outcome))
            .collect();
        Ok((
            Handled {
                outcomes,
                summary: run.summary(),
            },
            run,
        ))
    }
}

/// How a failed run fails the batch.
pub(super) fn run_error(e: runner::Error) -> HandleError {
    match e {
        runner::Error::Stopped => HandleError::Stopped,
        runner::Error::Open(e) => HandleError::Open(Box::new(e)),
        e @ (runner::Error::Pipeline(_) | runner::Error::Panicked(_)) => {
            HandleError::Catalog(Box::new(e))
        }
    }
}

#[async_trait]
impl Handler for EventHandler {
    async fn handle(&self, signals: &[Signal]) -> Result<Handled, HandleError> {
        let (handled, run) = self.handle_run(signals).await?;
        for note in run.planned.summary.notes() {
            tracing::warn!("{}", note.text);
        }
        Ok(handled)
    }
}

/// What one target's outcome means for its signal.
fn answer(signal: &Signal, outcome: &TargetOutcome) -> Outcome {
    let kind = signal.kind.as_str();
    match outcome {
        TargetOutcome::Read => Outcome::Done,
        TargetOutcome::Unmapped => {
            Outcome::Skipped(format!("no resource of the mapping reads kind {kind}"))
        }
        TargetOutcome::Failed {
            unauthorized: true,
            reason,
        } => Outcome::Refused(format!(
            "Azure DevOps refused the credentials for kind {kind} ({reason}); check the PAT's scopes"
        )),
        TargetOutcome::Failed { reason, .. } => {
            Outcome::Retry(format!("kind {kind} could not be read again: {reason}"))
        }
    }
}
