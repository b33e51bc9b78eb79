//! `build`: each project's builds, newest first
//! (`GET {org}/{project}/_apis/build/builds?queryOrder=queueTimeDescending`, continuation
//! token), with `__projectId` and `__project` as Port adds them. The list is a parent list
//! (`SyncCtx::builds`), fetched once per sync, kept as text (`TextList`) and shared with
//! `pipeline-stage`.
//!
//! Narrowed, the list asks for the builds by id (`buildIds`), or for those finished since a
//! time (`minTime` with `queryOrder=finishTimeDescending`: a build changes last when it
//! finishes; one still running is read again by its own events).
//!
//! `enrichWithFirstCommit` adds `__firstCommit` as Port does: the earliest (by `timestamp`)
//! of the build's changes (`GET …/build/builds/{id}/changes`, all pages) with `__sha`,
//! `__timestamp` and `__commitCount`; a build whose changes carry no timestamp falls back to
//! its source commit (`GET …/git/repositories/{repo}/commits/{sourceVersion}`). A 404 that
//! ADO types as "that build or commit is gone" leaves the build unenriched (as Port); any
//! other failure makes the kind incomplete.
//!
//! The builds are handed to the sync's page sink a slice at a time when it has one (the
//! shared list is then not copied whole).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, IgnoredOption, KindDef, Narrow, SyncCtx, TextList, absent, each_in_order, field,
    opt_bool, selector_schema, set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for builds: no documented maximum; the continuation token ends the list.
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "build",
    schema: selector_schema!("build"),
    options: &["enrichWithFirstCommit"],
    ignored_options: &[IgnoredOption {
        name: "defaultTeam",
        why: "Port's integration inherits it from the project selector; builds never read it.",
    }],
    scope: Scope::Build,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

/// Builds handed over at a time when the list is not enriched.
const HANDED: usize = 200;

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let builds = ctx.builds().await;
    let mut out = Collected::under_problem(builds.problem.as_ref());
    if !opt_bool(&selector, "enrichWithFirstCommit") {
        let mut part = Collected::default();
        for build in builds.items() {
            match build {
                Ok(build) => part.items.push(build),
                Err(problem) => part.problems.push(problem),
            }
            if part.items.len() == HANDED {
                out.hand_over(&ctx, "builds", std::mem::take(&mut part))
                    .await;
            }
        }
        out.hand_over(&ctx, "builds", part).await;
        return out;
    }
    let client = ctx.client.clone();
    let enriched = each_in_order(&ctx, "builds", builds.items(), |build| {
        let client = client.clone();
        async move {
            match build {
                Ok(build) => with_first_commit(client, build).await,
                Err(problem) => problem.into(),
            }
        }
    })
    .await;
    out.extend(enriched);
    out
}

/// Projects whose builds are listed at once: each project's are held as values until
/// they are kept as text.
const PROJECTS_IN_FLIGHT: usize = 2;

/// The shared build list: every project's builds, newest first, each with `__projectId`
/// and `__project` (the listed project), as Port adds them; each project's kept as text as
/// soon as it is read.
pub(super) async fn list_builds(ctx: SyncCtx) -> Arc<TextList> {
    use futures_util::StreamExt;
    let projects = ctx.projects().await;
    let client = ctx.client.clone();
    let narrow = ctx.narrow.clone();
    let parts: Vec<_> = futures_util::stream::iter(projects.items.clone())
        .map(move |project| {
            let client = client.clone();
            let narrow = narrow.clone();
            async move {
                let mut out = Collected::default();
                let id = field(&project, "/id").to_owned();
                let mut call = Call::get(
                    Service::Core,
                    format!("/{id}/_apis/build/builds"),
                    Scope::Build,
                )
                .param("api-version", "7.1");
                call = match narrow.since_text() {
                    Some(since) => call
                        .param("queryOrder", "finishTimeDescending")
                        .param("minTime", since),
                    None => call.param("queryOrder", "queueTimeDescending"),
                };
                if let Some(ids) = &narrow.builds {
                    call = call.param("buildIds", Narrow::joined(ids));
                }
                let builds = out.take_under(
                    "builds",
                    paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                    absent::PROJECT_GONE,
                );
                let builds = builds
                    .into_iter()
                    .map(|mut b| {
                        set_field(&mut b, "__projectId", Value::String(id.clone()));
                        set_field(&mut b, "__project", project.clone());
                        b
                    })
                    .collect();
                (TextList::texts(builds, &mut out), out)
            }
        })
        .buffered(PROJECTS_IN_FLIGHT)
        .collect()
        .await;
    let under = Collected::under(&projects);
    Arc::new(TextList::from_parts(
        std::iter::once((Vec::new(), under)).chain(parts),
    ))
}

/// `$top` for a build's changes: the continuation token ends the list.
const CHANGES_PAGE: usize = 1000;

async fn with_first_commit(client: Client, mut build: Value) -> Collected {
    let mut out = Collected::default();
    let project = field(&build, "/__projectId").to_owned();
    let id = build.get("id").map(Value::to_string).unwrap_or_default();
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/build/builds/{id}/changes"),
        Scope::Build,
    )
    .param("api-version", "7.1");
    let changes = match paging::by_continuation(&client, call, "value", Some(CHANGES_PAGE)).await {
        Ok(changes) => changes,
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::BUILD_GONE) => {
            out.items.push(build);
            return out;
        }
        Err(p) => {
            out.problems
                .push(super::Problem::paging("build changes", &p.error));
            out.items.push(build);
            return out;
        }
    };
    let count = changes.len();
    let earliest = changes
        .iter()
        .filter_map(|c| {
            let ts = c.get("timestamp").and_then(Value::as_str)?;
            Some((ts.parse::<jiff::Timestamp>().ok()?, c))
        })
        .min_by_key(|(ts, _)| *ts)
        .map(|(_, c)| c.clone());
    let first = match earliest {
        Some(mut change) => {
            change["__sha"] = change.get("id").cloned().unwrap_or(Value::Null);
            change["__timestamp"] = change.get("timestamp").cloned().unwrap_or(Value::Null);
            change["__commitCount"] = Value::from(count);
            Some(change)
        }
        None => source_commit(&client, &build, &mut out).await,
    };
    if let Some(first) = first {
        build["__firstCommit"] = first;
    }
    out.items.push(build);
    out
}

/// The build's source commit, shaped as Port's fallback `__firstCommit`.
async fn source_commit(client: &Client, build: &Value, out: &mut Collected) -> Option<Value> {
    let project = field(build, "/__projectId");
    let repo = field(build, "/repository/id");
    let sha = field(build, "/sourceVersion");
    if repo.is_empty() || sha.is_empty() {
        return None;
    }
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/git/repositories/{repo}/commits/{sha}"),
        Scope::Code,
    )
    .param("api-version", "7.1");
    match client.send(&call).await {
        Ok(page) => {
            let mut commit = page.body;
            commit["__sha"] = Value::String(
                commit
                    .get("commitId")
                    .and_then(Value::as_str)
                    .unwrap_or(sha)
                    .to_owned(),
            );
            commit["__timestamp"] = commit
                .pointer("/committer/date")
                .cloned()
                .unwrap_or(Value::Null);
            commit["__commitCount"] = Value::from(1);
            Some(commit)
        }
        Err(e) if e.is_not_found_as(absent::COMMIT_GONE) => None,
        Err(e) => {
            out.failed("build source commit", &e);
            None
        }
    }
}
