//! `repository`: every git repository of every project (disabled ones included, as Port
//! lists them), one unpaged `GET {org}/{project}/_apis/git/repositories` per project, and
//! `includedFiles` → `__includedFiles` (file text by path, read from the default branch;
//! `""` when the file is missing; see `included`).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, each, field, included, opt_strs,
    selector_schema,
};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

pub(super) const KIND: KindDef = KindDef {
    name: "repository",
    schema: selector_schema!("repository"),
    options: &["includedFiles"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    out.items = repos.items.clone();
    let files = opt_strs(&selector, "includedFiles");
    let problems = included::attach(&ctx.client, "repository", &mut out.items, &files, false).await;
    out.problems.extend(problems);
    out
}

/// The shared repository list, in project order (narrowed: the repositories named).
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
            // Read as a paged list: an answer saying more follows is followed.
            match paging::by_continuation(&client, call, "value", None).await {
                Ok(repos) => Ok(repos),
                // The project was deleted since it was listed.
                Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::PROJECT_GONE) => {
                    Ok(Vec::new())
                }
                Err(p) => Err(Problem::paging(
                    &format!("repositories of project {id}"),
                    &p.error,
                )),
            }
        }
    });
    for result in per_project.await {
        match result {
            Ok(repos) => list.items.extend(
                repos
                    .into_iter()
                    .filter(|r| ctx.narrow.keeps_repository(field(r, "/id"))),
            ),
            // The first problem's words; an auth failure's cause wins whichever came first.
            Err(problem) => match &mut list.problem {
                Some(first) => first.cause = first.cause.clone().worst(problem.cause),
                None => list.problem = Some(problem),
            },
        }
    }
    Arc::new(list)
}
