//! `release`: each project's classic releases on the `vsrm.` host
//! (`GET {vsrm}/{project}/_apis/release/releases`, continuation token), with Port's selector
//! filters passed through as query parameters. No enrichment (items carry
//! `projectReference`).
//!
//! Narrowed to ids, the list asks for them (`releaseIdFilter`). An incremental pass reads
//! the releases created since its time, as Port's does, and also those whose deployments
//! changed since (`deployments?minModifiedTime`): a release's status and its stages' move
//! with its deployments, which Port's incremental pass never sees.
//!
//! Each project's releases are handed to the sync's page sink, in project order, as they
//! are read, when it has one.

use serde_json::{Map, Value};

use std::collections::HashSet;

use super::{
    Collected, KindDef, Narrow, SyncCtx, absent, each_in_order, field, opt_str, opt_strs,
    selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
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
    incremental: true,
};

/// One project's releases with `params`.
async fn list(client: &Client, project: &str, params: &[(&'static str, String)]) -> Collected {
    let mut out = Collected::default();
    let mut call = Call::get(
        Service::Release,
        format!("/{project}/_apis/release/releases"),
        Scope::Release,
    )
    .param("api-version", "7.1");
    for (k, v) in params {
        call = call.param(*k, v.clone());
    }
    out.items = out.take_under(
        "releases",
        paging::by_continuation(client, call, "value", Some(PAGE)).await,
        absent::PROJECT_GONE,
    );
    out
}

/// The releases of a project that changed since `since`: those created since (the later
/// of the selector's `minCreatedTime` and the pass's), and those whose deployments changed
/// since (`minModifiedTime`), read by id in the selector's filters.
async fn changed_since(
    client: &Client,
    project: &str,
    mut params: Vec<(&'static str, String)>,
    since: jiff::Timestamp,
) -> Collected {
    let own = params
        .iter()
        .find(|(k, _)| *k == "minCreatedTime")
        .and_then(|(_, t)| t.parse::<jiff::Timestamp>().ok());
    let mut created = params.clone();
    created.retain(|(k, _)| *k != "minCreatedTime");
    created.push((
        "minCreatedTime",
        own.map_or(since, |own| own.max(since)).to_string(),
    ));
    let mut out = list(client, project, &created).await;
    let call = Call::get(
        Service::Release,
        format!("/{project}/_apis/release/deployments"),
        Scope::Release,
    )
    .param("minModifiedTime", since.to_string())
    .param("api-version", "7.1");
    let deployed = out.take_under(
        "release deployments",
        paging::by_continuation(client, call, "value", Some(PAGE)).await,
        absent::PROJECT_GONE,
    );
    let mut seen: HashSet<u64> = out
        .items
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_u64))
        .collect();
    let touched: Vec<u64> = deployed
        .iter()
        .filter_map(|d| d.pointer("/release/id").and_then(Value::as_u64))
        .filter(|id| seen.insert(*id))
        .collect();
    for chunk in touched.chunks(PAGE) {
        params.retain(|(k, _)| *k != "releaseIdFilter");
        let ids: std::collections::BTreeSet<u64> = chunk.iter().copied().collect();
        params.push(("releaseIdFilter", Narrow::joined(&ids)));
        out.extend(list(client, project, &params).await);
    }
    out
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let mut params: Vec<(&'static str, String)> = Vec::new();
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
    if let Some(ids) = &ctx.narrow.releases {
        params.push(("releaseIdFilter", Narrow::joined(ids)));
    }
    let since = ctx.narrow.since;
    let client = ctx.client.clone();
    let releases = each_in_order(
        &ctx,
        "releases",
        projects.items.iter().cloned(),
        |project| {
            let client = client.clone();
            let params = params.clone();
            async move {
                let id = field(&project, "/id").to_owned();
                match since {
                    None => list(&client, &id, &params).await,
                    Some(since) => changed_since(&client, &id, params, since).await,
                }
            }
        },
    )
    .await;
    out.extend(releases);
    out
}
