//! `branch`: the `refs/heads/*` of each healthy repository
//! (`GET …/git/repositories/{id}/refs?filter=heads/`, continuation token), synthesized as
//! Port does: `{name, refName, objectId, __repository}`.

use serde_json::{Map, Value, json};

use super::{Collected, KindDef, SyncCtx, absent, each, field, healthy, selector_schema};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for refs: ADO's documented maximum ("cannot be bigger than 1000").
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "branch",
    schema: selector_schema!("branch"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let healthy_repos: Vec<Value> = repos.items.iter().filter(|r| healthy(r)).cloned().collect();
    let client = ctx.client.clone();
    let parts = each(healthy_repos, move |repo| {
        let client = client.clone();
        async move {
            let mut out = Collected::default();
            let path = format!(
                "/{}/_apis/git/repositories/{}/refs",
                field(&repo, "/project/id"),
                field(&repo, "/id")
            );
            let call = Call::get(Service::Core, path, Scope::Code)
                .param("filter", "heads/")
                .param("api-version", "7.1");
            let refs = out.take_under(
                "branches",
                paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                absent::REPOSITORY_GONE,
            );
            out.items = refs
                .iter()
                .map(|r| {
                    let ref_name = field(r, "/name");
                    json!({
                        "name": ref_name.strip_prefix("refs/heads/").unwrap_or(ref_name),
                        "refName": ref_name,
                        "objectId": r.get("objectId").cloned().unwrap_or(Value::Null),
                        "__repository": repo.clone(),
                    })
                })
                .collect();
            out
        }
    })
    .await;
    out.absorb(parts);
    out
}
