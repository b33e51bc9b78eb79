//! `work-item`: per project, WIQL for the ids (`POST …/wit/wiql`), then the items in
//! batches of 200 (`GET …/wit/workitems?ids=…&errorPolicy=omit`), each with `__projectId`
//! and `__project`.
//!
//! WIQL returns at most 20,000 ids per query, so ids are paged by range: ordered by id,
//! each next query asks for `[System.Id] > last` until a page comes back short. A user
//! `wiql` with its own `ORDER BY` cannot be range-paged: it runs once, and a result that
//! fills the cap is reported incomplete (Port only logs a warning). `errorPolicy=omit`
//! makes ADO return `null` for an id deleted between the query and the read, instead of
//! failing the whole batch (which Port then drops silently).

use serde_json::{Map, Value, json};

use super::{Collected, KindDef, SyncCtx, absent, each, field, opt_str, selector_schema};
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
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let wiql = opt_str(&selector, "wiql").map(str::to_owned);
    let expand = opt_str(&selector, "expand").unwrap_or("All").to_owned();
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        project_items(client.clone(), project, wiql.clone(), expand.clone())
    })
    .await;
    out.absorb(parts);
    out
}

/// The WIQL text for one id range, and whether it can be range-paged.
pub(crate) fn query(project_name: &str, user: Option<&str>, after: Option<u64>) -> (String, bool) {
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

async fn project_items(
    client: Client,
    project: Value,
    wiql: Option<String>,
    expand: String,
) -> Collected {
    let mut out = Collected::default();
    let id = field(&project, "/id").to_owned();
    let name = field(&project, "/name").to_owned();
    let mut ids: Vec<u64> = Vec::new();
    let mut after = None;
    loop {
        let (text, pageable) = query(&name, wiql.as_deref(), after);
        let call = Call::post(
            Service::Core,
            format!("/{id}/_apis/wit/wiql"),
            Scope::WorkItems,
            json!({ "query": text }),
        )
        .param("$top", WIQL_CAP.to_string())
        .param("api-version", "7.1");
        let page = match client.send(&call).await {
            Ok(page) => page,
            Err(e) if ids.is_empty() && e.is_not_found_as(absent::PROJECT_GONE) => return out,
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
    let batches: Vec<Vec<u64>> = ids.chunks(BATCH).map(<[u64]>::to_vec).collect();
    let project_for = project.clone();
    let parts = each(batches, move |batch| {
        let client = client.clone();
        let id = id.clone();
        let project = project_for.clone();
        let expand = expand.clone();
        async move {
            let mut out = Collected::default();
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
                    // With `errorPolicy=omit` ADO answers every id asked, `null` for one
                    // deleted: fewer answers means a cut response, not deleted items.
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
    })
    .await;
    out.absorb(parts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_page_by_id_range_and_quote_the_project() {
        let (q, pageable) = query("O'Brien", Some("[System.State] <> 'Done'"), Some(42));
        assert!(pageable);
        assert_eq!(
            q,
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'O''Brien' \
             AND ([System.State] <> 'Done') AND [System.Id] > 42 ORDER BY [System.Id] ASC"
        );
    }

    #[test]
    fn a_user_order_by_is_kept_and_disables_range_paging() {
        let (q, pageable) = query(
            "P",
            Some("[System.State] = 'New' order by [System.ChangedDate] desc"),
            None,
        );
        assert!(!pageable);
        assert!(
            q.ends_with("AND ([System.State] = 'New') order by [System.ChangedDate] desc"),
            "{q}"
        );
    }
}
