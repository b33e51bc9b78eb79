//! `release`: each project's classic releases on the `vsrm.` host
//! (`GET {vsrm}/{project}/_apis/release/releases`, continuation token), with Port's selector
//! filters passed through as query parameters. No enrichment (items carry
//! `projectReference`).

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, opt_str, opt_strs, selector_schema};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for releases: the release service returns at most 100 per page.
pub(crate) const PAGE: usize = 100;

pub(super) const KIND: KindDef = KindDef {
    name: "release",
    schema: selector_schema!("release"),
    options: &[
        "expand",
        "statusFilter",
        "tagFilter",
        "sourceBranchFilter",
        "minCreatedTime",
        "maxCreatedTime",
    ],
    ignored_options: &[],
    scope: Scope::Release,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(expand) = opt_str(&selector, "expand") {
        params.push(("$expand", expand.to_owned()));
    }
    for key in [
        "statusFilter",
        "sourceBranchFilter",
        "minCreatedTime",
        "maxCreatedTime",
    ] {
        if let Some(value) = opt_str(&selector, key) {
            params.push((key, value.to_owned()));
        }
    }
    let tags = opt_strs(&selector, "tagFilter");
    if !tags.is_empty() {
        params.push(("tagFilter", tags.join(",")));
    }
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        let params = params.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id");
            let mut call = Call::get(
                Service::Release,
                format!("/{id}/_apis/release/releases"),
                Scope::Release,
            )
            .param("api-version", "7.1");
            for (k, v) in params {
                call = call.param(k, v);
            }
            out.items = out.take_under(
                "releases",
                paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                absent::PROJECT_GONE,
            );
            out
        }
    })
    .await;
    out.absorb(parts);
    out
}
