//! Reading some items of a kind again instead of all of them: which items a live event
//! names ([`Locator`]), the part of the kind a read answers for ([`Scope`]), an item's
//! identity within its kind ([`item_key`]), and what a read found ([`Read`]).
//!
//! A targeted read must be able to say "gone" as surely as a full listing does, so every
//! read is judged against a scope: the items it names (`Items`), every item under one
//! parent (`Prefix`: a repository's branches, a run's stages), or the whole kind (`Kind`).
//! A read that succeeded is complete for its scope: what the scope held before and the read
//! no longer shows is gone from ADO, or has left the kind's selection (a pull request closed
//! longer ago than `minTimeInDays`, a work item the selector's `wiql` no longer matches).
//! A read that failed is complete for nothing; its problem says why.
//!
//! Item keys are ADO's stable ids (a work item's `id`, a branch's repository and ref name),
//! never something a mapping computes, so an entity can be traced back to the item it came
//! from whatever the mapping does with it. A key names its parent first (`REPO/refs/heads/x`),
//! so a parent's items share a prefix.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kinds::Problem;
use super::source::{Incomplete, Listing};

/// A project as an event names it: by id, by name, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// Every entity of the kind: the event named no usable id.
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

/// "Read the items of `kind` that `locator` names again", in `project` when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Which items.
    pub locator: Locator,
    /// The project they are in, when the event says.
    pub project: Option<ProjectRef>,
}

/// The part of a kind one read answers for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// These items (by [`item_key`]).
    Items(BTreeSet<String>),
    /// Every item whose key starts with this (`REPO/`: a repository's branches).
    Prefix(String),
    /// Every item of the kind.
    Kind,
}

impl Scope {
    /// Whether the item with `key` falls in this scope.
    #[must_use]
    pub fn covers(&self, key: &str) -> bool {
        match self {
            Scope::Items(keys) => keys.contains(key),
            Scope::Prefix(prefix) => key.starts_with(prefix.as_str()),
            Scope::Kind => true,
        }
    }

    fn items(keys: impl IntoIterator<Item = String>) -> Scope {
        Scope::Items(keys.into_iter().collect())
    }
}

/// What reading one target again found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Read {
    /// The items of the scope that ADO lists now (and the kind's selection keeps), as a full
    /// fetch yields them (enrichment fields included).
    pub items: Vec<Value>,
    /// Why the read is incomplete (`None`: it is complete for its scope).
    pub problem: Option<String>,
    /// The same, as code can act on it (an auth failure, or anything else).
    pub cause: Option<Incomplete>,
}

impl Read {
    /// A complete read.
    #[must_use]
    pub fn found(items: Vec<Value>) -> Self {
        Read {
            items,
            problem: None,
            cause: None,
        }
    }

    /// An incomplete read: whatever it holds, nothing of its scope may be judged gone.
    #[must_use]
    pub fn failed(reason: impl Into<String>, cause: Incomplete) -> Self {
        Read {
            items: Vec::new(),
            problem: Some(crate::secrets::scrub(&reason.into()).into_owned()),
            cause: Some(cause),
        }
    }

    pub(crate) fn of_problems(items: Vec<Value>, problems: &[Problem]) -> Self {
        match problems.first() {
            None => Read::found(items),
            Some(first) => {
                let cause = problems
                    .iter()
                    .map(|p| p.cause.clone())
                    .reduce(Incomplete::worst)
                    .unwrap_or(Incomplete::Failed);
                let mut text = first.text.clone();
                if problems.len() > 1 {
                    text.push_str(&format!("; and {} more", problems.len() - 1));
                }
                Read {
                    items,
                    problem: Some(text),
                    cause: Some(cause),
                }
            }
        }
    }

    /// Whether the read is complete for its scope.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.problem.is_none()
    }

    /// Whether ADO refused the credentials for it.
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        self.cause.as_ref().is_some_and(Incomplete::is_unauthorized)
    }
}

/// An item's identity within `kind`: its ADO ids, parent first (`None` for a kind no
/// event names, or an item without the ids).
#[must_use]
pub fn item_key(kind: &str, item: &Value) -> Option<String> {
    let text = |pointer: &str| -> Option<String> {
        match item.pointer(pointer)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let pair = |parent: &str, own: &str| Some(format!("{}/{}", text(parent)?, text(own)?));
    match kind {
        "work-item" | "repository" | "pipeline" | "pipeline-run" | "build" | "release"
        | "release-definition" | "project" => text("/id"),
        "pull-request" => pair("/repository/id", "/pullRequestId"),
        "branch" => pair("/__repository/id", "/refName"),
        "file" => pair("/repo/id", "/file/path"),
        "folder" => Some(format!(
            "{}/{}/{}",
            text("/__repository/id")?,
            text("/__branch").unwrap_or_default(),
            text("/path")?
        )),
        "wiki" => pair("/__wiki/repositoryId", "/path"),
        "pipeline-stage" => pair("/__build/id", "/id"),
        // A manual run has no build: its key starts with `/`.
        "test-run" => Some(format!(
            "{}/{}",
            text("/build/id").unwrap_or_default(),
            text("/id")?
        )),
        "release-deployment" => Some(format!(
            "{}/{}/{}",
            text("/release/id")?,
            text("/definitionEnvironmentId").unwrap_or_default(),
            text("/id")?
        )),
        "advanced-security-alert" => pair("/__repositoryId", "/alertId"),
        _ => None,
    }
}

/// The scope a read of `kind` for `locator` answers for. A locator that does not name items
/// of this kind (or names them by ids the kind's items do not carry) answers for the kind.
#[must_use]
pub fn scope(kind: &str, locator: &Locator) -> Scope {
    use Locator as L;
    match (kind, locator) {
        ("work-item", L::WorkItem { id }) => Scope::items([id.to_string()]),
        (
            "pull-request",
            L::PullRequest {
                repository_id,
                pull_request_id,
            },
        ) => Scope::items([format!("{repository_id}/{pull_request_id}")]),
        ("repository", L::Repository { id }) => Scope::items([id.clone()]),
        ("branch", L::Branch { repository_id, .. })
        | ("file" | "folder", L::Commit { repository_id, .. })
        | ("wiki", L::Wiki { repository_id }) => Scope::Prefix(format!("{repository_id}/")),
        ("pipeline", L::Pipeline { id }) => Scope::items([id.to_string()]),
        ("pipeline-run", L::PipelineRun { run_id, .. }) => Scope::items([run_id.to_string()]),
        ("pipeline-stage", L::PipelineStage { run_id, .. }) => Scope::Prefix(format!("{run_id}/")),
        ("build", L::Build { id }) => Scope::items([id.to_string()]),
        ("test-run", L::TestRuns { build_id }) => Scope::Prefix(format!("{build_id}/")),
        ("release", L::Release { id }) | ("release-definition", L::ReleaseDefinition { id }) => {
            Scope::items([id.to_string()])
        }
        (
            "release-deployment",
            L::ReleaseDeployment {
                release_id,
                definition_environment_id,
                ..
            },
        ) => match definition_environment_id {
            Some(env) => Scope::Prefix(format!("{release_id}/{env}/")),
            None => Scope::Prefix(format!("{release_id}/")),
        },
        (
            "advanced-security-alert",
            L::Alert {
                repository_id,
                alert_id,
            },
        ) => Scope::items([format!("{repository_id}/{alert_id}")]),
        _ => Scope::Kind,
    }
}

/// A whole listing of `kind`, cut into one read per target: the items of each target's
/// scope. An incomplete listing makes every read incomplete. This is how a source without
/// targeted reads (a snapshot) answers, and how a live kind answers for a target it cannot
/// read on its own (a scope of the whole kind).
#[must_use]
pub fn split(listing: &Listing, kind: &str, targets: &[Target]) -> Vec<Read> {
    targets
        .iter()
        .map(|target| {
            let scope = scope(kind, &target.locator);
            let items = listing
                .items
                .iter()
                .filter(|item| item_key(kind, item).is_some_and(|k| scope.covers(&k)))
                .cloned()
                .collect();
            match (&listing.error, &listing.cause) {
                (None, _) if listing.complete => Read::found(items),
                (error, cause) => Read {
                    items,
                    problem: Some(
                        error
                            .clone()
                            .unwrap_or_else(|| "the listing is incomplete".into()),
                    ),
                    cause: Some(cause.clone().unwrap_or(Incomplete::Failed)),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_name_the_parent_first_so_a_parents_items_share_a_prefix() {
        let branch = json!({"name": "main", "refName": "refs/heads/main",
                            "__repository": {"id": "r1"}});
        assert_eq!(
            item_key("branch", &branch).as_deref(),
            Some("r1/refs/heads/main")
        );
        let push = Locator::Branch {
            repository_id: "r1".into(),
            name: "refs/heads/other".into(),
            old_object_id: None,
            new_object_id: None,
        };
        assert!(scope("branch", &push).covers("r1/refs/heads/main"));
        assert!(!scope("branch", &push).covers("r10/refs/heads/main"));
        let run = json!({"id": 7, "build": {"id": "12"}});
        assert_eq!(item_key("test-run", &run).as_deref(), Some("12/7"));
        let manual = json!({"id": 8});
        assert_eq!(item_key("test-run", &manual).as_deref(), Some("/8"));
    }

    #[test]
    fn a_locator_that_names_no_item_of_the_kind_answers_for_the_whole_kind() {
        assert_eq!(scope("work-item", &Locator::All), Scope::Kind);
        assert_eq!(scope("build", &Locator::Release { id: 1 }), Scope::Kind);
        assert_eq!(
            scope("work-item", &Locator::WorkItem { id: 4 }),
            Scope::Items(["4".to_owned()].into())
        );
    }

    #[test]
    fn a_listing_splits_into_the_reads_of_its_targets_and_shares_its_incompleteness() {
        let items = vec![json!({"id": 1}), json!({"id": 2}), json!({"id": 3})];
        let target = |id| Target {
            locator: Locator::WorkItem { id },
            project: None,
        };
        let reads = split(
            &Listing::complete("work-item", items.clone()),
            "work-item",
            &[target(2), target(9)],
        );
        assert_eq!(reads[0], Read::found(vec![json!({"id": 2})]));
        assert_eq!(reads[1], Read::found(vec![]));
        let reads = split(
            &Listing::incomplete("work-item", items, "HTTP 500"),
            "work-item",
            &[target(2)],
        );
        assert!(!reads[0].is_complete());
        assert_eq!(reads[0].problem.as_deref(), Some("HTTP 500"));
    }
}
