//! The fake server's service-hook subscriptions: `_apis/hooks/subscriptions` on every host
//! (GET with `publisherId`/`eventType` filters, POST; GET, PUT and DELETE by id).
//!
//! As on ADO, each host knows its own publishers (`tfs` and `pipelines` on the
//! organization's host, `rm` on `vsrm.`, `advsec` on `advsec.`): creating a subscription
//! on the wrong host is a 400, and a host lists only its publishers' subscriptions.
//! Passwords in consumer inputs are kept but answered masked (`********`), as ADO does.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{Query, json_response, typed_error};
use super::{FakeAdo, Shared, lock};

/// The subscriptions the fake holds.
#[derive(Debug, Default)]
pub(super) struct Store {
    subscriptions: Mutex<Vec<Value>>,
    next: AtomicU64,
}

/// The publishers a host serves.
fn publishers(service: &str) -> &'static [&'static str] {
    match service {
        "core" => &["tfs", "pipelines"],
        "vsrm" => &["rm"],
        "advsec" => &["advsec"],
        _ => &[],
    }
}

/// The endpoint name of a `_apis/hooks/subscriptions…` request.
pub(super) fn endpoint(method: &Method, path: &[&str]) -> &'static str {
    match (path, method.as_str()) {
        (["_apis", "hooks", "subscriptions"], "GET") => "hooks-list",
        (["_apis", "hooks", "subscriptions"], "POST") => "hooks-create",
        (["_apis", "hooks", "subscriptions", _], "GET") => "hooks-get",
        (["_apis", "hooks", "subscriptions", _], "PUT") => "hooks-replace",
        (["_apis", "hooks", "subscriptions", _], "DELETE") => "hooks-delete",
        _ => "unknown",
    }
}

fn masked(sub: &Value) -> Value {
    let mut sub = sub.clone();
    if let Some(password) = sub.pointer_mut("/consumerInputs/basicAuthPassword") {
        *password = json!("********");
    }
    sub
}

fn bad(message: &str) -> Response {
    typed_error(
        StatusCode::BAD_REQUEST,
        "InvalidSubscriptionException",
        message,
    )
}

fn missing() -> Response {
    typed_error(
        StatusCode::NOT_FOUND,
        "SubscriptionNotFoundException",
        "VS1050005: The subscription does not exist.",
    )
}

/// Checks a subscription body for `service` and fills in what ADO adds; `Err` says why
/// ADO would refuse it.
fn validate(service: &str, body: &Bytes, id: String) -> Result<Value, String> {
    let Ok(Value::Object(mut sub)) = serde_json::from_slice::<Value>(body) else {
        return Err("the subscription is not a JSON object".into());
    };
    let text = |sub: &serde_json::Map<String, Value>, key: &str| {
        sub.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let publisher = text(&sub, "publisherId");
    if !publishers(service).contains(&publisher.as_str()) {
        return Err(format!(
            "VS1050001: The publisher '{publisher}' is not registered on this host."
        ));
    }
    for key in ["eventType", "consumerId", "consumerActionId"] {
        if text(&sub, key).is_empty() {
            return Err(format!("the subscription has no {key}"));
        }
    }
    if sub
        .get("consumerInputs")
        .and_then(|c| c.get("url"))
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("the consumer inputs have no url".into());
    }
    sub.insert("id".into(), json!(id));
    if text(&sub, "status").is_empty() {
        sub.insert("status".into(), json!("enabled"));
    }
    sub.entry("publisherInputs").or_insert_with(|| json!({}));
    sub.insert(
        "url".into(),
        json!(format!(
            "https://dev.azure.com/_apis/hooks/subscriptions/{id}"
        )),
    );
    Ok(Value::Object(sub))
}

/// Answers a subscription request on `service`'s host.
pub(super) fn route(
    shared: &Shared,
    service: &str,
    method: &Method,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Response {
    let store = &shared.hooks;
    let mut subs = lock(&store.subscriptions);
    let mine = |sub: &Value| {
        publishers(service).contains(&sub["publisherId"].as_str().unwrap_or_default())
    };
    match endpoint(method, path) {
        "hooks-list" => {
            let value: Vec<Value> = subs
                .iter()
                .filter(|s| mine(s))
                .filter(|s| {
                    ["publisherId", "eventType", "consumerId"]
                        .iter()
                        .all(|key| {
                            query
                                .get(*key)
                                .is_none_or(|want| s[*key].as_str() == Some(want.as_str()))
                        })
                })
                .map(masked)
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"count": value.len(), "value": value}),
                &[],
            )
        }
        "hooks-create" => {
            let n = store.next.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("5ub5c41b-0000-4000-8000-{n:012x}");
            match validate(service, body, id) {
                Ok(mut sub) => {
                    sub["createdDate"] = json!("2026-06-01T00:00:00Z");
                    subs.push(sub.clone());
                    json_response(StatusCode::OK, &masked(&sub), &[])
                }
                Err(why) => bad(&why),
            }
        }
        "hooks-get" => match subs.iter().find(|s| s["id"] == path[3] && mine(s)) {
            Some(sub) => json_response(StatusCode::OK, &masked(sub), &[]),
            None => missing(),
        },
        "hooks-replace" => {
            let Some(at) = subs.iter().position(|s| s["id"] == path[3] && mine(s)) else {
                return missing();
            };
            match validate(service, body, path[3].to_owned()) {
                Ok(mut sub) => {
                    sub["createdDate"] = subs[at]["createdDate"].clone();
                    subs[at] = sub.clone();
                    json_response(StatusCode::OK, &masked(&sub), &[])
                }
                Err(why) => bad(&why),
            }
        }
        "hooks-delete" => match subs.iter().position(|s| s["id"] == path[3] && mine(s)) {
            Some(at) => {
                subs.remove(at);
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
            None => missing(),
        },
        _ => missing(),
    }
}

impl FakeAdo {
    /// Every service-hook subscription the fake holds, passwords unmasked.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<Value> {
        lock(&self.shared.hooks.subscriptions).clone()
    }

    /// Sets a subscription's status (`disabledBySystem`, …), as ADO does after failures.
    pub fn set_subscription_status(&self, id: &str, status: &str) {
        for sub in lock(&self.shared.hooks.subscriptions).iter_mut() {
            if sub["id"] == id {
                sub["status"] = json!(status);
            }
        }
    }

    /// Adds a subscription as it stands (another consumer's, say).
    pub fn insert_subscription(&self, subscription: Value) {
        lock(&self.shared.hooks.subscriptions).push(subscription);
    }
}
