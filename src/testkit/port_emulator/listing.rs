//! The emulator's paged reads: the datasource listing (`POST
//! /v1/blueprints/entities/datasource-entities`) and the per-blueprint search, both paged by
//! an opaque `from` cursor, with the listing's faults (truncated pages, the datasource filter
//! ignored, a listing that never ends).
//!
//! Every listed entity shows its `$datasource` (the `User-Agent` that last wrote it), as
//! the client checks it.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::routes::error;

/// Cursor encoding: the last key served, hex-encoded so it reads as opaque.
fn encode_cursor(key: &(String, String)) -> String {
    format!("{}\u{1f}{}", key.0, key.1)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (bp, id) = text.split_once('\u{1f}')?;
    Some((bp.to_owned(), id.to_owned()))
}

/// The `from` cursor of a paged request, or the 422 to answer.
fn cursor_of(body: &Value) -> std::result::Result<Option<(String, String)>, Box<Response>> {
    let invalid = |m: &str| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            m,
        ))
    };
    match body.get("from") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => decode_cursor(c)
            .map(Some)
            .ok_or_else(|| invalid("unknown cursor")),
        Some(_) => Err(invalid("from must be a string")),
    }
}

/// `POST /v1/blueprints/{bp}/entities/search` for `$identifier` rules (`in`, `=`) and
/// `$datasource` rules (`beginsWith`, `endsWith`, `contains`) under an `and` combinator:
/// what the client uses to complete a bare listing and to find its own entities by key.
pub(super) fn search(shared: &Shared, blueprint: &str, body: &Value) -> Response {
    let unsupported = || {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "the emulator searches only by $identifier rules under \"and\"",
        )
    };
    let query = &body["query"];
    if query["combinator"] != "and" {
        return unsupported();
    }
    let Some(rules) = query["rules"].as_array() else {
        return unsupported();
    };
    let mut ids: Option<HashSet<String>> = None;
    let mut datasource: Vec<(String, String)> = Vec::new();
    for rule in rules {
        if rule["property"] == "$datasource" {
            match (rule["operator"].as_str(), rule["value"].as_str()) {
                (Some(op @ ("beginsWith" | "endsWith" | "contains")), Some(v)) => {
                    datasource.push((op.to_owned(), v.to_owned()));
                    continue;
                }
                _ => return unsupported(),
            }
        }
        if rule["property"] != "$identifier" {
            return unsupported();
        }
        let values: HashSet<String> = match (rule["operator"].as_str(), &rule["value"]) {
            (Some("in"), Value::Array(v)) => v
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            (Some("="), Value::String(v)) => std::iter::once(v.clone()).collect(),
            _ => return unsupported(),
        };
        ids = Some(match ids {
            Some(prev) => prev.intersection(&values).cloned().collect(),
            None => values,
        });
    }
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(200, |l| l as usize)
        .clamp(1, 1000);
    let after = match cursor_of(body) {
        Ok(after) => after,
        Err(refused) => return *refused,
    };
    let inner = shared.lock();
    if !inner.store.blueprints.contains_key(blueprint) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("blueprint {blueprint:?} not found"),
        );
    }
    let (entities, next) = inner.store.search(
        blueprint,
        &ids.unwrap_or_default(),
        &datasource,
        after.as_ref(),
        limit,
    );
    axum::Json(json!({"ok": true, "entities": entities, "next": next.as_ref().map(encode_cursor)}))
        .into_response()
}

pub(super) fn list(shared: &Shared, body: &Value) -> Response {
    let prefix = body.get("datasource_prefix").and_then(Value::as_str);
    let suffix = body.get("datasource_suffix").and_then(Value::as_str);
    let (Some(prefix), Some(suffix)) = (prefix, suffix) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "datasource_prefix and datasource_suffix are required",
        );
    };
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(200, |l| l as usize)
        .clamp(1, shared.options.max_list_limit.max(1));
    let endless = shared.lock().faults.endless_listing;
    let after = if endless {
        None
    } else {
        match cursor_of(body) {
            Ok(after) => after,
            Err(refused) => return *refused,
        }
    };
    let mut inner = shared.lock();
    let (prefix, suffix) = if inner.faults.foreign_in_listing {
        ("", "")
    } else {
        (prefix, suffix)
    };
    let (mut entities, mut next) = inner.store.list(prefix, suffix, after.as_ref(), limit);
    if shared.options.listing_keys_only {
        for e in &mut entities {
            *e = json!({"identifier": e["identifier"], "blueprint": e["blueprint"],
                        "$datasource": e["$datasource"]});
        }
    }
    inner.list_pages += 1;
    if endless {
        // A cursor never seen before, on every page.
        next = Some((format!("endless-{}", inner.list_pages), String::new()));
    }
    let truncate = inner
        .faults
        .truncate_after
        .is_some_and(|after| inner.list_pages > after);
    let reply = json!({
        "ok": true,
        "entities": entities,
        "next": next.as_ref().map(encode_cursor),
    });
    if truncate {
        let text = reply.to_string();
        let cut = text.len() / 2;
        let mut response = Response::new(Body::from(text.as_bytes()[..cut].to_vec()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    }
    axum::Json(reply).into_response()
}
