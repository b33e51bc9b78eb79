//! `build`: each project's builds, newest first
//! (`GET {org}/{project}/_apis/build/builds?queryOrder=queueTimeDescending`, continuation
//! token), with `__projectId` and `__project` as Port adds them.

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, each, field, opt_bool};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for builds: no documented maximum; the continuation token ends the list.
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "build",
    options: &["enrichWithFirstCommit"],
    scope: Scope::Build,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::default();
    if let Some(problem) = &projects.problem {
        out.problem(problem.clone());
    }
    if opt_bool(&selector, "enrichWithFirstCommit") {
        out.problem("build: enrichWithFirstCommit is not supported yet");
    }
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id").to_owned();
            let call = Call::get(
                Service::Core,
                format!("/{id}/_apis/build/builds"),
                Scope::Build,
            )
            .param("queryOrder", "queueTimeDescending")
            .param("api-version", "7.1");
            let builds = match paging::by_continuation(&client, call, "value", Some(PAGE)).await {
                Err(p) if p.error.is_not_found() && p.items.is_empty() => Vec::new(),
                other => out.take("builds", other),
            };
            out.items = builds
                .into_iter()
                .map(|mut b| {
                    b["__projectId"] = Value::String(id.clone());
                    b["__project"] = project.clone();
                    b
                })
                .collect();
            out
        }
    })
    .await;
    for part in parts {
        out.extend(part);
    }
    out
}
