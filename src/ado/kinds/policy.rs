//! `repository-policy`: the policy configurations that apply to each healthy repository's
//! default branch, each with `__repository` — what Port gets from one
//! `GET {org}/{project}/_apis/git/policy/configurations?repositoryId&refName` per repository.
//!
//! Here the policies are listed once per *project* (same endpoint, no filter, continuation
//! token) and matched to repositories client-side with the rule ADO's filter applies: a
//! policy applies when one of its `settings.scope` entries names the repository (or no
//! repository) and the default branch (`refName` exact, `matchKind: prefix`, or
//! `matchKind: DefaultBranch`, or no `refName`). A policy without a scope applies
//! everywhere. Items come out in Port's order: repository order, then the API's order.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, healthy, selector_schema};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for policy configurations: ADO documents no maximum; the token ends the list.
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "repository-policy",
    schema: selector_schema!("repository-policy"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let healthy_repos: Vec<&Value> = repos.items.iter().filter(|r| healthy(r)).collect();
    let mut projects: Vec<String> = Vec::new();
    for repo in &healthy_repos {
        let project = field(repo, "/project/id").to_owned();
        if !projects.contains(&project) {
            projects.push(project);
        }
    }
    let client = ctx.client.clone();
    let listed = each(projects.clone(), move |project| {
        let client = client.clone();
        async move {
            let call = Call::get(
                Service::Core,
                format!("/{project}/_apis/git/policy/configurations"),
                Scope::Code,
            )
            .param("api-version", "7.1");
            paging::by_continuation(&client, call, "value", Some(PAGE)).await
        }
    })
    .await;
    let mut by_project: HashMap<String, Vec<Value>> = HashMap::new();
    for (project, result) in projects.into_iter().zip(listed) {
        let policies = out.take_under("repository policies", result, absent::PROJECT_GONE);
        by_project.insert(project, policies);
    }
    for repo in healthy_repos {
        let Some(policies) = by_project.get(field(repo, "/project/id")) else {
            continue;
        };
        let branch = Some(field(repo, "/defaultBranch")).filter(|b| !b.is_empty());
        for policy in policies {
            if applies(policy, field(repo, "/id"), branch) {
                let mut item = policy.clone();
                item["__repository"] = (*repo).clone();
                out.items.push(item);
            }
        }
    }
    out
}

/// Whether `policy` is among those ADO returns for `repositoryId=repo&refName=branch`.
pub(crate) fn applies(policy: &Value, repo: &str, branch: Option<&str>) -> bool {
    let Some(scopes) = policy.pointer("/settings/scope").and_then(Value::as_array) else {
        return true;
    };
    if scopes.is_empty() {
        return true;
    }
    scopes.iter().any(|scope| {
        let repo_ok = match scope.get("repositoryId").and_then(Value::as_str) {
            None => true,
            Some(id) => id.eq_ignore_ascii_case(repo),
        };
        let ref_ok = match branch {
            // Without a default branch Port sends no refName: every ref of the repository.
            None => true,
            Some(branch) => {
                let kind = scope
                    .get("matchKind")
                    .and_then(Value::as_str)
                    .unwrap_or("exact");
                match (
                    kind.to_ascii_lowercase().as_str(),
                    scope.get("refName").and_then(Value::as_str),
                ) {
                    ("defaultbranch", _) | (_, None) => true,
                    ("prefix", Some(prefix)) => branch.starts_with(prefix),
                    (_, Some(name)) => name == branch,
                }
            }
        };
        repo_ok && ref_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(scope: Value) -> Value {
        json!({"id": 1, "settings": {"scope": scope}})
    }

    #[test]
    fn a_repository_scoped_policy_applies_to_its_branch_only() {
        let p = policy(
            json!([{"repositoryId": "R1", "refName": "refs/heads/main", "matchKind": "Exact"}]),
        );
        assert!(applies(&p, "r1", Some("refs/heads/main")));
        assert!(!applies(&p, "R2", Some("refs/heads/main")));
        assert!(!applies(&p, "R1", Some("refs/heads/develop")));
        assert!(applies(&p, "R1", None));
    }

    #[test]
    fn project_wide_prefix_and_default_branch_policies_apply_across_repositories() {
        let wide = policy(json!([{"repositoryId": null}]));
        assert!(applies(&wide, "any", Some("refs/heads/main")));
        let prefix = policy(
            json!([{"repositoryId": null, "refName": "refs/heads/rel", "matchKind": "Prefix"}]),
        );
        assert!(applies(&prefix, "any", Some("refs/heads/release")));
        assert!(!applies(&prefix, "any", Some("refs/heads/main")));
        let default =
            policy(json!([{"repositoryId": null, "refName": null, "matchKind": "DefaultBranch"}]));
        assert!(applies(&default, "any", Some("refs/heads/trunk")));
        assert!(applies(
            &json!({"id": 2, "settings": {}}),
            "any",
            Some("refs/heads/main")
        ));
    }
}
