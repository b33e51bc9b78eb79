//! `pipeline-run`: the runs of every pipeline. Per pipeline of the shared pipeline list
//! (`SyncCtx::pipelines`), `GET {org}/{project}/_apis/pipelines/{id}/runs`, each run with
//! `__project` (the listed project) and `__pipeline` (the pipeline as the list returns it),
//! as Port adds them.
//!
//! ADO's runs list takes no page size and returns the latest runs of a pipeline, at most
//! [`RUNS_CAP`], with no continuation token to reach older ones. A pipeline that answers with
//! exactly that many has probably been cut, and nothing says which runs are missing, so the
//! kind is reported incomplete (nothing of it is deleted) instead of passing a truncated list
//! off as whole; Port keeps the truncated list. Should ADO ever send a continuation token
//! here, it is followed.
//!
//! Narrowed to runs (a live event) or to a time (an incremental pass), the runs are found
//! through the build list (`SyncCtx::builds`, which asks for `buildIds` or `minTime`: a run
//! is a build of its pipeline) and each is read by id
//! (`GET {org}/{project}/_apis/pipelines/{pipeline}/runs/{run}`), instead of listing every
//! run of their pipelines. Port's incremental pass reads Analytics OData on the `analytics.`
//! host for the same ids; the build list needs no other host or scope.
//!
//! Each pipeline's (or build's) runs are handed to the sync's page sink, in list order, as
//! they are read, when it has one.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, SyncCtx, absent, each_in_order, field, id_field, selector_schema, set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// The most runs ADO's runs list returns for one pipeline.
pub(crate) const RUNS_CAP: usize = 10_000;

pub(super) const KIND: KindDef = KindDef {
    name: "pipeline-run",
    schema: selector_schema!("pipeline-run"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Build,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    if ctx.narrow.builds.is_some() || ctx.narrow.since.is_some() {
        return by_build(ctx).await;
    }
    let pipelines = ctx.pipelines().await;
    // Already fetched for the pipeline list; its problem is the pipeline list's too.
    let projects = ctx.projects().await;
    let mut out = Collected::under(&pipelines);
    let by_id: HashMap<String, Value> = projects
        .items
        .iter()
        .map(|p| (field(p, "/id").to_owned(), p.clone()))
        .collect();
    let client = ctx.client.clone();
    let runs = each_in_order(
        &ctx,
        "pipeline runs",
        pipelines.items.iter().cloned(),
        |pipeline| {
            let project = by_id
                .get(field(&pipeline, "/__projectId"))
                .cloned()
                .unwrap_or(Value::Null);
            runs_of(client.clone(), project, pipeline)
        },
    )
    .await;
    out.extend(runs);
    out
}

/// The runs of the builds the narrowed build list holds, each read by id.
async fn by_build(ctx: SyncCtx) -> Collected {
    let builds = ctx.builds().await;
    let pipelines = ctx.pipelines().await;
    let mut out = Collected::under_problem(builds.problem.as_ref());
    if let Some(problem) = &pipelines.problem {
        out.problems.push(problem.clone());
    }
    // `__pipeline` is the pipeline as ADO lists it, without the `__projectId` added here.
    let by_id: HashMap<String, Value> = pipelines
        .items
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Value::Object(map) = &mut p {
                map.remove("__projectId");
            }
            (id_field(&p, "/id"), p)
        })
        .collect();
    let client = ctx.client.clone();
    let runs = each_in_order(&ctx, "pipeline runs", builds.items(), |build| {
        let client = client.clone();
        let pipeline = build
            .as_ref()
            .ok()
            .and_then(|build| by_id.get(&id_field(build, "/definition/id")))
            .cloned()
            .unwrap_or(Value::Null);
        async move {
            match build {
                Ok(build) => run_of(client, build, pipeline).await,
                Err(problem) => problem.into(),
            }
        }
    })
    .await;
    out.extend(runs);
    out
}

/// One build's run, with `__project` and `__pipeline`.
async fn run_of(client: Client, build: Value, pipeline: Value) -> Collected {
    let mut out = Collected::default();
    let project = field(&build, "/__projectId");
    let definition = id_field(&build, "/definition/id");
    let id = id_field(&build, "/id");
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/pipelines/{definition}/runs/{id}"),
        Scope::Build,
    )
    .param("api-version", "7.1");
    match client.send(&call).await {
        Ok(page) => {
            let mut run = page.body;
            set_field(
                &mut run,
                "__project",
                build.get("__project").cloned().unwrap_or(Value::Null),
            );
            set_field(&mut run, "__pipeline", pipeline);
            out.items.push(run);
        }
        // Listed a moment ago: a 404 now is not "gone", whatever its body says.
        Err(e) => out.failed(&format!("run {id} of pipeline {definition}"), &e),
    }
    out
}

async fn runs_of(client: Client, project: Value, mut pipeline: Value) -> Collected {
    let mut out = Collected::default();
    let project_id = field(&pipeline, "/__projectId").to_owned();
    let id = id_field(&pipeline, "/id");
    let call = Call::get(
        Service::Core,
        format!("/{project_id}/_apis/pipelines/{id}/runs"),
        Scope::Build,
    )
    .param("api-version", "7.1");
    let runs = out.take_under(
        &format!("runs of pipeline {id}"),
        paging::by_continuation(&client, call, "value", None).await,
        absent::PROJECT_GONE,
    );
    if runs.len() == RUNS_CAP {
        out.problem(format!(
            "pipeline {id} of project {project_id} returned {RUNS_CAP} runs, the most ADO's runs list returns: older runs may be missing"
        ));
    }
    // `__pipeline` is the pipeline as ADO lists it, without the `__projectId` added here.
    if let Value::Object(map) = &mut pipeline {
        map.remove("__projectId");
    }
    out.items = runs
        .into_iter()
        .map(|mut run| {
            set_field(&mut run, "__project", project.clone());
            set_field(&mut run, "__pipeline", pipeline.clone());
            run
        })
        .collect();
    out
}
