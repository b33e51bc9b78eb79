//! `pipeline`: each project's pipelines (`GET {org}/{project}/_apis/pipelines`,
//! continuation token) with `__projectId`; `includeRepo` adds `__repository` from the
//! pipeline's build definition, as Port does.

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, opt_bool, selector_schema};
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
    fetch: Some(|ctx, selector| Box::pin(fetch(ctx, selector))),
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let include_repo = opt_bool(&selector, "includeRepo");
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
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
            let pipelines: Vec<Value> = pipelines
                .into_iter()
                .map(|mut p| {
                    p["__projectId"] = Value::String(id.clone());
                    p
                })
                .collect();
            if include_repo {
                let enriched = each(pipelines, {
                    let client = client.clone();
                    move |p| with_repository(client.clone(), p)
                })
                .await;
                out.absorb(enriched);
            } else {
                out.items = pipelines;
            }
            out
        }
    })
    .await;
    out.absorb(parts);
    out
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
