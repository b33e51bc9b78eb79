//! Signals: "the entity of kind K that these ADO ids name may have changed", and the key
//! that makes signals for one entity coalesce. Which ids name what ([`Locator`]) is the ADO
//! layer's (`crate::ado::locate`), which reads them again.

use serde::{Deserialize, Serialize};

pub use crate::ado::locate::{Locator, ProjectRef};

/// What identifies the entity a locator names: the ids, without what the event says
/// happened to it (a branch's object ids), so that signals for one entity coalesce.
fn identity(locator: &Locator) -> String {
    match locator {
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
            locator => format!("{}|{}", self.kind, identity(locator)),
        }
    }
}
