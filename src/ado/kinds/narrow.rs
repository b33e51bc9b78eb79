//! What a read is narrowed to: the ids of the parents and items a targeted read names, and
//! the time an incremental pass reads from. Each kind's fetch applies the fields that
//! concern it, as ADO's server-side filters where ADO has them (`buildIds`,
//! `releaseIdFilter`, `minTime`, …) and on the listed parents otherwise, so that a
//! narrowed fetch yields a subset of the full fetch's items, shaped alike.
//!
//! A narrowing must never be narrower than the scope of the targets it serves
//! (`crate::ado::locate::scope`): what it leaves out of a scope would read as gone. Each
//! field below says which locators set it and which fetch applies it.

use std::collections::BTreeSet;

use crate::ado::locate::Locator;

/// Filters of a narrowed read; `None` filters nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Narrow {
    /// Repositories, by id: the repository list (branches, files, folders, alerts, policies
    /// under it), pull requests (`searchCriteria.repositoryId`) and wikis (their backing
    /// repository).
    pub(crate) repositories: Option<BTreeSet<String>>,
    /// Builds (runs), by id: the build list (`buildIds`), so builds, their stages and
    /// pipeline runs.
    pub(crate) builds: Option<BTreeSet<u64>>,
    /// Pipelines, by id: the pipeline list.
    pub(crate) pipelines: Option<BTreeSet<u64>>,
    /// Work items, by id: read by id instead of by query.
    pub(crate) work_items: Option<BTreeSet<u64>>,
    /// Classic releases, by id (`releaseIdFilter`).
    pub(crate) releases: Option<BTreeSet<u64>>,
    /// Classic release definitions, by id (`definitionIdFilter`).
    pub(crate) release_definitions: Option<BTreeSet<u64>>,
    /// Release definition environments, by id (`definitionEnvironmentId`): deployments.
    pub(crate) environments: Option<BTreeSet<u64>>,
    /// Test runs of these builds (`buildUri`).
    pub(crate) test_builds: Option<BTreeSet<u64>>,
    /// Only what changed since (an incremental pass).
    pub(crate) since: Option<jiff::Timestamp>,
}

fn one<T: Ord>(value: T) -> Option<BTreeSet<T>> {
    Some(BTreeSet::from([value]))
}

/// Two filters for one read: everything either lets through (no filter when either has
/// none).
fn either<T: Ord>(a: Option<BTreeSet<T>>, b: Option<BTreeSet<T>>) -> Option<BTreeSet<T>> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
        _ => None,
    }
}

impl Narrow {
    /// The narrowing a locator implies. A locator with no ids narrows nothing.
    pub(crate) fn of(locator: &Locator) -> Narrow {
        use Locator as L;
        let mut n = Narrow::default();
        match locator {
            L::All => {}
            L::WorkItem { id } => n.work_items = one(*id),
            L::PullRequest { repository_id, .. }
            | L::Branch { repository_id, .. }
            | L::Commit { repository_id, .. }
            | L::Wiki { repository_id }
            | L::Alert { repository_id, .. } => n.repositories = one(repository_id.clone()),
            L::Repository { id } => n.repositories = one(id.clone()),
            L::Pipeline { id } => n.pipelines = one(*id),
            L::PipelineRun { run_id, .. } | L::PipelineStage { run_id, .. } => {
                n.builds = one(*run_id);
            }
            L::Build { id } => n.builds = one(*id),
            L::TestRuns { build_id } => n.test_builds = one(*build_id),
            L::Release { id } => n.releases = one(*id),
            L::ReleaseDefinition { id } => n.release_definitions = one(*id),
            L::ReleaseDeployment {
                definition_environment_id,
                ..
            } => n.environments = definition_environment_id.and_then(one),
        }
        n
    }

    /// One narrowing that lets through what either does.
    pub(crate) fn union(self, other: Narrow) -> Narrow {
        Narrow {
            repositories: either(self.repositories, other.repositories),
            builds: either(self.builds, other.builds),
            pipelines: either(self.pipelines, other.pipelines),
            work_items: either(self.work_items, other.work_items),
            releases: either(self.releases, other.releases),
            release_definitions: either(self.release_definitions, other.release_definitions),
            environments: either(self.environments, other.environments),
            test_builds: either(self.test_builds, other.test_builds),
            since: match (self.since, other.since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
        }
    }

    /// Whether a repository passes the repository filter.
    pub(crate) fn keeps_repository(&self, id: &str) -> bool {
        self.repositories
            .as_ref()
            .is_none_or(|ids| ids.contains(id))
    }

    /// Whether a pipeline passes the pipeline filter.
    pub(crate) fn keeps_pipeline(&self, id: Option<u64>) -> bool {
        self.pipelines
            .as_ref()
            .is_none_or(|ids| id.is_some_and(|id| ids.contains(&id)))
    }

    /// The filter's ids comma-joined, as ADO's list filters take them.
    pub(crate) fn joined<T: ToString>(ids: &BTreeSet<T>) -> String {
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `since` as ADO's query parameters take it (RFC 3339, UTC).
    pub(crate) fn since_text(&self) -> Option<String> {
        self.since.map(|t| t.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_union_keeps_what_either_lets_through_and_no_filter_wins() {
        let a = Narrow::of(&Locator::Build { id: 1 });
        let b = Narrow::of(&Locator::Build { id: 2 });
        assert_eq!(a.clone().union(b).builds, Some(BTreeSet::from([1, 2])));
        let all = Narrow::of(&Locator::All);
        assert_eq!(a.union(all).builds, None);
    }
}
