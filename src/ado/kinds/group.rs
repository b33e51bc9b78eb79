//! `group` and `group-member`: the organization's graph groups
//! (`GET {vssps}/_apis/graph/groups`, continuation token), and the direct members of each
//! (`GET {vssps}/_apis/graph/memberships/{descriptor}?direction=Down`), resolved to their
//! graph subjects (users or groups) with `POST {vssps}/_apis/graph/subjectlookup`.
//!
//! A group-member item is the member's subject plus `__group` (the full group), as Port
//! yields it. Direct members only, no recursion: a nested group is a member like a user.
//!
//! `excludedTags`: a project's groups (`domain` names the project) belong to it and are left
//! out with it, as members (of its groups) and as groups; Port's integration lists them.
//! Users and organization-level groups belong to no project and stay.
//!
//! Unlike Port, which looks up each group's members on its own and skips a lookup batch that
//! fails, the descriptors of all groups are looked up together (each subject once, 500 per
//! request), and a batch that fails makes the kind incomplete: its members would otherwise
//! read as removed. A member ADO's lookup answers without (a subject deleted since the
//! membership was read) is gone, and is left out.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, each, field, selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// Descriptors per subject lookup (Port's batch; ADO accepts this many).
pub(crate) const LOOKUP_BATCH: usize = 500;

pub(super) const KIND: KindDef = KindDef {
    name: "group",
    schema: selector_schema!("group"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Graph,
    fetch: |ctx, _selector| Box::pin(fetch_groups(ctx)),
    incremental: false,
};

pub(super) const MEMBER: KindDef = KindDef {
    name: "group-member",
    schema: selector_schema!("group-member"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Graph,
    fetch: |ctx, _selector| Box::pin(fetch_members(ctx)),
    incremental: false,
};

async fn fetch_groups(ctx: SyncCtx) -> Collected {
    let groups = ctx.groups().await;
    let mut out = Collected::under(&groups);
    out.items = groups.items.clone();
    out
}

/// The shared group list. The endpoint takes no page size; the continuation token (header)
/// ends the list.
pub(super) async fn list_groups(ctx: SyncCtx) -> Arc<ParentList> {
    let call = Call::get(Service::Graph, "/_apis/graph/groups", Scope::Graph)
        .param("api-version", "7.1-preview.1");
    let mut list = ParentList::default();
    match paging::by_continuation(&ctx.client, call, "value", None).await {
        Ok(items) => list.items = items,
        Err(partial) => {
            list.items = partial.items;
            list.problem = Some(Problem::paging("graph groups", &partial.error));
        }
    }
    if let Some((excluded, problem)) = ctx.excluded_projects().await {
        list.items
            .retain(|group| !in_excluded_project(group, &excluded));
        if list.problem.is_none() {
            list.problem = problem;
        }
    }
    Arc::new(list)
}

/// Whether a graph subject is a group of a project `excludedTags` drop: its `domain` is
/// `vstfs:///Classification/TeamProject/{projectId}`.
fn in_excluded_project(subject: &Value, excluded: &BTreeSet<String>) -> bool {
    field(subject, "/domain")
        .strip_prefix("vstfs:///Classification/TeamProject/")
        .is_some_and(|id| excluded.contains(id))
}

async fn fetch_members(ctx: SyncCtx) -> Collected {
    let groups = ctx.groups().await;
    let mut out = Collected::under(&groups);
    let excluded = ctx.excluded_projects().await.map(|(ids, _)| ids);
    let descriptors: Vec<String> = groups
        .items
        .iter()
        .map(|g| field(g, "/descriptor").to_owned())
        .collect();
    let client = ctx.client.clone();
    let memberships = each(descriptors, move |descriptor| {
        direct_members(client.clone(), descriptor)
    })
    .await;
    let mut members: Vec<Vec<String>> = Vec::with_capacity(memberships.len());
    for result in memberships {
        match result {
            Ok(list) => members.push(list),
            Err(problem) => {
                out.problems.push(problem);
                members.push(Vec::new());
            }
        }
    }
    let unique: Vec<String> = members
        .iter()
        .flatten()
        .filter(|d| !d.is_empty())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let subjects = lookup_subjects(&ctx.client, unique, &mut out).await;
    for (group, members) in groups.items.iter().zip(members) {
        for descriptor in members {
            // Absent from a lookup that succeeded: deleted since the membership was read.
            let Some(subject) = subjects.get(&descriptor) else {
                continue;
            };
            // A nested group of an excluded project belongs to it, wherever it is a member.
            if excluded
                .as_ref()
                .is_some_and(|ids| in_excluded_project(subject, ids))
            {
                continue;
            }
            let mut item = subject.clone();
            if let Value::Object(map) = &mut item {
                map.insert("__group".into(), group.clone());
            }
            out.items.push(item);
        }
    }
    out
}

/// The descriptors of a group's direct members; a group removed since it was listed has none.
/// Read as a paged list: an answer saying more follows (a continuation token) is followed,
/// never taken for the whole membership.
async fn direct_members(client: Client, descriptor: String) -> Result<Vec<String>, Problem> {
    let call = Call::get(
        Service::Graph,
        format!("/_apis/graph/memberships/{descriptor}"),
        Scope::Graph,
    )
    .param("direction", "Down")
    .param("api-version", "7.1-preview.1");
    match paging::by_continuation(&client, call, "value", None).await {
        Ok(list) => Ok(list
            .iter()
            .map(|m| field(m, "/memberDescriptor").to_owned())
            .collect()),
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::GROUP_GONE) => {
            Ok(Vec::new())
        }
        Err(p) => Err(Problem::paging(
            &format!("members of group {descriptor}"),
            &p.error,
        )),
    }
}

/// Resolves graph descriptors to their subjects, [`LOOKUP_BATCH`] per request. A batch that
/// fails is a problem of `out` (its subjects are then missing from the map).
pub(super) async fn lookup_subjects(
    client: &Client,
    descriptors: Vec<String>,
    out: &mut Collected,
) -> HashMap<String, Value> {
    let batches: Vec<Vec<String>> = descriptors
        .chunks(LOOKUP_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let looked_up = each(batches, {
        let client = client.clone();
        move |batch| {
            let client = client.clone();
            async move {
                let keys: Vec<Value> = batch
                    .iter()
                    .map(|d| serde_json::json!({ "descriptor": d }))
                    .collect();
                let call = Call::post(
                    Service::Graph,
                    "/_apis/graph/subjectlookup",
                    Scope::Graph,
                    serde_json::json!({ "lookupKeys": keys }),
                )
                .param("api-version", "7.1-preview.1");
                client.send(&call).await.map(|page| page.body)
            }
        }
    })
    .await;
    let mut subjects: HashMap<String, Value> = HashMap::new();
    for result in looked_up {
        match result {
            Ok(Value::Object(mut body)) => match body.remove("value") {
                Some(Value::Object(found)) => subjects.extend(found),
                _ => out.problem("subject lookup: the response has no value object"),
            },
            Ok(_) => out.problem("subject lookup: the response is not an object"),
            Err(e) => out.failed("subject lookup", &e),
        }
    }
    subjects
}
