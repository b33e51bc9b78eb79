//! `release-deployment`: each project's classic release deployments on the `vsrm.` host
//! (`GET {vsrm}/{project}/_apis/release/deployments`, `$top` + continuation token), raw:
//! Port adds no enrichment (items carry `release`, `releaseDefinition`,
//! `releaseEnvironment` and `projectReference`).
//!
//! Port's example mapping sets `includeRelease: true`, which Port's integration accepts and
//! ignores; it is listed in `ignored_options`, so lint says it has no effect.
//!
//! Narrowed to release environments (a live deployment event), the list asks for each
//! (`definitionEnvironmentId`); an incremental pass asks for what changed since its time
//! (`minModifiedTime`), as Port's does.

use serde_json::{Map, Value};

use super::{Collected, IgnoredOption, KindDef, SyncCtx, absent, each, field, selector_schema};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for release deployments: the release service returns at most 100 per page.
pub(crate) const PAGE: usize = 100;

pub(super) const KIND: KindDef = KindDef {
    name: "release-deployment",
    schema: selector_schema!("release-deployment"),
    options: &[],
    ignored_options: &[IgnoredOption {
        name: "includeRelease",
        why: "Port's integration never reads it; each deployment already carries its release's id and name.",
    }],
    scope: Scope::Release,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let client = ctx.client.clone();
    // One listing per environment named (live events), else one for the project.
    let mut queries: Vec<Vec<(&'static str, String)>> = match &ctx.narrow.environments {
        Some(ids) => ids
            .iter()
            .map(|id| vec![("definitionEnvironmentId", id.to_string())])
            .collect(),
        None => vec![Vec::new()],
    };
    if let Some(since) = ctx.narrow.since_text() {
        for q in &mut queries {
            q.push(("minModifiedTime", since.clone()));
        }
    }
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        let queries = queries.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id");
            for extra in queries {
                let mut call = Call::get(
                    Service::Release,
                    format!("/{id}/_apis/release/deployments"),
                    Scope::Release,
                )
                .param("api-version", "7.1");
                for (k, v) in extra {
                    call = call.param(k, v);
                }
                let listed = out.take_under(
                    "release deployments",
                    paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                    absent::PROJECT_GONE,
                );
                out.items.extend(listed);
            }
            out
        }
    })
    .await;
    out.absorb(parts);
    out
}
