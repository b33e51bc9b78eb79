//! The requests Port's Azure DevOps integration (v0.12.2) would send to list a
//! [`SyntheticOrg`], per kind, computed from its paging rules (reference §2.2, §3, §5): the
//! figure adoport's measured request counts are compared with (`BENCHMARKS.md`).
//!
//! The rules, as its client code has them:
//!
//! - every paged list asks for 50 items a page (`PAGE_SIZE`); a continuation-token list takes
//!   `ceil(n / 50)` requests (at least one), a `$top`/`$skip` list one more (it stops on an
//!   empty page);
//! - the lists it caches for a resync (projects, teams, repositories, groups, environments,
//!   boards) count once, in the first kind that lists them here (kinds in the order of
//!   `ado::KINDS`); pipelines and builds are not cached, so `pipeline-run` and
//!   `pipeline-stage` list them again;
//! - per-item follow-ups: one timeline per build, one run list per pipeline (ADO returns all
//!   runs, no token), one result list per test run (ADO sends no token there either), one
//!   file download per file found;
//! - child kinds of repositories read the healthy ones only (enabled, in a healthy project);
//!   `file` and `folder` read all of them.
//!
//! Selectors are Port's defaults (pull requests active plus closed in the last 7 days,
//! capped at 100 per repository; test results on, no code coverage), and for the two kinds
//! that need one, [`FILE_SELECTOR`] and [`FOLDER_SELECTOR`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::synthetic_org::SyntheticOrg;

/// The `file` selector the counts assume: one literal path.
pub const FILE_SELECTOR: &str = r#"{"files": {"path": "catalog.json"}}"#;
/// The `folder` selector the counts assume: the folders one level below `src`.
pub const FOLDER_SELECTOR: &str = r#"{"folders": [{"path": "src/*"}]}"#;

const PAGE: u64 = 50;

/// Continuation-token paging: one request per 50 items, at least one.
fn by_token(n: u64) -> u64 {
    n.div_ceil(PAGE).max(1)
}

/// `$top`/`$skip` paging: one request per 50 items, plus the empty page that ends it.
fn by_skip(n: u64) -> u64 {
    n.div_ceil(PAGE) + 1
}

fn len(items: Option<&Vec<Value>>) -> u64 {
    items.map_or(0, Vec::len) as u64
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Enabled, in a healthy project: the repositories Port's child kinds read.
fn healthy(repo: &Value) -> bool {
    repo["isDisabled"] != Value::Bool(true)
        && !matches!(
            text(repo, "/project/state"),
            "deleted" | "deleting" | "new" | "createPending"
        )
}

/// Port's requests per kind for `org`, with "now" at `now` (for the pull requests' 7 days).
#[must_use]
pub fn port_requests(org: &SyntheticOrg, now: jiff::Timestamp) -> BTreeMap<&'static str, u64> {
    let projects = org.projects.len() as u64;
    let teams = org.teams.len() as u64;
    let healthy_repos: Vec<&Value> = org.repos.iter().filter(|r| healthy(r)).collect();
    let per_project = |matches: &dyn Fn(&str, &Value) -> bool, items: &[Value]| -> Vec<u64> {
        org.projects
            .iter()
            .map(|p| {
                let id = text(p, "/id");
                items.iter().filter(|i| matches(id, i)).count() as u64
            })
            .collect()
    };
    let pipelines = per_project(
        &|p, pl| {
            org.pipeline_project
                .get(&pl["id"].as_u64().unwrap_or(0))
                .is_some_and(|id| id == p)
        },
        &org.pipelines,
    );
    let pipeline_pages: u64 = pipelines.iter().map(|n| by_token(*n)).sum();
    let builds = per_project(&|p, b| text(b, "/project/id") == p, &org.builds);
    let build_pages: u64 = builds.iter().map(|n| by_token(*n)).sum();
    let d = &org.delivery;

    let mut out = BTreeMap::new();
    out.insert("project", by_token(projects));
    out.insert("team", by_skip(teams));
    out.insert(
        "member",
        org.team_members
            .values()
            .map(|m| by_skip(m.len() as u64))
            .sum(),
    );
    out.insert("user", by_token(org.entitlements.len() as u64));
    // Graph lists page by the server's size (Port's `$top` means nothing to the graph): 500.
    out.insert("group", (org.groups.len() as u64).div_ceil(500).max(1));
    out.insert(
        "group-member",
        org.memberships_down
            .values()
            .map(|m| 1 + (m.len() as u64).div_ceil(500))
            .sum(),
    );
    out.insert("repository", projects);
    out.insert("repository-policy", healthy_repos.len() as u64);
    out.insert(
        "branch",
        healthy_repos
            .iter()
            .map(|r| by_token(len(org.refs.get(text(r, "/id")))))
            .sum(),
    );
    out.insert(
        "pull-request",
        pull_request_requests(org, &healthy_repos, now),
    );
    out.insert("file", file_requests(org));
    out.insert("folder", folder_requests(org));
    out.insert("pipeline", pipeline_pages);
    out.insert("build", build_pages);
    out.insert("pipeline-stage", build_pages + org.builds.len() as u64);
    out.insert("pipeline-run", pipeline_pages + org.pipelines.len() as u64);
    let environments = per_project(&|p, e| text(e, "/project/id") == p, &d.environments);
    out.insert(
        "environment",
        environments.iter().map(|n| by_token(*n)).sum(),
    );
    out.insert(
        "pipeline-deployment",
        d.environments
            .iter()
            .map(|e| {
                let id = e["id"].as_u64().unwrap_or(0);
                by_token(len(d.environment_deployments.get(&id)))
            })
            .sum(),
    );
    let releases = per_project(&|p, r| text(r, "/projectReference/id") == p, &org.releases);
    out.insert("release", releases.iter().map(|n| by_token(*n)).sum());
    let of_project = |map: &std::collections::HashMap<String, Vec<Value>>| -> u64 {
        org.projects
            .iter()
            .map(|p| by_token(len(map.get(text(p, "/id")))))
            .sum()
    };
    out.insert("release-definition", of_project(&d.release_definitions));
    out.insert("release-deployment", of_project(&d.release_deployments));
    let runs = per_project(&|p, r| text(r, "/project/id") == p, &d.test_runs);
    out.insert(
        "test-run",
        runs.iter().map(|n| by_skip(*n)).sum::<u64>() + d.test_runs.len() as u64,
    );
    let items = per_project(
        &|p, w| {
            org.projects
                .iter()
                .find(|q| text(q, "/id") == p)
                .is_some_and(|q| w["fields"]["System.TeamProject"] == q["name"])
        },
        &org.work_items,
    );
    // WIQL by id ranges of 19,999 until a page comes back short, then 200-id batches.
    out.insert(
        "work-item",
        items.iter().map(|n| n / 19_999 + 1 + n.div_ceil(200)).sum(),
    );
    let boards: u64 = org.boards.values().map(|b| b.len() as u64).sum();
    out.insert(
        "board",
        projects * by_skip(teams / projects.max(1)) + teams + boards,
    );
    out.insert("column", 0);
    out.insert("iteration", projects + teams);
    out.insert("area-path", projects);
    out.insert(
        "advanced-security-alert",
        healthy_repos
            .iter()
            .map(|r| {
                org.alerts
                    .get(text(r, "/id"))
                    .map_or(1, |a| by_token(a.len() as u64))
            })
            .sum(),
    );
    let wiki_pages: u64 = org
        .wikis
        .values()
        .flatten()
        .map(|w| by_token(len(org.wiki_pages.get(text(w, "/id")))))
        .sum();
    out.insert("wiki", projects + wiki_pages);
    out
}

/// Three passes per healthy repository: active (unlimited), abandoned and completed in the
/// last 7 days (each capped at 100), `$top`/`$skip` each.
fn pull_request_requests(org: &SyntheticOrg, repos: &[&Value], now: jiff::Timestamp) -> u64 {
    let since = now - jiff::SignedDuration::from_hours(7 * 24);
    let mut requests = 0;
    for repo in repos {
        for status in ["active", "abandoned", "completed"] {
            let n = org
                .pull_requests
                .iter()
                .filter(|pr| pr["repository"]["id"] == repo["id"] && pr["status"] == status)
                .filter(|pr| {
                    status == "active"
                        || pr["closedDate"]
                            .as_str()
                            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                            .is_some_and(|d| d >= since)
                })
                .count() as u64;
            requests += if status == "active" {
                by_skip(n)
            } else if n >= 100 {
                2 // the cap reached: two full pages, no empty one
            } else {
                by_skip(n)
            };
        }
    }
    requests
}

/// [`FILE_SELECTOR`]: per repository with a default branch, one items batch, then one
/// download when the file is there.
fn file_requests(org: &SyntheticOrg) -> u64 {
    org.repos
        .iter()
        .filter(|r| r["defaultBranch"].is_string())
        .map(|r| {
            let found = org
                .files
                .get(text(r, "/id"))
                .is_some_and(|files| files.contains_key("/catalog.json"));
            1 + u64::from(found)
        })
        .sum()
}

/// [`FOLDER_SELECTOR`]: per repository, the one-level listing of `src` (the folder itself
/// and what is directly in it), 50 entries a page.
fn folder_requests(org: &SyntheticOrg) -> u64 {
    org.repos
        .iter()
        .map(|r| {
            let mut entries: Vec<&str> = org
                .files
                .get(text(r, "/id"))
                .into_iter()
                .flat_map(|files| files.keys())
                .filter_map(|path| path.strip_prefix("/src/"))
                .map(|rest| rest.split('/').next().unwrap_or(rest))
                .collect();
            entries.sort_unstable();
            entries.dedup();
            by_token(entries.len() as u64 + 1)
        })
        .sum()
}
