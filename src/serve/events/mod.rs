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
//! - `build.complete` signals the build itself, its pipeline run and its stages besides its
//!   test runs (a finished build's stages are final);
//!   `run-state-changed` signals the run's build (a run *is* a build in ADO);
//! - deployments also signal their release, whose environments' statuses they change.
//!
//! An event of a known type whose resource lacks the ids falls back to a signal for every
//! entity of the kind (in the event's project when known): slower to handle, never wrong.

use serde_json::{Map, Value};

use crate::ado::Service;

mod extract;
mod signal;

use extract::{
    alert, build_complete, check_updated, deployment, pull_request, push, release, repo_created,
    run_state, stage, work_item,
};

pub use signal::{Locator, ProjectRef, Signal};

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
        ["build", "pipeline-run", "pipeline-stage", "test-run"],
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
    fn workitem_updated_names_the_work_item_not_the_update_in_any_project() {
        let e = envelope(
            "workitem.updated",
            json!({"id": 7, "workItemId": 42, "revision": {"id": 42}}),
        );
        let signals = find("workitem.updated").unwrap().signals(&e);
        assert_eq!(signals[0].locator, Locator::WorkItem { id: 42 });
        // Looked for in every project: a work item may move to another one.
        assert_eq!(signals[0].project, None);
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
