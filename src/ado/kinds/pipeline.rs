//! `pipeline`: each project's pipelines (`GET {org}/{project}/_apis/pipelines`,
//! continuation token) with `__projectId`; `includeRepo` adds `__repository` from the
//! pipeline's build definition, as Port does. The list is a parent list
//! (`SyncCtx::pipelines`), fetched once per sync and shared with `pipeline-run`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, SyncCtx, absent, each, field, opt_bool, selector_schema,
    set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for pipelines: no documented maximum; the continuation token ends the list.
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "pipeline",
    schema: selector_schema!("pipeline"),
    options: &["includeRepo"],
    ignored_options: &[],
    scope: Scope::Build,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let pipelines = ctx.pipelines().await;
    let mut out = Collected::under(&pipelines);
    if !opt_bool(&selector, "includeRepo") {
        out.items = pipelines.items.clone();
        return out;
    }
    let client = ctx.client.clone();
    let enriched = each(pipelines.items.clone(), move |p| {
        with_repository(client.clone(), p)
    })
    .await;
    out.absorb(enriched);
    out
}

/// The shared pipeline list: every project's pipelines (narrowed: those named), each with
/// `__projectId`.
pub(super) async fn list_pipelines(ctx: SyncCtx) -> Arc<ParentList> {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let client = ctx.client.clone();
    let narrow = ctx.narrow.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        let narrow = narrow.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id").to_owned();
            let call = Call::get(
                Service::Core,
                format!("/{id}/_apis/pipelines"),
                Scope::Build,
            )
            .param("api-version", "7.1");
            let pipelines = out.take_under(
                "pipelines",
                paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                absent::PROJECT_GONE,
            );
            out.items = pipelines
                .into_iter()
                .filter(|p| narrow.keeps_pipeline(p.get("id").and_then(Value::as_u64)))
                .map(|mut p| {
                    set_field(&mut p, "__projectId", Value::String(id.clone()));
                    p
                })
                .collect();
            out
        }
    })
    .await;
    out.absorb(parts);
    Arc::new(ParentList::from_collected(out))
}

async fn with_repository(client: Client, mut pipeline: Value) -> Collected {
    let mut out = Collected::default();
    let project = field(&pipeline, "/__projectId").to_owned();
    let id = pipeline.get("id").map(Value::to_string).unwrap_or_default();
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/build/definitions/{id}"),
        Scope::Build,
    )
    .param("api-version", "7.1");
    match client.send(&call).await {
        Ok(page) => {
            let mut repo = page.body.get("repository").cloned().unwrap_or(Value::Null);
            if let Value::Object(map) = &mut repo {
                map.insert(
                    "project".into(),
                    page.body.get("project").cloned().unwrap_or(Value::Null),
                );
            }
            pipeline["__repository"] = repo;
        }
        // A pipeline without a build definition (deleted meanwhile) keeps no repository.
        Err(e) if e.is_not_found_as(absent::DEFINITION_GONE) => {}
        Err(e) => out.failed("pipeline repository", &e),
    }
    out.items.push(pipeline);
    out
}
