//! How each event type's resource becomes signals: one function per family, reading ids
//! from the fields ADO documents (and Port's fixtures send), with a fallback to the whole
//! kind when an id is missing.

use serde_json::Value;

use super::{Envelope, Locator, Signal};

/// A ref's object id that means "no commit": the branch was created (old) or deleted (new).
fn is_zero(object_id: &str) -> bool {
    !object_id.is_empty() && object_id.bytes().all(|b| b == b'0')
}

pub(super) fn pull_request(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/repository/project/id"]);
    let locator = match (e.text(&["/repository/id"]), e.number(&["/pullRequestId"])) {
        (Some(repository_id), Some(pull_request_id)) => Locator::PullRequest {
            repository_id,
            pull_request_id,
        },
        _ => Locator::All,
    };
    vec![Signal::new("pull-request", locator, &project)]
}

pub(super) fn repo_created(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/repository/project/id", "/project/id"]);
    let locator = match e.text(&["/repository/id"]) {
        Some(id) => Locator::Repository { id },
        None => Locator::All,
    };
    vec![Signal::new("repository", locator, &project)]
}

pub(super) fn push(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/repository/project/id"]);
    let Some(repository_id) = e.text(&["/repository/id"]) else {
        return ["branch", "file", "folder", "repository"]
            .iter()
            .map(|kind| Signal::new(kind, Locator::All, &project))
            .collect();
    };
    let default_branch = e.text(&["/repository/defaultBranch"]);
    let branches: Vec<(String, Option<String>, Option<String>)> = e
        .resource
        .get("refUpdates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|update| {
            let name = update.get("name")?.as_str()?;
            // Tags and other refs are not branches.
            name.starts_with("refs/heads/").then(|| {
                let id = |key: &str| update.get(key).and_then(Value::as_str).map(str::to_owned);
                (name.to_owned(), id("oldObjectId"), id("newObjectId"))
            })
        })
        .collect();
    let mut signals = Vec::new();
    for (name, old, new) in &branches {
        let deleted = new.as_deref().is_some_and(is_zero);
        let mut signal = Signal::new(
            "branch",
            Locator::Branch {
                repository_id: repository_id.clone(),
                name: name.clone(),
                old_object_id: old.clone(),
                new_object_id: new.clone(),
            },
            &project,
        );
        signal.deleted = deleted;
        signals.push(signal);
    }
    // Every commit of the push, not only the head: each may have changed files.
    let only_ref = match branches.as_slice() {
        [(name, _, _)] => Some(name.clone()),
        _ => None,
    };
    let mut commits: Vec<String> = e
        .resource
        .get("commits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("commitId").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    if commits.is_empty() {
        commits = branches
            .iter()
            .filter_map(|(_, _, new)| new.clone().filter(|id| !is_zero(id)))
            .collect();
    }
    commits.dedup();
    for commit_id in commits {
        for kind in ["file", "folder"] {
            signals.push(Signal::new(
                kind,
                Locator::Commit {
                    repository_id: repository_id.clone(),
                    commit_id: commit_id.clone(),
                    ref_name: only_ref.clone(),
                },
                &project,
            ));
        }
    }
    let name = e.text(&["/repository/name"]).unwrap_or_default();
    if name.to_ascii_lowercase().ends_with(".wiki") {
        signals.push(Signal::new(
            "wiki",
            Locator::Wiki {
                repository_id: repository_id.clone(),
            },
            &project,
        ));
    }
    let touches_default = default_branch
        .as_ref()
        .is_some_and(|d| branches.iter().any(|(name, _, _)| name == d));
    if touches_default {
        signals.push(Signal::new(
            "repository",
            Locator::Repository { id: repository_id },
            &project,
        ));
    }
    signals
}

pub(super) fn work_item(e: &Envelope, deleted: bool) -> Vec<Signal> {
    let project = e.project(&[]);
    // `workitem.updated` carries a WorkItemUpdate, whose `id` is the update's number; the
    // other work-item events carry the work item itself.
    let id = if e.event_type == "workitem.updated" {
        e.number(&["/workItemId", "/revision/id"])
    } else {
        e.number(&["/workItemId", "/id"])
    };
    // A work item's id is unique in the organization, and the item may have moved to
    // another project since the event: read by id, it is looked for in every project.
    let (locator, project) = match id {
        Some(id) => (Locator::WorkItem { id }, None),
        None => (Locator::All, project),
    };
    let mut signal = Signal::new("work-item", locator, &project);
    signal.deleted = deleted;
    vec![signal]
}

pub(super) fn build_complete(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/project/id", "/definition/project/id"]);
    let Some(id) = e.number(&["/id"]) else {
        return ["build", "pipeline-run", "pipeline-stage", "test-run"]
            .iter()
            .map(|kind| Signal::new(kind, Locator::All, &project))
            .collect();
    };
    vec![
        Signal::new("build", Locator::Build { id }, &project),
        Signal::new(
            "pipeline-run",
            Locator::PipelineRun {
                pipeline_id: e.number(&["/definition/id"]),
                run_id: id,
            },
            &project,
        ),
        Signal::new(
            "pipeline-stage",
            Locator::PipelineStage {
                pipeline_id: e.number(&["/definition/id"]),
                run_id: id,
                stage_id: None,
            },
            &project,
        ),
        Signal::new("test-run", Locator::TestRuns { build_id: id }, &project),
    ]
}

pub(super) fn run_state(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/projectId"]);
    let pipeline_id = e.number(&["/pipeline/id", "/run/pipeline/id"]);
    match e.number(&["/run/id", "/runId"]) {
        Some(run_id) => vec![
            Signal::new(
                "pipeline-run",
                Locator::PipelineRun {
                    pipeline_id,
                    run_id,
                },
                &project,
            ),
            Signal::new("build", Locator::Build { id: run_id }, &project),
        ],
        None => vec![
            Signal::new("pipeline-run", Locator::All, &project),
            Signal::new("build", Locator::All, &project),
        ],
    }
}

fn stage_locator(e: &Envelope) -> Locator {
    match e.number(&["/run/id", "/runId"]) {
        Some(run_id) => Locator::PipelineStage {
            pipeline_id: e.number(&["/pipeline/id", "/run/pipeline/id"]),
            run_id,
            stage_id: e.text(&["/stage/id", "/job/stageId"]),
        },
        None => Locator::All,
    }
}

pub(super) fn stage(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/projectId"]);
    vec![Signal::new("pipeline-stage", stage_locator(e), &project)]
}

pub(super) fn check_updated(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/projectId"]);
    // `checkConfigurationId` names a check's configuration, not a pipeline: the pipeline
    // is the run's, when the event names it, else any pipeline of the project.
    let pipeline = match e.number(&["/pipeline/id", "/run/pipeline/id"]) {
        Some(id) => Locator::Pipeline { id },
        None => Locator::All,
    };
    let mut signals = vec![Signal::new("pipeline", pipeline, &project)];
    let stage = stage_locator(e);
    if stage != Locator::All {
        signals.push(Signal::new("pipeline-stage", stage, &project));
    }
    signals
}

pub(super) fn alert(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/projectId"]);
    let locator = match (
        e.text(&["/repositoryId", "/repository/id", "/alert/repositoryId"]),
        e.number(&["/alertId", "/alert/alertId"]),
    ) {
        (Some(repository_id), Some(alert_id)) => Locator::Alert {
            repository_id,
            alert_id,
        },
        _ => Locator::All,
    };
    vec![Signal::new("advanced-security-alert", locator, &project)]
}

pub(super) fn release(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/project/id", "/release/projectReference/id"]);
    let release = e
        .number(&["/release/id"])
        .map_or(Locator::All, |id| Locator::Release { id });
    let definition = e
        .number(&["/release/releaseDefinition/id"])
        .map_or(Locator::All, |id| Locator::ReleaseDefinition { id });
    vec![
        Signal::new("release", release, &project),
        Signal::new("release-definition", definition, &project),
    ]
}

pub(super) fn deployment(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/project/id", "/release/projectReference/id"]);
    let release_id = e.number(&[
        "/deployment/release/id",
        "/environment/releaseId",
        "/release/id",
    ]);
    let Some(release_id) = release_id else {
        return vec![
            Signal::new("release-deployment", Locator::All, &project),
            Signal::new("release", Locator::All, &project),
        ];
    };
    vec![
        Signal::new(
            "release-deployment",
            Locator::ReleaseDeployment {
                release_id,
                definition_environment_id: e.number(&[
                    "/deployment/definitionEnvironmentId",
                    "/environment/definitionEnvironmentId",
                ]),
                deployment_id: e.number(&["/deployment/id"]),
            },
            &project,
        ),
        Signal::new("release", Locator::Release { id: release_id }, &project),
    ]
}
