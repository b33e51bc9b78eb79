//! Signals: "the entity of kind K that these ADO ids name may have changed", and the key
//! that makes signals for one entity coalesce.

use serde::{Deserialize, Serialize};

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
    pub(super) fn new(kind: &str, locator: Locator, project: &Option<ProjectRef>) -> Self {
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
