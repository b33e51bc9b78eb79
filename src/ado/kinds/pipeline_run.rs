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
//! Port's incremental sync of runs (Analytics OData `PipelineRuns` on the `analytics.` host,
//! `CompletedDate ge <cursor>`, then one GET per run) belongs to incremental sync, which this
//! version does not do: every sync lists every pipeline's runs.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, SyncCtx, absent, each, field, id_field, selector_schema, set_field,
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
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
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
    let parts = each(pipelines.items.clone(), move |pipeline| {
        let project = by_id
            .get(field(&pipeline, "/__projectId"))
            .cloned()
            .unwrap_or(Value::Null);
        runs_of(client.clone(), project, pipeline)
    })
    .await;
    out.absorb(parts);
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
