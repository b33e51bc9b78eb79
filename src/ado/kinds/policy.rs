//! `repository-policy`: the policy configurations of each healthy repository's default
//! branch (`GET {org}/{project}/_apis/git/policy/configurations?repositoryId&refName`),
//! each with `__repository`.

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, each, field, healthy};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for policy configurations: ADO documents no maximum; the token ends the list.
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "repository-policy",
    options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::default();
    if let Some(problem) = &repos.problem {
        out.problem(problem.clone());
    }
    let healthy_repos: Vec<Value> = repos.items.iter().filter(|r| healthy(r)).cloned().collect();
    let client = ctx.client.clone();
    let parts = each(healthy_repos, move |repo| {
        let client = client.clone();
        async move {
            let mut out = Collected::default();
            let project = field(&repo, "/project/id");
            let mut call = Call::get(
                Service::Core,
                format!("/{project}/_apis/git/policy/configurations"),
                Scope::Code,
            )
            .param("repositoryId", field(&repo, "/id"))
            .param("api-version", "7.1");
            let branch = field(&repo, "/defaultBranch");
            if !branch.is_empty() {
                call = call.param("refName", branch);
            }
            let result = paging::by_continuation(&client, call, "value", Some(PAGE)).await;
            let policies = match result {
                Err(p) if p.error.is_not_found() && p.items.is_empty() => Vec::new(),
                other => out.take("repository policies", other),
            };
            out.items = policies
                .into_iter()
                .map(|mut policy| {
                    policy["__repository"] = repo.clone();
                    policy
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
