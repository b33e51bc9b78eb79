//! ADO service-hook events → level-triggered signals.
//!
//! An event is never applied as it stands: it only says "the entity of kind K identified by
//! these ADO ids may have changed" (a [`Signal`]). Whoever handles the signal reads ADO's
//! current state, so events that arrive late, twice or out of order still converge.
//!
//! [`EVENT_TYPES`] is the one registry of event types: the webhook accepts them, `hooks sync`
//! subscribes to them (on the publisher's host), and each names the kinds it signals. The
//! kinds follow Port's integration (`ocean-ado-integration.md` §7.3), with its defects fixed:
//!
//! - `workitem.updated` names the work item by `resource.workItemId` (`resource.id` is the
//!   update's number); the other work-item events carry the work item itself;
//! - `git.push` signals every commit of the push for `file`/`folder`, not only the head, and
//!   each branch ref, a `0000…` new id meaning the branch was deleted; a push to the default
//!   branch also signals the repository (its `__includedFiles` are read from that branch);
//! - `check-updated-event` signals the run's pipeline and stage, never
//!   `checkConfigurationId` read as a pipeline id;
//! - `build.complete` signals the build itself and its pipeline run besides its test runs;
//!   `run-state-changed` signals the run's build (a run *is* a build in ADO);
//! - deployments also signal their release, whose environments' statuses they change.
//!
//! An event of a known type whose resource lacks the ids falls back to a signal for every
//! entity of the kind (in the event's project when known): slower to handle, never wrong.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ado::Service;

/// Why a request body is not an event envelope (the webhook answers 400 with this).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not JSON.
    #[error("the body is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("the body is not a JSON object")]
    NotAnObject,
    /// `eventType` is missing, empty or not a string.
    #[error("the envelope has no `eventType` string")]
    NoEventType,
    /// `resource` is missing or not an object.
    #[error("the envelope has no `resource` object")]
    NoResource,
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A service-hook request body: ADO's envelope around the resource an event is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// `eventType`, e.g. `git.push`.
    pub event_type: String,
    /// `publisherId` (`tfs`, `pipelines`, `rm`, `advsec`), when sent.
    pub publisher_id: Option<String>,
    /// `id`: the event's id.
    pub id: Option<String>,
    /// `notificationId`: the delivery's number within the subscription.
    pub notification_id: Option<u64>,
    /// `subscriptionId`: the subscription that delivered it.
    pub subscription_id: Option<String>,
    /// `resource`: what the event is about.
    pub resource: Map<String, Value>,
    /// `resourceContainers`: the collection, account and project it happened in.
    pub containers: Value,
}

impl Envelope {
    /// Parses a request body strictly: a JSON object with an `eventType` string and a
    /// `resource` object. Everything else in the envelope is optional.
    pub fn parse(body: &[u8]) -> Result<Envelope> {
        let value: Value = serde_json::from_slice(body).map_err(Error::NotJson)?;
        let Value::Object(mut map) = value else {
            return Err(Error::NotAnObject);
        };
        let event_type = match map.get("eventType") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => return Err(Error::NoEventType),
        };
        let resource = match map.remove("resource") {
            Some(Value::Object(r)) => r,
            _ => return Err(Error::NoResource),
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Envelope {
            publisher_id: text("publisherId"),
            id: text("id"),
            notification_id: map.get("notificationId").and_then(id_u64),
            subscription_id: text("subscriptionId"),
            containers: map.remove("resourceContainers").unwrap_or(Value::Null),
            event_type,
            resource,
        })
    }

    /// A field of the resource by JSON pointer (`/repository/id`).
    fn at(&self, pointer: &str) -> Option<&Value> {
        let (first, rest) = match pointer.trim_start_matches('/').split_once('/') {
            Some((first, rest)) => (first, format!("/{rest}")),
            None => (pointer.trim_start_matches('/'), String::new()),
        };
        let top = self.resource.get(first)?;
        if rest.is_empty() {
            Some(top)
        } else {
            top.pointer(&rest)
        }
    }

    /// The first of `pointers` that holds a non-empty string.
    fn text(&self, pointers: &[&str]) -> Option<String> {
        pointers.iter().find_map(|p| {
            self.at(p)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    }

    /// The first of `pointers` that holds a whole number (or a numeric string).
    fn number(&self, pointers: &[&str]) -> Option<u64> {
        pointers.iter().find_map(|p| self.at(p).and_then(id_u64))
    }

    /// The project the event happened in: `resourceContainers.project.id`, else the
    /// resource's own project fields (`extra` pointers first).
    fn project(&self, extra: &[&str]) -> Option<ProjectRef> {
        let id = self
            .containers
            .pointer("/project/id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| self.text(extra));
        let name = self.text(&[
            "/repository/project/name",
            "/project/name",
            "/fields/System.TeamProject",
            "/revision/fields/System.TeamProject",
        ]);
        (id.is_some() || name.is_some()).then_some(ProjectRef { id, name })
    }
}

/// A number or a numeric string (`"123"`: Port's own fixtures send ids as strings).
fn id_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Who publishes an event type, which decides the host its subscriptions live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Publisher {
    /// Code, work items and builds (`tfs`), on the organization's host.
    Tfs,
    /// YAML pipelines' runs, stages, jobs, approvals and checks (`pipelines`).
    Pipelines,
    /// Classic releases (`rm`), on the `vsrm.` host.
    Rm,
    /// Advanced Security alerts (`advsec`), on the `advsec.` host.
    Advsec,
}

impl Publisher {
    /// Every publisher, in the order subscriptions are listed.
    pub const ALL: [Publisher; 4] = [
        Publisher::Tfs,
        Publisher::Pipelines,
        Publisher::Rm,
        Publisher::Advsec,
    ];

    /// The `publisherId` ADO uses.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Publisher::Tfs => "tfs",
            Publisher::Pipelines => "pipelines",
            Publisher::Rm => "rm",
            Publisher::Advsec => "advsec",
        }
    }

    /// The host its service-hook subscriptions are created on.
    #[must_use]
    pub fn service(self) -> Service {
        match self {
            Publisher::Tfs | Publisher::Pipelines => Service::Core,
            Publisher::Rm => Service::Release,
            Publisher::Advsec => Service::AdvancedSecurity,
        }
    }
}

/// A project as an event names it: by id, by name, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    /// The project's id (GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The project's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Which entity of a kind a signal is about: every id the event gives for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Locator {
    /// Every entity of the kind (in the signal's project, when it has one): the event named
    /// no usable id.
    All,
    /// A work item, by its organization-wide id.
    WorkItem {
        /// `System.Id`.
        id: u64,
    },
    /// A pull request of a repository.
    PullRequest {
        /// The repository's id.
        repository_id: String,
        /// `pullRequestId`.
        pull_request_id: u64,
    },
    /// A repository.
    Repository {
        /// Its id.
        id: String,
    },
    /// A branch of a repository; the object ids say what the push did to it.
    Branch {
        /// The repository's id.
        repository_id: String,
        /// The full ref name, `refs/heads/…`.
        name: String,
        /// The commit it pointed at before the push (`0000…` for a new branch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old_object_id: Option<String>,
        /// The commit it points at now (`0000…` when the push deleted it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_object_id: Option<String>,
    },
    /// The files and folders one commit of a push changed.
    Commit {
        /// The repository's id.
        repository_id: String,
        /// The commit.
        commit_id: String,
        /// The branch pushed, when the push moved exactly one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ref_name: Option<String>,
    },
    /// The pages of a wiki backed by a repository.
    Wiki {
        /// The wiki's repository.
        repository_id: String,
    },
    /// A pipeline.
    Pipeline {
        /// The pipeline's (build definition's) id.
        id: u64,
    },
    /// A run of a pipeline.
    PipelineRun {
        /// The pipeline, when the event names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<u64>,
        /// The run (the build's id).
        run_id: u64,
    },
    /// A stage of a run (every stage of it when the event names none).
    PipelineStage {
        /// The pipeline, when the event names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<u64>,
        /// The run.
        run_id: u64,
        /// The stage's id, when the event names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage_id: Option<String>,
    },
    /// A build.
    Build {
        /// Its id.
        id: u64,
    },
    /// The test runs a build produced.
    TestRuns {
        /// The build's id.
        build_id: u64,
    },
    /// A classic release.
    Release {
        /// Its id.
        id: u64,
    },
    /// A classic release definition.
    ReleaseDefinition {
        /// Its id.
        id: u64,
    },
    /// A deployment of a release to one of its environments.
    ReleaseDeployment {
        /// The release.
        release_id: u64,
        /// The definition's environment, when the event names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition_environment_id: Option<u64>,
        /// The deployment's own id, when the event names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment_id: Option<u64>,
    },
    /// An Advanced Security alert of a repository.
    Alert {
        /// The repository's id.
        repository_id: String,
        /// `alertId`.
        alert_id: u64,
    },
}

impl Locator {
    /// What identifies the entity: the ids, without what the event says happened to it
    /// (a branch's object ids), so that signals for one entity coalesce.
    fn identity(&self) -> String {
        match self {
            Locator::Branch {
                repository_id,
                name,
                ..
            } => format!("branch:{repository_id}:{name}"),
            Locator::Commit {
                repository_id,
                commit_id,
                ..
            } => format!("commit:{repository_id}:{commit_id}"),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// "The entity of `kind` that `locator` names may have changed": read it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// The kind, as mappings name it (`work-item`).
    pub kind: String,
    /// Which entity.
    pub locator: Locator,
    /// The project, when the event names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRef>,
    /// The event says the entity is gone (a deleted work item or branch). A hint: the
    /// handler still reads ADO, so a later event that brings the entity back wins.
    #[serde(default)]
    pub deleted: bool,
}

impl Signal {
    fn new(kind: &str, locator: Locator, project: &Option<ProjectRef>) -> Self {
        Signal {
            kind: kind.to_owned(),
            locator,
            project: project.clone(),
            deleted: false,
        }
    }

    /// The key signals for one entity share: the queue coalesces them under it.
    #[must_use]
    pub fn key(&self) -> String {
        match &self.locator {
            Locator::All => {
                let project = self
                    .project
                    .as_ref()
                    .and_then(|p| p.id.clone().or_else(|| p.name.clone()))
                    .unwrap_or_else(|| "*".into());
                format!("{}|all:{project}", self.kind)
            }
            locator => format!("{}|{}", self.kind, locator.identity()),
        }
    }
}

/// One supported event type: its publisher, the kinds it may signal, and how its
/// resource becomes signals.
pub struct EventType {
    /// `eventType`.
    pub name: &'static str,
    /// Who publishes it.
    pub publisher: Publisher,
    /// Every kind its signals can name.
    pub kinds: &'static [&'static str],
    extract: fn(&Envelope) -> Vec<Signal>,
}

impl std::fmt::Debug for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventType")
            .field("name", &self.name)
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl EventType {
    /// The signals `envelope` (of this type) raises.
    #[must_use]
    pub fn signals(&self, envelope: &Envelope) -> Vec<Signal> {
        (self.extract)(envelope)
    }
}

macro_rules! event {
    ($name:literal, $publisher:ident, [$($kind:literal),*], $extract:expr) => {
        EventType {
            name: $name,
            publisher: Publisher::$publisher,
            kinds: &[$($kind),*],
            extract: $extract,
        }
    };
}

/// Every event type adoport subscribes to and handles: the 18 of DESIGN.md, `build.complete`
/// and the four classic-release events, as Port's integration subscribes them.
pub static EVENT_TYPES: &[EventType] = &[
    event!(
        "git.pullrequest.created",
        Tfs,
        ["pull-request"],
        pull_request
    ),
    event!(
        "git.pullrequest.updated",
        Tfs,
        ["pull-request"],
        pull_request
    ),
    event!(
        "git.push",
        Tfs,
        ["branch", "file", "folder", "wiki", "repository"],
        push
    ),
    event!("git.repo.created", Tfs, ["repository"], repo_created),
    event!("workitem.created", Tfs, ["work-item"], |e| work_item(
        e, false
    )),
    event!("workitem.updated", Tfs, ["work-item"], |e| work_item(
        e, false
    )),
    event!("workitem.commented", Tfs, ["work-item"], |e| work_item(
        e, false
    )),
    event!("workitem.deleted", Tfs, ["work-item"], |e| work_item(
        e, true
    )),
    event!("workitem.restored", Tfs, ["work-item"], |e| work_item(
        e, false
    )),
    event!(
        "build.complete",
        Tfs,
        ["build", "pipeline-run", "test-run"],
        build_complete
    ),
    event!(
        "ms.vss-pipelines.run-state-changed-event",
        Pipelines,
        ["pipeline-run", "build"],
        run_state
    ),
    event!(
        "ms.vss-pipelines.stage-state-changed-event",
        Pipelines,
        ["pipeline-stage"],
        stage
    ),
    event!(
        "ms.vss-pipelines.job-state-changed-event",
        Pipelines,
        ["pipeline-stage"],
        stage
    ),
    event!(
        "ms.vss-pipelinechecks-events.approval-pending",
        Pipelines,
        ["pipeline-stage"],
        stage
    ),
    event!(
        "ms.vss-pipelinechecks-events.approval-completed",
        Pipelines,
        ["pipeline-stage"],
        stage
    ),
    event!(
        "ms.vss-pipelinechecks-events.check-updated-event",
        Pipelines,
        ["pipeline", "pipeline-stage"],
        check_updated
    ),
    event!(
        "ms.vss-alerts.alert-created-event",
        Advsec,
        ["advanced-security-alert"],
        alert
    ),
    event!(
        "ms.vss-alerts.alert-state-changed-event",
        Advsec,
        ["advanced-security-alert"],
        alert
    ),
    event!(
        "ms.vss-alerts.alert-updated-event",
        Advsec,
        ["advanced-security-alert"],
        alert
    ),
    event!(
        "ms.vss-release.release-created-event",
        Rm,
        ["release", "release-definition"],
        release
    ),
    event!(
        "ms.vss-release.release-abandoned-event",
        Rm,
        ["release", "release-definition"],
        release
    ),
    event!(
        "ms.vss-release.deployment-started-event",
        Rm,
        ["release-deployment", "release"],
        deployment
    ),
    event!(
        "ms.vss-release.deployment-completed-event",
        Rm,
        ["release-deployment", "release"],
        deployment
    ),
];

/// Looks an event type up by its `eventType`.
#[must_use]
pub fn find(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}

/// A ref's object id that means "no commit": the branch was created (old) or deleted (new).
fn is_zero(object_id: &str) -> bool {
    !object_id.is_empty() && object_id.bytes().all(|b| b == b'0')
}

fn pull_request(e: &Envelope) -> Vec<Signal> {
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

fn repo_created(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/repository/project/id", "/project/id"]);
    let locator = match e.text(&["/repository/id"]) {
        Some(id) => Locator::Repository { id },
        None => Locator::All,
    };
    vec![Signal::new("repository", locator, &project)]
}

fn push(e: &Envelope) -> Vec<Signal> {
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

fn work_item(e: &Envelope, deleted: bool) -> Vec<Signal> {
    let project = e.project(&[]);
    // `workitem.updated` carries a WorkItemUpdate, whose `id` is the update's number; the
    // other work-item events carry the work item itself.
    let id = if e.event_type == "workitem.updated" {
        e.number(&["/workItemId", "/revision/id"])
    } else {
        e.number(&["/workItemId", "/id"])
    };
    let locator = id.map_or(Locator::All, |id| Locator::WorkItem { id });
    let mut signal = Signal::new("work-item", locator, &project);
    signal.deleted = deleted;
    vec![signal]
}

fn build_complete(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/project/id", "/definition/project/id"]);
    let Some(id) = e.number(&["/id"]) else {
        return ["build", "pipeline-run", "test-run"]
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
        Signal::new("test-run", Locator::TestRuns { build_id: id }, &project),
    ]
}

fn run_state(e: &Envelope) -> Vec<Signal> {
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

fn stage(e: &Envelope) -> Vec<Signal> {
    let project = e.project(&["/projectId"]);
    vec![Signal::new("pipeline-stage", stage_locator(e), &project)]
}

fn check_updated(e: &Envelope) -> Vec<Signal> {
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

fn alert(e: &Envelope) -> Vec<Signal> {
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

fn release(e: &Envelope) -> Vec<Signal> {
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

fn deployment(e: &Envelope) -> Vec<Signal> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(event_type: &str, resource: Value) -> Envelope {
        let body = json!({"eventType": event_type, "resource": resource,
                          "resourceContainers": {"project": {"id": "p1"}}});
        Envelope::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn workitem_updated_names_the_work_item_not_the_update() {
        let e = envelope(
            "workitem.updated",
            json!({"id": 7, "workItemId": 42, "revision": {"id": 42}}),
        );
        let signals = find("workitem.updated").unwrap().signals(&e);
        assert_eq!(signals[0].locator, Locator::WorkItem { id: 42 });
        assert_eq!(
            signals[0].project.as_ref().unwrap().id.as_deref(),
            Some("p1")
        );
    }

    #[test]
    fn a_known_event_without_ids_signals_the_whole_kind_in_its_project() {
        let e = envelope("workitem.updated", json!({"id": 7}));
        let signals = find("workitem.updated").unwrap().signals(&e);
        assert_eq!(signals[0].locator, Locator::All);
        assert_eq!(signals[0].key(), "work-item|all:p1");
    }

    #[test]
    fn a_branch_keeps_one_key_whatever_the_push_did_to_it() {
        let signal = |new: &str| Signal {
            kind: "branch".into(),
            locator: Locator::Branch {
                repository_id: "r".into(),
                name: "refs/heads/main".into(),
                old_object_id: None,
                new_object_id: Some(new.into()),
            },
            project: None,
            deleted: false,
        };
        assert_eq!(signal("a").key(), signal("b").key());
    }

    #[test]
    fn the_envelope_must_be_an_object_with_an_event_type_and_a_resource() {
        assert!(matches!(Envelope::parse(b"{"), Err(Error::NotJson(_))));
        assert!(matches!(Envelope::parse(b"[]"), Err(Error::NotAnObject)));
        assert!(matches!(
            Envelope::parse(br#"{"resource": {}}"#),
            Err(Error::NoEventType)
        ));
        assert!(matches!(
            Envelope::parse(br#"{"eventType": "git.push", "resource": 3}"#),
            Err(Error::NoResource)
        ));
    }
}
