//! `environment` and `pipeline-deployment`: each project's pipeline environments
//! (`GET {org}/{project}/_apis/distributedtask/environments`, `$top` + continuation token),
//! raw, as Port yields them; and each environment's deployment records
//! (`GET {org}/{project}/_apis/distributedtask/environments/{id}/environmentdeploymentrecords`,
//! `top` + continuation token), each with `__project` set to the environment's own `project`
//! (`{id, name: null}`), as Port sets it.
//!
//! The environment list is a parent list (`SyncCtx::environments`), fetched once per sync
//! and shared by both kinds. Both endpoints are preview in api-version 7.1.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, SyncCtx, absent, each, field, id_field, selector_schema,
    set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for environments: no documented maximum; the continuation token ends the list.
pub(crate) const PAGE: usize = 1000;
/// `top` (this endpoint's spelling) for deployment records: no documented maximum; the
/// continuation token ends the list.
pub(crate) const RECORD_PAGE: usize = 1000;

const API_VERSION: &str = "7.1-preview.1";

pub(super) const KIND: KindDef = KindDef {
    name: "environment",
    schema: selector_schema!("environment"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Environment,
    fetch: |ctx, _selector| Box::pin(fetch_environments(ctx)),
    incremental: false,
};

pub(super) const DEPLOYMENT: KindDef = KindDef {
    name: "pipeline-deployment",
    schema: selector_schema!("pipeline-deployment"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Environment,
    fetch: |ctx, selector| Box::pin(fetch_deployments(ctx, selector)),
    incremental: false,
};

async fn fetch_environments(ctx: SyncCtx) -> Collected {
    let environments = ctx.environments().await;
    let mut out = Collected::under(&environments);
    out.items = environments.items.clone();
    out
}

/// The shared environment list: every project's environments, as ADO returns them.
pub(super) async fn list_environments(ctx: SyncCtx) -> Arc<ParentList> {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id");
            let call = Call::get(
                Service::Core,
                format!("/{id}/_apis/distributedtask/environments"),
                Scope::Environment,
            )
            .param("api-version", API_VERSION);
            out.items = out.take_under(
                "environments",
                paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                absent::PROJECT_GONE,
            );
            out
        }
    })
    .await;
    out.absorb(parts);
    Arc::new(ParentList::from_collected(out))
}

async fn fetch_deployments(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let environments = ctx.environments().await;
    let mut out = Collected::under(&environments);
    let client = ctx.client.clone();
    let parts = each(environments.items.clone(), move |environment| {
        records_of(client.clone(), environment)
    })
    .await;
    out.absorb(parts);
    out
}

async fn records_of(client: Client, environment: Value) -> Collected {
    let mut out = Collected::default();
    let id = id_field(&environment, "/id");
    let project = environment.get("project").cloned().unwrap_or(Value::Null);
    let project_id = field(&project, "/id").to_owned();
    if project_id.is_empty() || id.is_empty() {
        out.problem(format!(
            "environment {id:?} names no project: its deployment records cannot be read"
        ));
        return out;
    }
    let call = Call::get(
        Service::Core,
        format!(
            "/{project_id}/_apis/distributedtask/environments/{id}/environmentdeploymentrecords"
        ),
        Scope::Environment,
    )
    .param("top", RECORD_PAGE.to_string())
    .param("api-version", API_VERSION);
    let records = out.take_under(
        &format!("deployment records of environment {id}"),
        paging::by_continuation(&client, call, "value", None).await,
        absent::PROJECT_GONE,
    );
    out.items = records
        .into_iter()
        .map(|mut record| {
            set_field(&mut record, "__project", project.clone());
            record
        })
        .collect();
    out
}
