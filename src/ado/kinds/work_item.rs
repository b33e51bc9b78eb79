//! `work-item`: per project, WIQL for the ids (`POST …/wit/wiql`), then the items in
//! batches of 200 (`GET …/wit/workitems?ids=…&errorPolicy=omit`), each with `__projectId`
//! and `__project`.
//!
//! Narrowed to ids (live events), the query is skipped: the ids are read as they are, and
//! those ADO no longer has come back `null` (deleted). With a `wiql` selector, one query
//! per project keeps the ids it still matches (`[System.Id] IN (…)`). Narrowed to a time
//! (an incremental pass), the query asks `[System.ChangedDate] >= 'T'` with
//! `timePrecision=true`. A work item read by id that now belongs to another project is not
//! this project's.
//!
//! WIQL returns at most 20,000 ids per query, so ids are paged by range: ordered by id,
//! each next query asks for `[System.Id] > last` until a page comes back short. A user
//! `wiql` with its own `ORDER BY` cannot be range-paged: it runs once, and a result that
//! fills the cap is reported incomplete (Port only logs a warning). `errorPolicy=omit`
//! makes ADO return `null` for an id deleted between the query and the read, instead of
//! failing the whole batch (which Port then drops silently).
//!
//! Batches are read [`BATCHES_IN_FLIGHT`] at a time, in (project, batch) order, and handed
//! to the sync's page sink when it has one (`adoport fetch` writes them as they come), so
//! the kind is never held whole.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Collected, KindDef, Narrow, SyncCtx, absent, each, field, opt_str, selector_schema};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;

/// WIQL's result cap: a query may return at most 20,000 work items.
pub(crate) const WIQL_CAP: usize = 20_000;
/// The work-items batch read takes at most 200 ids.
pub(crate) const BATCH: usize = 200;

pub(super) const KIND: KindDef = KindDef {
    name: "work-item",
    schema: selector_schema!("work-item"),
    options: &["wiql", "expand"],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

/// Batch reads in flight at once (the client bounds requests further).
const BATCHES_IN_FLIGHT: usize = 8;

/// What one project's read asks for.
#[derive(Clone, Debug)]
struct Ask {
    wiql: Option<String>,
    expand: String,
    narrow: Arc<Narrow>,
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    use futures_util::StreamExt;
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let ask = Ask {
        wiql: opt_str(&selector, "wiql").map(str::to_owned),
        expand: opt_str(&selector, "expand").unwrap_or("All").to_owned(),
        narrow: ctx.narrow.clone(),
    };
    let expand = ask.expand.clone();
    let client = ctx.client.clone();
    let found = each(projects.items.clone(), move |project| {
        project_ids(client.clone(), project, ask.clone())
    })
    .await;
    let mut batches = Vec::new();
    for (project, ids, problems) in found {
        out.extend(problems);
        for batch in ids.chunks(BATCH) {
            batches.push((project.clone(), batch.to_vec()));
        }
    }
    let client = ctx.client.clone();
    let mut parts = futures_util::stream::iter(batches)
        .map(|(project, ids)| read_batch(client.clone(), project, ids, expand.clone()))
        .buffered(BATCHES_IN_FLIGHT);
    while let Some(part) = parts.next().await {
        out.hand_over(&ctx, "work items", part).await;
    }
    out
}

/// The WIQL text for one id range, and whether it can be range-paged. `extra` conditions
/// (a time, a list of ids) are added to the project's.
fn query_with(
    project_name: &str,
    user: Option<&str>,
    after: Option<u64>,
    extra: &[String],
) -> (String, bool) {
    let project = project_name.replace('\'', "''");
    let mut user_filter = user
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned);
    let mut order = None;
    if let Some(text) = &user_filter
        && let Some(at) = text.to_ascii_uppercase().find("ORDER BY")
    {
        order = Some(text[at..].to_owned());
        user_filter = Some(text[..at].trim().to_owned()).filter(|w| !w.is_empty());
    }
    let mut q =
        format!("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = '{project}'");
    if let Some(filter) = user_filter {
        q.push_str(&format!(" AND ({filter})"));
    }
    for condition in extra {
        q.push_str(&format!(" AND {condition}"));
    }
    let pageable = order.is_none();
    if pageable {
        if let Some(after) = after {
            q.push_str(&format!(" AND [System.Id] > {after}"));
        }
        q.push_str(" ORDER BY [System.Id] ASC");
    } else if let Some(order) = order {
        q.push(' ');
        q.push_str(&order);
    }
    (q, pageable)
}

/// One project's work-item ids (the query's, or those a narrowed read names), with the
/// problems met; none when the project is gone.
async fn project_ids(client: Client, project: Value, ask: Ask) -> (Value, Vec<u64>, Collected) {
    let mut out = Collected::default();
    let id = field(&project, "/id").to_owned();
    let name = field(&project, "/name").to_owned();
    let mut extra = Vec::new();
    if let Some(since) = ask.narrow.since {
        // WIQL takes a UTC time; `timePrecision=true` compares it to the second.
        extra.push(format!(
            "[System.ChangedDate] >= '{}'",
            since.strftime("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    let ids = match &ask.narrow.work_items {
        Some(wanted) if ask.wiql.is_none() => Some(wanted.iter().copied().collect()),
        Some(wanted) => {
            extra.push(format!("[System.Id] IN ({})", Narrow::joined(wanted)));
            query_ids(&client, &id, &name, &ask, &extra, &mut out).await
        }
        None => query_ids(&client, &id, &name, &ask, &extra, &mut out).await,
    };
    (project, ids.unwrap_or_default(), out)
}

/// The ids one project's query finds, range-paged; `None` when the project is gone.
async fn query_ids(
    client: &Client,
    id: &str,
    name: &str,
    ask: &Ask,
    extra: &[String],
    out: &mut Collected,
) -> Option<Vec<u64>> {
    let mut ids: Vec<u64> = Vec::new();
    let mut after = None;
    loop {
        let (text, pageable) = query_with(name, ask.wiql.as_deref(), after, extra);
        let mut call = Call::post(
            Service::Core,
            format!("/{id}/_apis/wit/wiql"),
            Scope::WorkItems,
            json!({ "query": text }),
        )
        .param("$top", WIQL_CAP.to_string())
        .param("api-version", "7.1");
        if ask.narrow.since.is_some() {
            call = call.param("timePrecision", "true");
        }
        let page = match client.send(&call).await {
            Ok(page) => page,
            Err(e) if ids.is_empty() && e.is_not_found_as(absent::PROJECT_GONE) => return None,
            Err(e) => {
                out.failed("work-item query", &e);
                break;
            }
        };
        let Some(found) = page.body.get("workItems").and_then(Value::as_array) else {
            out.problem(format!(
                "work-item query of project {id}: the response has no workItems array"
            ));
            break;
        };
        let page_ids: Vec<u64> = found
            .iter()
            .filter_map(|w| w.get("id").and_then(Value::as_u64))
            .collect();
        let full = page_ids.len() >= WIQL_CAP;
        after = page_ids.iter().copied().max();
        ids.extend(page_ids);
        if !full {
            break;
        }
        if !pageable {
            out.problem(format!(
                "work-item query of project {id} has its own ORDER BY and filled the {WIQL_CAP}-item cap: results may be cut"
            ));
            break;
        }
    }
    Some(ids)
}

/// One batch of a project's work items, keeping those still in the project
/// (`errorPolicy=omit`: a deleted id comes back `null`), each with `__projectId` and
/// `__project`.
async fn read_batch(client: Client, project: Value, batch: Vec<u64>, expand: String) -> Collected {
    let mut out = Collected::default();
    let id = field(&project, "/id").to_owned();
    let name = field(&project, "/name").to_owned();
    let list: Vec<String> = batch.iter().map(u64::to_string).collect();
    let call = Call::get(
        Service::Core,
        format!("/{id}/_apis/wit/workitems"),
        Scope::WorkItems,
    )
    .param("ids", list.join(","))
    .param("$expand", expand)
    .param("errorPolicy", "omit")
    .param("api-version", "7.1");
    match client.send(&call).await {
        Ok(mut page) => match page.body.get_mut("value").map(Value::take) {
            // With `errorPolicy=omit` ADO answers every id asked, `null` for one deleted:
            // fewer answers means a cut response, not deleted items.
            Some(Value::Array(items)) if items.len() != batch.len() => {
                out.problem(format!(
                    "work items: a batch of {} ids answered {} items",
                    batch.len(),
                    items.len()
                ));
            }
            Some(Value::Array(items)) => {
                // `null` marks an id deleted since the query: gone, not missing.
                out.items = items
                    .into_iter()
                    .filter(|w| !w.is_null())
                    .filter(|w| field(w, "/fields/System.TeamProject") == name)
                    .map(|mut w| {
                        w["__projectId"] = Value::String(id.clone());
                        w["__project"] = project.clone();
                        w
                    })
                    .collect();
            }
            _ => out.problem("work items: a batch response has no value array"),
        },
        Err(e) => out.failed("work items", &e),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_page_by_id_range_and_quote_the_project() {
        let (q, pageable) = query_with("O'Brien", Some("[System.State] <> 'Done'"), Some(42), &[]);
        assert!(pageable);
        assert_eq!(
            q,
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'O''Brien' \
             AND ([System.State] <> 'Done') AND [System.Id] > 42 ORDER BY [System.Id] ASC"
        );
    }

    #[test]
    fn a_user_order_by_is_kept_and_disables_range_paging() {
        let (q, pageable) = query_with(
            "P",
            Some("[System.State] = 'New' order by [System.ChangedDate] desc"),
            None,
            &[],
        );
        assert!(!pageable);
        assert!(
            q.ends_with("AND ([System.State] = 'New') order by [System.ChangedDate] desc"),
            "{q}"
        );
    }
}
