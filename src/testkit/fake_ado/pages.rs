//! The fake server's answers that page or batch: both pagination styles with their caps
//! (continuation tokens in the `x-ms-continuationtoken` header or the body, `$top`/`$skip`),
//! WIQL's 20,000-item cap and the 200-id work-item batch read.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{Query, error, json_response};
use super::{FakeConfig, WIQL_CAP, WORK_ITEM_BATCH_CAP};
use crate::testkit::synthetic_org::SyntheticOrg;

thread_local! {
    /// `FakeConfig::max_page` of the request being routed (routing is synchronous).
    pub(super) static MAX_PAGE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Where a continuation token travels.
#[derive(Clone, Copy)]
pub(super) enum TokenIn {
    /// The `x-ms-continuationtoken` header (most endpoints).
    Header,
    /// The body's `continuationToken` (user entitlements).
    Body,
}

pub(super) fn continuation_page<T: std::borrow::Borrow<Value>>(
    items: &[T],
    query: &Query,
    default_top: usize,
    cap: usize,
    token_in: TokenIn,
    key: &str,
) -> Response {
    let cap = cap.min(MAX_PAGE.with(std::cell::Cell::get));
    let start = match query.get("continuationToken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= items.len() => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the continuation token is not valid",
            );
        }
    };
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => default_top,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "$top must be a positive integer"),
    };
    let end = start.saturating_add(top.min(cap)).min(items.len());
    let page: Vec<&Value> = items[start..end]
        .iter()
        .map(std::borrow::Borrow::borrow)
        .collect();
    let token = (end < items.len()).then(|| end.to_string());
    let mut body = json!({"count": page.len(), key: page});
    let mut headers = Vec::new();
    match (token, token_in) {
        (Some(t), TokenIn::Header) => headers.push(("x-ms-continuationtoken", t)),
        (Some(t), TokenIn::Body) => body["continuationToken"] = Value::String(t),
        (None, TokenIn::Body) => body["continuationToken"] = Value::Null,
        (None, TokenIn::Header) => {}
    }
    json_response(StatusCode::OK, &body, &headers)
}

pub(super) fn skip_page<T: std::borrow::Borrow<Value>>(
    items: &[T],
    query: &Query,
    default_top: usize,
    cap: usize,
    names: (&str, &str),
    key: &str,
) -> Response {
    let cap = cap.min(MAX_PAGE.with(std::cell::Cell::get));
    let parse = |name: &str, default: usize| match query.get(name).map(|v| v.parse::<usize>()) {
        None => Ok(default),
        Some(Ok(n)) => Ok(n),
        Some(Err(_)) => Err(()),
    };
    let (Ok(top), Ok(skip)) = (parse(names.0, default_top), parse(names.1, 0)) else {
        return error(StatusCode::BAD_REQUEST, "$top and $skip must be integers");
    };
    let start = skip.min(items.len());
    let end = start.saturating_add(top.min(cap)).min(items.len());
    let page: Vec<&Value> = items[start..end]
        .iter()
        .map(std::borrow::Borrow::borrow)
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"count": page.len(), key: page}),
        &[],
    )
}

/// A time query parameter (`minTime=2026-…Z`): `Ok(None)` when absent, a 400 when not a
/// time, as ADO answers.
pub(super) fn time_param(
    query: &Query,
    name: &str,
) -> Result<Option<jiff::Timestamp>, Box<Response>> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text.parse::<jiff::Timestamp>().map(Some).map_err(|_| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("the value '{text}' is not valid for {name}"),
            ))
        }),
    }
}

/// A comma-separated id list parameter (`buildIds=1,2`): `Ok(None)` when absent.
pub(super) fn ids_param(query: &Query, name: &str) -> Result<Option<Vec<u64>>, Box<Response>> {
    let Some(text) = query.get(name) else {
        return Ok(None);
    };
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<u64>, _>>()
        .map(Some)
        .map_err(|_| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("{name} must be a list of integers"),
            ))
        })
}

/// A time field of an item.
pub(super) fn time_of(item: &Value, pointer: &str) -> Option<jiff::Timestamp> {
    item.pointer(pointer)?.as_str()?.parse().ok()
}

/// Whether an item's id is one of `ids` (no filter: every item is).
pub(super) fn id_in(item: &Value, pointer: &str, ids: Option<&[u64]>) -> bool {
    ids.is_none_or(|ids| {
        let id = match item.pointer(pointer) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        id.is_some_and(|id| ids.contains(&id))
    })
}

/// WIQL's `[System.Id] IN (1, 2)` condition, if the query has one.
fn wiql_ids(text: &str) -> Option<Vec<u64>> {
    let at = text.find("[System.Id] IN (")?;
    let rest = &text[at + 16..];
    let list = &rest[..rest.find(')')?];
    Some(
        list.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
    )
}

/// WIQL's `[System.ChangedDate] >= '…'` condition, if the query has one.
fn wiql_changed_since(text: &str) -> Option<jiff::Timestamp> {
    let at = text.find("[System.ChangedDate] >= '")?;
    let rest = &text[at + 25..];
    rest[..rest.find('\'')?].parse().ok()
}

pub(super) fn wiql(org: &SyntheticOrg, project: &Value, query: &Query, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the WIQL request body is not JSON");
    };
    let text = request["query"].as_str().unwrap_or_default();
    let after = text
        .find("[System.Id] > ")
        .and_then(|at| text[at + 14..].split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let name = project["name"].as_str().unwrap_or_default();
    let only = wiql_ids(text);
    let changed_since = wiql_changed_since(text);
    let ids: Vec<u64> = org
        .work_items
        .iter()
        .filter(|w| w["fields"]["System.TeamProject"] == name)
        .filter(|w| id_in(w, "/id", only.as_deref()))
        .filter(|w| {
            changed_since.is_none_or(|since| {
                time_of(w, "/fields/System.ChangedDate").is_some_and(|t| t >= since)
            })
        })
        .filter_map(|w| w["id"].as_u64())
        .filter(|id| *id > after)
        .collect();
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if (1..=WIQL_CAP).contains(&n) => Some(n),
        Some(_) => return error(StatusCode::BAD_REQUEST, "$top must be between 1 and 20000"),
    };
    if top.is_none() && ids.len() > WIQL_CAP {
        return error(
            StatusCode::BAD_REQUEST,
            "VS402337: The number of work items returned exceeds the size limit of 20000. Change the query to return fewer items.",
        );
    }
    let base = "https://dev.azure.com";
    let items: Vec<Value> = ids
        .iter()
        .take(top.unwrap_or(WIQL_CAP))
        .map(|id| json!({"id": id, "url": format!("{base}/_apis/wit/workItems/{id}")}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"queryType": "flat", "queryResultType": "workItem", "asOf": "2026-06-01T00:00:00Z",
                "columns": [{"referenceName": "System.Id", "name": "ID", "url": format!("{base}/_apis/wit/fields/System.Id")}],
                "workItems": items}),
        &[],
    )
}

pub(super) fn work_items(org: &SyntheticOrg, config: &FakeConfig, query: &Query) -> Response {
    let ids: Result<Vec<u64>, _> = query
        .get("ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse::<u64>)
        .collect();
    let Ok(ids) = ids else {
        return error(StatusCode::BAD_REQUEST, "ids must be integers");
    };
    if ids.len() > WORK_ITEM_BATCH_CAP {
        return error(
            StatusCode::BAD_REQUEST,
            "VS403474: The maximum number of work items to retrieve is 200.",
        );
    }
    let omit = query
        .get("errorPolicy")
        .is_some_and(|p| p.eq_ignore_ascii_case("omit"));
    let expand = query
        .get("$expand")
        .map_or("none", String::as_str)
        .to_ascii_lowercase();
    let mut value = Vec::with_capacity(ids.len());
    for id in ids {
        let found = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| org.work_items.get(i))
            .filter(|_| !config.vanished_work_items.contains(&id));
        match found {
            Some(item) => {
                let mut item = item.clone();
                if let Value::Object(map) = &mut item {
                    if !matches!(expand.as_str(), "all" | "relations") {
                        map.remove("relations");
                    }
                    if !matches!(expand.as_str(), "all" | "links") {
                        map.remove("_links");
                    }
                }
                value.push(item);
            }
            None if omit => value.push(Value::Null),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "TF401232: Work item {id} does not exist, or you do not have permissions to read it."
                    ),
                );
            }
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"count": value.len(), "value": value}),
        &[],
    )
}
