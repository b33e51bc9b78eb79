//! `wiki`: the pages of every wiki (project wikis and code wikis) of every project, as Port
//! yields them: per project `GET {org}/{project}/_apis/wiki/wikis` (each wiki gets
//! `__project`), per wiki `POST …/wikis/{wiki}/pagesbatch` with body `{"top": 100,
//! "continuationToken": …}` (the token comes back in the `x-ms-continuationtoken` header),
//! and each page `{id, path, viewStats?}` gets `__wiki` (the wiki) and `__project`.
//!
//! Narrowed to repositories (a push to a wiki's repository), only the wikis they back are
//! read.
//!
//! Options: `wikiType` keeps the wikis of one type; `includeContent` replaces each page by
//! `GET …/wikis/{wiki}/pages/{id}?includeContent=true` (the full page: content, gitItemPath,
//! remoteUrl, …; one request per page); `apiVersion` is sent as the `api-version` of all
//! three endpoints (default `7.1`, as Port).
//!
//! Port keeps a page's list entry when its full read answers 404 and drops the page when the
//! read fails otherwise, silently. Here a page deleted between the two reads (a 404 ADO types
//! as "page not found") is gone and left out; any other failure makes the kind incomplete.

use serde_json::{Map, Value, json};

use super::{
    Collected, KindDef, Problem, SyncCtx, absent, each, field, opt_bool, opt_str, selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `top` for a pages batch: the most ADO's `pagesbatch` returns per request.
pub(crate) const PAGE: usize = 100;

/// The api-version when the selector sets none (Port's default).
const DEFAULT_API_VERSION: &str = "7.1";

pub(super) const KIND: KindDef = KindDef {
    name: "wiki",
    schema: selector_schema!("wiki"),
    options: &["wikiType", "includeContent", "apiVersion"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

/// What the selector asks for.
#[derive(Clone, Debug)]
struct Options {
    wiki_type: Option<String>,
    include_content: bool,
    api_version: String,
}

impl Options {
    fn of(selector: &Map<String, Value>) -> Self {
        Options {
            wiki_type: opt_str(selector, "wikiType").map(str::to_owned),
            include_content: opt_bool(selector, "includeContent"),
            api_version: opt_str(selector, "apiVersion")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(DEFAULT_API_VERSION)
                .to_owned(),
        }
    }
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let options = Options::of(&selector);
    let client = ctx.client.clone();
    let narrow = ctx.narrow.clone();
    let parts = each(projects.items.clone(), move |project| {
        project_pages(client.clone(), project, options.clone(), narrow.clone())
    })
    .await;
    out.absorb(parts);
    out
}

async fn project_pages(
    client: Client,
    project: Value,
    options: Options,
    narrow: std::sync::Arc<super::Narrow>,
) -> Collected {
    let mut out = Collected::default();
    let id = field(&project, "/id").to_owned();
    let call = Call::get(
        Service::Core,
        format!("/{id}/_apis/wiki/wikis"),
        Scope::Code,
    )
    .param("api-version", options.api_version.clone());
    // Read as a paged list: an answer saying more follows is followed, never taken whole.
    let wikis = match paging::by_continuation(&client, call, "value", None).await {
        Ok(wikis) => wikis,
        // The project was deleted since it was listed.
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::PROJECT_GONE) => {
            return out;
        }
        Err(p) => {
            out.problems
                .push(Problem::paging(&format!("wikis of project {id}"), &p.error));
            return out;
        }
    };
    let wanted = wikis.into_iter().filter(|wiki| {
        options
            .wiki_type
            .as_deref()
            .is_none_or(|t| field(wiki, "/type") == t)
            && narrow.keeps_repository(field(wiki, "/repositoryId"))
    });
    for mut wiki in wanted {
        if let Value::Object(map) = &mut wiki {
            map.insert("__project".into(), project.clone());
        }
        let part = wiki_pages(&client, &project, wiki, &options).await;
        out.extend(part);
    }
    out
}

async fn wiki_pages(client: &Client, project: &Value, wiki: Value, options: &Options) -> Collected {
    let mut out = Collected::default();
    let project_id = field(project, "/id").to_owned();
    let wiki_id = field(&wiki, "/id").to_owned();
    let call = Call::post(
        Service::Core,
        format!("/{project_id}/_apis/wiki/wikis/{wiki_id}/pagesbatch"),
        Scope::Code,
        json!({}),
    )
    .param("api-version", options.api_version.clone());
    let pages = out.take_under(
        "wiki pages",
        paging::by_body_token(client, call, "value", PAGE).await,
        absent::WIKI_GONE,
    );
    if !options.include_content {
        out.items = pages
            .into_iter()
            .map(|page| enriched(page, &wiki, project))
            .collect();
        return out;
    }
    let full = each(pages, {
        let client = client.clone();
        let (wiki, project) = (wiki.clone(), project.clone());
        let base = format!("/{project_id}/_apis/wiki/wikis/{wiki_id}/pages");
        let version = options.api_version.clone();
        move |page| {
            full_page(
                client.clone(),
                base.clone(),
                version.clone(),
                page,
                wiki.clone(),
                project.clone(),
            )
        }
    })
    .await;
    out.absorb(full);
    out
}

/// The page (list entry or full page) with `__wiki` and `__project`.
fn enriched(mut page: Value, wiki: &Value, project: &Value) -> Value {
    if let Value::Object(map) = &mut page {
        map.insert("__wiki".into(), wiki.clone());
        map.insert("__project".into(), project.clone());
    }
    page
}

/// One page read in full, with its content, replacing its list entry.
async fn full_page(
    client: Client,
    base: String,
    version: String,
    page: Value,
    wiki: Value,
    project: Value,
) -> Collected {
    let mut out = Collected::default();
    let Some(id) = page.get("id").filter(|id| id.is_u64() || id.is_string()) else {
        out.problem(format!(
            "a page of wiki {} has no id to read it by",
            field(&wiki, "/name")
        ));
        return out;
    };
    let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
    let call = Call::get(Service::Core, format!("{base}/{id}"), Scope::Code)
        .param("includeContent", "true")
        .param("api-version", version);
    match client.send(&call).await {
        Ok(found) => out.items.push(enriched(found.body, &wiki, &project)),
        // Deleted since the page list was read: gone, not missing.
        Err(e) if e.is_not_found_as(absent::WIKI_PAGE_GONE) => {}
        Err(e) => out.failed("wiki page", &e),
    }
    out
}
