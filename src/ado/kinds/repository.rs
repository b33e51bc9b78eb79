//! `repository`: every git repository of every project (disabled ones included, as Port
//! lists them), one unpaged `GET {org}/{project}/_apis/git/repositories` per project, and
//! `includedFiles` → `__includedFiles` (file text by path; `""` when the file is missing).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, each, field, opt_strs,
    selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;

pub(super) const KIND: KindDef = KindDef {
    name: "repository",
    schema: selector_schema!("repository"),
    options: &["includedFiles"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: Some(|ctx, selector| Box::pin(fetch(ctx, selector))),
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let files = opt_strs(&selector, "includedFiles");
    if files.is_empty() {
        out.items = repos.items.clone();
        return out;
    }
    let client = ctx.client.clone();
    let files = Arc::new(files);
    let enriched = each(repos.items.clone(), move |repo| {
        included_files(client.clone(), repo, files.clone())
    })
    .await;
    out.absorb(enriched);
    out
}

/// The shared repository list, in project order.
pub(super) async fn list_repositories(ctx: SyncCtx) -> Arc<ParentList> {
    let projects = ctx.projects().await;
    let mut list = ParentList {
        items: Vec::new(),
        problem: projects.problem.clone(),
    };
    let client = ctx.client.clone();
    let per_project = each(projects.items.clone(), move |project| {
        let client = client.clone();
        async move {
            let id = field(&project, "/id").to_owned();
            let call = Call::get(
                Service::Core,
                format!("/{id}/_apis/git/repositories"),
                Scope::Code,
            )
            .param("api-version", "7.1");
            match client.send(&call).await {
                Ok(page) => match page.body.get("value").and_then(Value::as_array) {
                    Some(repos) => Ok(repos.clone()),
                    None => Err(Problem::failed(format!(
                        "repositories of project {id}: the response has no value array"
                    ))),
                },
                // The project was deleted since it was listed.
                Err(e) if e.is_not_found_as(absent::PROJECT_GONE) => Ok(Vec::new()),
                Err(e) => Err(Problem::call("repositories", &e)),
            }
        }
    });
    for result in per_project.await {
        match result {
            Ok(repos) => list.items.extend(repos),
            // The first problem's words; an auth failure's cause wins whichever came first.
            Err(problem) => match &mut list.problem {
                Some(first) => first.cause = first.cause.clone().worst(problem.cause),
                None => list.problem = Some(problem),
            },
        }
    }
    Arc::new(list)
}

async fn included_files(client: Client, mut repo: Value, files: Arc<Vec<String>>) -> Collected {
    let mut out = Collected::default();
    let project = field(&repo, "/project/id").to_owned();
    let id = field(&repo, "/id").to_owned();
    let branch = field(&repo, "/defaultBranch")
        .strip_prefix("refs/heads/")
        .unwrap_or("main")
        .to_owned();
    let mut contents = Map::new();
    for requested in files.iter() {
        let path = format!("/{}", requested.trim_start_matches('/'));
        let call = Call::get(
            Service::Core,
            format!("/{project}/_apis/git/repositories/{id}/items"),
            Scope::Code,
        )
        .param("path", path)
        .param("versionDescriptor.versionType", "branch")
        .param("versionDescriptor.version", branch.clone())
        .param("includeContent", "true")
        .param("$format", "json")
        .param("api-version", "7.1");
        let text = match client.send(&call).await {
            Ok(page) => page
                .body
                .get("content")
                .cloned()
                .unwrap_or(Value::String(String::new())),
            // A missing file (or empty repository) reads as "", as in Port.
            Err(e) if e.is_not_found_as(absent::FILE_ABSENT) => Value::String(String::new()),
            Err(e) => {
                out.failed(&format!("included file {requested}"), &e);
                Value::Null
            }
        };
        contents.insert(requested.clone(), text);
    }
    repo["__includedFiles"] = Value::Object(contents);
    out.items.push(repo);
    out
}
