//! `project`: `GET {org}/_apis/projects` (continuation token), optional `defaultTeam`
//! (one GET per project: the list omits it), and the source-wide `excludedTags` filter
//! that every project-derived kind inherits through the shared project list. The excluded
//! projects' ids are kept for the kinds listed organization-wide (teams and their members,
//! graph groups), which Port's integration does not filter.

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, chain, each, field, opt_bool,
    selector_schema,
};
use crate::ado::client::{Call, Scope};
use crate::ado::locate::ProjectRef;
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for the project list. ADO documents no maximum and may return fewer; the
/// continuation token, not the page length, says when the list ends.
pub(crate) const PAGE: usize = 1000;

const TAG_PREFIX: &str = "Microsoft.TeamFoundation.Project.Tag.";

pub(super) const KIND: KindDef = KindDef {
    name: "project",
    schema: selector_schema!("project"),
    options: &["defaultTeam"],
    ignored_options: &[],
    scope: Scope::ProjectAndTeam,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    if !opt_bool(&selector, "defaultTeam") {
        out.items = projects.items.clone();
        return out;
    }
    let client = ctx.client.clone();
    let detailed = each(projects.items.clone(), move |project| {
        let client = client.clone();
        async move {
            let id = field(&project, "/id").to_owned();
            let call = Call::get(
                Service::Core,
                format!("/_apis/projects/{id}"),
                Scope::ProjectAndTeam,
            )
            .param("includeCapabilities", "true")
            .param("api-version", "7.1");
            client.send(&call).await.map(|page| page.body)
        }
    });
    for result in detailed.await {
        match result {
            Ok(project) => out.items.push(project),
            // Deleted since the list was read: it is gone, not missing.
            Err(e) if e.is_not_found_as(absent::PROJECT_GONE) => {}
            Err(e) => out.failed("project details", &e),
        }
    }
    out
}

/// The shared project list: every project, minus those tagged with an excluded tag.
pub(super) async fn list_projects(ctx: SyncCtx) -> std::sync::Arc<ParentList> {
    let call = Call::get(Service::Core, "/_apis/projects", Scope::ProjectAndTeam)
        .param("api-version", "7.1");
    let mut list = ParentList::default();
    match paging::by_continuation(&ctx.client, call, "value", Some(PAGE)).await {
        Ok(items) => list.items = items,
        Err(partial) => {
            list.items = partial.items;
            list.problem = Some(Problem::paging("projects", &partial.error));
        }
    }
    if !ctx.options.excluded_tags.is_empty() {
        let all: std::collections::BTreeSet<String> = list
            .items
            .iter()
            .map(|p| field(p, "/id").to_owned())
            .collect();
        list.items = without_excluded(&ctx, std::mem::take(&mut list.items)).await;
        let kept: std::collections::BTreeSet<&str> =
            list.items.iter().map(|p| field(p, "/id")).collect();
        ctx.set_excluded_projects(
            all.into_iter()
                .filter(|id| !kept.contains(id.as_str()))
                .collect(),
        );
    }
    std::sync::Arc::new(list)
}

/// The project an event names, as the project list has it: from the list read in this
/// sync, else (a project created since) read by id or name and judged by `excludedTags`.
/// `Ok(None)`: ADO says it does not exist, or its tags exclude it.
pub(super) async fn find(ctx: &SyncCtx, wanted: &ProjectRef) -> Result<Option<Value>, Problem> {
    let matches = |p: &Value| {
        wanted.id.as_deref().is_some_and(|id| field(p, "/id") == id)
            || wanted
                .name
                .as_deref()
                .is_some_and(|n| field(p, "/name") == n)
    };
    let projects = ctx.projects().await;
    if let Some(found) = projects.items.iter().find(|p| matches(p)) {
        return Ok(Some(found.clone()));
    }
    let Some(key) = wanted.id.as_deref().or(wanted.name.as_deref()) else {
        return Ok(None);
    };
    let call = Call::get(
        Service::Core,
        format!("/_apis/projects/{key}"),
        Scope::ProjectAndTeam,
    )
    .param("api-version", "7.1");
    match ctx.client.send(&call).await {
        Ok(page) => {
            let project = page.body;
            if ctx.options.excluded_tags.is_empty() {
                return Ok(Some(project));
            }
            Ok(without_excluded(ctx, vec![project]).await.pop())
        }
        Err(e) if e.is_not_found_as(absent::PROJECT_GONE) => Ok(None),
        Err(e) => Err(Problem::call("project", &e)),
    }
}

async fn without_excluded(ctx: &SyncCtx, projects: Vec<Value>) -> Vec<Value> {
    let client = ctx.client.clone();
    let excluded = ctx.options.excluded_tags.clone();
    let keep = each(projects, move |project| {
        let client = client.clone();
        let excluded = excluded.clone();
        async move {
            let id = field(&project, "/id").to_owned();
            let call = Call::get(
                Service::Core,
                format!("/_apis/projects/{id}/properties"),
                Scope::ProjectAndTeam,
            )
            .param("keys", format!("{TAG_PREFIX}*"))
            .param("api-version", "7.1-preview.1");
            // As Port does: a project whose tags cannot be read is kept.
            let tagged = match client.send(&call).await {
                Ok(page) => page
                    .body
                    .get("value")
                    .and_then(Value::as_array)
                    .is_some_and(|props| {
                        props.iter().any(|p| {
                            let name = field(p, "/name");
                            name.strip_prefix(TAG_PREFIX)
                                .is_some_and(|tag| excluded.iter().any(|x| x == tag))
                        })
                    }),
                Err(e) => {
                    tracing::warn!(project = %id, error = %chain(&e), "could not read project tags; keeping the project");
                    false
                }
            };
            (!tagged).then_some(project)
        }
    });
    keep.await.into_iter().flatten().collect()
}
