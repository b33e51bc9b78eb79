//! `user`: organization users, from user entitlements (`vsaex.`, the default) or the graph
//! (`vssps.`), as Port's `source` option selects.
//!
//! Graph users with `includeGroupMemberships` get `__groups` (the graph subjects of the
//! groups they belong to directly, from `GET {vssps}/_apis/graph/memberships/{descriptor}?direction=Up`)
//! and `__projects` (the sorted, distinct `[Project]` prefixes of those groups'
//! `principalName`s), as Port adds them. Group descriptors are resolved with
//! `POST {vssps}/_apis/graph/subjectlookup` once for all users, 500 per request (shared with
//! `group-member`).

use serde_json::{Map, Value};

use std::collections::BTreeSet;

use super::{
    Collected, KindDef, Problem, SyncCtx, absent, each, field, opt_bool, opt_str, opt_strs,
    selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `top` for entitlements with an api-version below 7 (`top`/`skip` paging); ADO caps it at 10,000.
pub(crate) const LEGACY_PAGE: usize = 10_000;

pub(super) const KIND: KindDef = KindDef {
    name: "user",
    schema: selector_schema!("user"),
    options: &[
        "source",
        "subjectTypes",
        "includeGroupMemberships",
        "includeFields",
        "apiVersion",
    ],
    ignored_options: &[],
    scope: Scope::MemberEntitlements,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let mut out = Collected::default();
    if opt_str(&selector, "source") == Some("graph") {
        let mut call = Call::get(Service::Graph, "/_apis/graph/users", Scope::Graph)
            .param("api-version", "7.1-preview.1");
        let types = opt_strs(&selector, "subjectTypes");
        if !types.is_empty() {
            call = call.param("subjectTypes", types.join(","));
        }
        let users = out.take(
            "graph users",
            paging::by_continuation(&ctx.client, call, "value", None).await,
        );
        out.items = if opt_bool(&selector, "includeGroupMemberships") {
            with_groups(&ctx.client, users, &mut out).await
        } else {
            users
        };
        return out;
    }
    let mut call = Call::get(
        Service::Entitlements,
        "/_apis/userentitlements",
        Scope::MemberEntitlements,
    );
    let fields = opt_strs(&selector, "includeFields");
    if !fields.is_empty() {
        call = call.param("select", fields.join(","));
    }
    let version = opt_str(&selector, "apiVersion").unwrap_or("7.1").to_owned();
    let legacy = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major < 7);
    call = call.param("api-version", version);
    let result = if legacy {
        paging::by_skip(
            &ctx.client,
            call,
            "value",
            LEGACY_PAGE,
            None,
            ("top", "skip"),
        )
        .await
    } else {
        paging::by_continuation(&ctx.client, call, "items", None).await
    };
    out.items = out.take("user entitlements", result);
    out
}

async fn with_groups(client: &Client, users: Vec<Value>, out: &mut Collected) -> Vec<Value> {
    let descriptors: Vec<String> = users
        .iter()
        .map(|u| field(u, "/descriptor").to_owned())
        .collect();
    let memberships = each(descriptors, {
        let client = client.clone();
        move |descriptor| {
            let client = client.clone();
            async move {
                let call = Call::get(
                    Service::Graph,
                    format!("/_apis/graph/memberships/{descriptor}"),
                    Scope::Graph,
                )
                .param("direction", "Up")
                .param("api-version", "7.1-preview.1");
                // Read as a paged list: an answer that is not one, or says more follows,
                // is never taken for the whole membership.
                match paging::by_continuation(&client, call, "value", None).await {
                    Ok(m) => Ok(m
                        .iter()
                        .map(|m| field(m, "/containerDescriptor").to_owned())
                        .collect()),
                    // A user removed since the list was read belongs to nothing.
                    Err(p)
                        if p.items.is_empty() && p.error.is_not_found_as(absent::SUBJECT_GONE) =>
                    {
                        Ok(Vec::new())
                    }
                    Err(p) => Err(Problem::paging("group memberships", &p.error)),
                }
            }
        }
    })
    .await;
    let mut containers: Vec<Vec<String>> = Vec::with_capacity(memberships.len());
    for result in memberships {
        match result {
            Ok(list) => containers.push(list),
            Err(problem) => {
                out.problems.push(problem);
                containers.push(Vec::new());
            }
        }
    }
    let mut unique: Vec<String> = containers
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    unique.retain(|d| !d.is_empty());
    let subjects = super::group::lookup_subjects(client, unique, out).await;
    users
        .into_iter()
        .zip(containers)
        .map(|(mut user, containers)| {
            let groups: Vec<Value> = containers
                .iter()
                .filter_map(|d| subjects.get(d).cloned())
                .collect();
            let projects: BTreeSet<String> = groups
                .iter()
                .filter_map(|g| project_of(field(g, "/principalName")))
                .collect();
            user["__groups"] = Value::Array(groups);
            user["__projects"] = Value::Array(projects.into_iter().map(Value::String).collect());
            user
        })
        .collect()
}

/// `Project` from a group principal name `[Project]\Group`.
fn project_of(principal: &str) -> Option<String> {
    let rest = principal.strip_prefix('[')?;
    let (name, tail) = rest.split_once(']')?;
    tail.starts_with('\\').then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_of_a_group_is_its_bracketed_prefix() {
        assert_eq!(
            project_of("[Fabrikam]\\Contributors").as_deref(),
            Some("Fabrikam")
        );
        assert_eq!(project_of("Contributors"), None);
        assert_eq!(project_of("[Fabrikam]Contributors"), None);
    }
}
