//! The emulator's HTTP side: one handler that routes by path and applies, in order, the
//! injected delays and 429s, Port's body limit, authentication, then the route itself.
//!
//! Handlers translate between Port's wire format and the store (`store`); they hold the
//! shared lock only while touching state, never across an `await`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::listing;
use super::store::{Refusal, WriteFlags};
use super::{Endpoint, Inner, Shared, Token};

/// The router: one handler that routes by path, so that counting, faults, the body limit
/// and authentication apply to every route in one place.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        // The body limit is Port's and is checked in `handle` to answer Port's 413 body.
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"ok": false, "error": code, "message": message.into()})),
    )
        .into_response()
}

fn refusal(r: Refusal) -> Response {
    error(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
        r.error,
        r.message,
    )
}

/// Percent-decodes a path segment or query component (`+` kept literal in paths).
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_flags(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn flag(flags: &HashMap<String, String>, name: &str) -> bool {
    flags.get(name).is_some_and(|v| v == "true")
}

/// Which route a request is for, with the blueprint when the route has one.
fn route(method: &Method, uri: &Uri) -> (Endpoint, Option<String>) {
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .map(|s| decode(s, false))
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let post = method == Method::POST;
    match (s.as_slice(), method.as_str()) {
        (["v1", "blueprints"], "GET") => (Endpoint::BlueprintList, None),
        (["v1", "blueprints"], "POST") => (Endpoint::BlueprintCreate, None),
        (["v1", "blueprints", bp], m) if *bp != "entities" => {
            let endpoint = match m {
                "GET" => Endpoint::BlueprintGet,
                "PUT" => Endpoint::BlueprintReplace,
                "PATCH" => Endpoint::BlueprintPatch,
                "DELETE" => Endpoint::BlueprintDelete,
                _ => return (Endpoint::Unknown, None),
            };
            (endpoint, Some(bp.to_string()))
        }
        _ if !post => (Endpoint::Unknown, None),
        (["v1", "auth", "access_token"], _) => (Endpoint::Token, None),
        (["v1", "blueprints", "entities", "datasource-entities"], _) => {
            (Endpoint::DatasourceEntities, None)
        }
        (["v1", "blueprints", bp, "entities", "bulk"], _) => {
            (Endpoint::BulkUpsert, Some(bp.to_string()))
        }
        (["v1", "blueprints", bp, "entities"], _) => (Endpoint::Upsert, Some(bp.to_string())),
        (["v1", "blueprints", bp, "entities", "search"], _) => {
            (Endpoint::Search, Some(bp.to_string()))
        }
        (["v1", "blueprints", bp, "bulk", "entities", "delete"], _) => {
            (Endpoint::BulkDelete, Some(bp.to_string()))
        }
        _ => (Endpoint::Unknown, None),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (endpoint, blueprint) = route(&method, &uri);
    *shared.lock().arrivals.entry(endpoint).or_default() += 1;
    let response = respond(&shared, endpoint, blueprint, &uri, &headers, &body).await;
    let mut inner = shared.lock();
    *inner
        .counts
        .entry((endpoint, response.status().as_u16()))
        .or_default() += 1;
    response
}

async fn respond(
    shared: &Shared,
    endpoint: Endpoint,
    blueprint: Option<String>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let delay = {
        let mut inner = shared.lock();
        match &mut inner.faults.slow {
            Some((n, delay)) if *n > 0 => {
                *n -= 1;
                Some(*delay)
            }
            _ => None,
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(limited) = rate_limited(shared) {
        return limited;
    }
    if endpoint == Endpoint::Unknown {
        return error(StatusCode::NOT_FOUND, "not_found", "no such route");
    }
    if body.len() > shared.options.max_body_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "request body is {} bytes, over the limit of {}",
                body.len(),
                shared.options.max_body_bytes
            ),
        );
    }
    let json: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        // GET and DELETE carry no body.
        Err(_) if body.is_empty() => Value::Null,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("body is not JSON: {e}"),
            );
        }
    };
    if endpoint == Endpoint::Token {
        return token(shared, &json);
    }
    let client = match authenticate(shared, headers) {
        Ok(client) => client,
        Err(denied) => return *denied,
    };
    if endpoint.is_blueprint_api()
        && let Some(status) = shared.lock().faults.blueprint_api_status
    {
        return error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "internal_error",
            "an injected blueprint API failure",
        );
    }
    let datasource = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let flags = query_flags(uri);
    let bp = blueprint.unwrap_or_default();
    match endpoint {
        Endpoint::BulkUpsert if shared.lock().faults.echo_credentials => {
            echo_credentials(shared, &json, headers)
        }
        Endpoint::BulkUpsert => bulk_upsert(shared, &bp, &json, &flags, &datasource),
        Endpoint::Upsert => single_upsert(shared, &bp, &json, &flags, &datasource),
        Endpoint::DatasourceEntities => listing::list(shared, &json),
        Endpoint::BulkDelete => bulk_delete(shared, &bp, &json, &flags),
        Endpoint::Search => listing::search(shared, &bp, &json),
        Endpoint::BlueprintList => {
            let docs = shared.lock().store.blueprint_docs();
            axum::Json(json!({"ok": true, "blueprints": docs})).into_response()
        }
        Endpoint::BlueprintGet => {
            blueprint_reply(shared.lock().store.blueprint_doc(&bp), StatusCode::OK)
        }
        Endpoint::BlueprintCreate => blueprint_reply(
            shared.lock().store.create_blueprint(&json, &client),
            StatusCode::OK,
        ),
        Endpoint::BlueprintReplace => blueprint_reply(
            shared.lock().store.replace_blueprint(&bp, &json, &client),
            StatusCode::OK,
        ),
        Endpoint::BlueprintPatch => blueprint_reply(
            shared.lock().store.patch_blueprint(&bp, &json, &client),
            StatusCode::OK,
        ),
        Endpoint::BlueprintDelete => match shared.lock().store.delete_blueprint(&bp) {
            Ok(()) => axum::Json(json!({"ok": true})).into_response(),
            Err(r) => refusal(r),
        },
        Endpoint::Token | Endpoint::Unknown => {
            error(StatusCode::NOT_FOUND, "not_found", "no such route")
        }
    }
}

fn rate_limited(shared: &Shared) -> Option<Response> {
    let mut inner = shared.lock();
    if let Some((n, retry_after, reset)) = inner.faults.rate_limit_saying.as_mut()
        && *n > 0
    {
        *n -= 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "too many requests",
        );
        let h = response.headers_mut();
        for (name, value) in [("retry-after", retry_after), ("x-ratelimit-reset", reset)] {
            if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(name, value);
            }
        }
        h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
        return Some(response);
    }
    let (n, retry_after, epoch) = inner.faults.rate_limit.as_mut()?;
    if *n == 0 {
        return None;
    }
    *n -= 1;
    let wait = retry_after.unwrap_or(1);
    let reset = if *epoch {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() + wait)
            .unwrap_or(wait)
    } else {
        wait
    };
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "too many requests",
    );
    let h = response.headers_mut();
    if let Some(secs) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    h.insert("x-ratelimit-limit", HeaderValue::from(35_000u32));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
    h.insert("x-ratelimit-period", HeaderValue::from(300u32));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    Some(response)
}

/// An access token shaped as Port's are: a JSON Web Token (header, payload, signature),
/// whose signature reads `emu-token-N-…` so tests can look for it.
fn jwt(client: &str, n: u64) -> String {
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.emu-token-{n}-{:016x}",
        b64(json!({"alg": "HS256", "typ": "JWT"})),
        b64(json!({"sub": client, "iss": "port-emulator", "n": n})),
        fastrand::u64(..)
    )
}

fn token(shared: &Shared, body: &Value) -> Response {
    let id = body.get("clientId").and_then(Value::as_str);
    let secret = body.get("clientSecret").and_then(Value::as_str);
    let (Some(id), Some(secret)) = (id, secret) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "clientId and clientSecret are required",
        );
    };
    let known = shared
        .options
        .clients
        .iter()
        .any(|(i, s)| i == id && s == secret);
    if !known {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid client credentials",
        );
    }
    let now = Instant::now();
    let mut inner = shared.lock();
    if inner.faults.refuse_tokens {
        let old = inner
            .tokens
            .iter()
            .filter(|(_, t)| t.client == id)
            .map(|(value, _)| value.clone())
            .max()
            .unwrap_or_default();
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("token {old} was revoked; credentials refused"),
        );
    }
    // One active token per client: asking again before expiry returns the same one.
    let live = inner
        .tokens
        .iter()
        .find(|(_, t)| t.client == id && t.expires > now)
        .map(|(v, t)| (v.clone(), t.expires - now));
    let (value, left) = match live {
        Some(found) => found,
        None => {
            inner.minted += 1;
            let value = jwt(id, inner.minted);
            let lifetime = shared.options.token_lifetime;
            inner.tokens.insert(
                value.clone(),
                Token {
                    client: id.to_owned(),
                    expires: now + lifetime,
                },
            );
            (value, lifetime)
        }
    };
    let expires_in = inner
        .faults
        .expires_in
        .clone()
        .unwrap_or_else(|| json!(left.as_secs_f64()));
    axum::Json(json!({
        "ok": true,
        "accessToken": value,
        "expiresIn": expires_in,
        "tokenType": "Bearer",
    }))
    .into_response()
}

/// `{ok, blueprint}` with `status`, or the refusal.
fn blueprint_reply(result: Result<Value, Refusal>, status: StatusCode) -> Response {
    match result {
        Ok(doc) => (status, axum::Json(json!({"ok": true, "blueprint": doc}))).into_response(),
        Err(r) => refusal(r),
    }
}

/// The client whose live token the request carries, else the 401 to answer.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(given) = given else {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing bearer token",
        )));
    };
    match shared.lock().tokens.get(given) {
        Some(t) if t.expires > Instant::now() => Ok(t.client.clone()),
        Some(_) => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "the access token has expired",
        ))),
        None => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown access token",
        ))),
    }
}

fn write_flags(flags: &HashMap<String, String>) -> WriteFlags {
    WriteFlags {
        upsert: flag(flags, "upsert"),
        merge: flag(flags, "merge"),
        create_missing_related_entities: flag(flags, "create_missing_related_entities"),
    }
}

fn bulk_upsert(
    shared: &Shared,
    blueprint: &str,
    body: &Value,
    flags: &HashMap<String, String>,
    datasource: &str,
) -> Response {
    let mut inner = shared.lock();
    inner.bulk_calls += 1;
    let call = inner.bulk_calls;
    if let Some(&(_, _, retry_after)) = inner
        .faults
        .bulk_errors
        .iter()
        .find(|&&(nth, times, _)| call >= nth && call < nth.saturating_add(times))
    {
        let mut response = error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an injected server error",
        );
        if let Some(secs) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert("retry-after", value);
        }
        return response;
    }
    let Some(entities) = body.get("entities").and_then(Value::as_array) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "body/entities must be an array",
        );
    };
    let max = shared.options.max_bulk_entities;
    if entities.is_empty() || entities.len() > max {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("body/entities must hold 1 to {max} items"),
        );
    }
    // The route's schema: each item an object with a non-empty string identifier or a
    // search query. One item failing it fails the whole call, as a schema-validated route does.
    if let Some(bad) = entities.iter().position(|e| match e.get("identifier") {
        Some(Value::String(id)) => id.is_empty(),
        Some(q) => !crate::search::is_query(q),
        None => true,
    }) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("body/entities/{bad}/identifier must be a non-empty string or a search query"),
        );
    }
    if !inner.store.blueprints.contains_key(blueprint) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("blueprint {blueprint:?} not found"),
        );
    }
    let flags = write_flags(flags);
    let refuse_every = inner.faults.refuse_every;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (index, entity) in entities.iter().enumerate() {
        record_search_identifier(&mut inner, entity);
        let written = if refuse_every > 0 && index % refuse_every == 0 {
            Err(super::store::Refusal {
                status: 422,
                error: "invalid_request",
                message: "an injected refusal of this entity".to_owned(),
            })
        } else {
            inner
                .store
                .resolve_search(blueprint, entity)
                .and_then(|entity| inner.store.write(blueprint, &entity, flags, datasource))
        };
        match written {
            Ok((identifier, created)) => ok.push(json!({
                "created": created, "identifier": identifier, "index": index, "additionalData": {},
            })),
            Err(r) => errors.push(json!({
                "identifier": entity.get("identifier").and_then(Value::as_str).unwrap_or("unknown"),
                "index": index, "statusCode": r.status, "error": r.error, "message": r.message,
            })),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    (
        status,
        axum::Json(json!({"ok": errors.is_empty(), "entities": ok, "errors": errors})),
    )
        .into_response()
}

/// A 207 refusing every entity with a message that quotes the request's `Authorization`
/// header and the client's secret, as a careless server's validation message might.
fn echo_credentials(shared: &Shared, body: &Value, headers: &HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let secret = shared
        .options
        .clients
        .first()
        .map(|(_, s)| s.as_str())
        .unwrap_or_default();
    let entities = body
        .get("entities")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let errors: Vec<Value> = entities
        .iter()
        .enumerate()
        .map(|(index, e)| {
            json!({
                "identifier": e.get("identifier").and_then(Value::as_str).unwrap_or("unknown"),
                "index": index, "statusCode": 422, "error": "invalid_request",
                "message": format!("rejected request with header Authorization: {auth} for client secret {secret}\nretry later"),
            })
        })
        .collect();
    (
        StatusCode::MULTI_STATUS,
        axum::Json(json!({"ok": false, "entities": [], "errors": errors})),
    )
        .into_response()
}

fn single_upsert(
    shared: &Shared,
    blueprint: &str,
    body: &Value,
    flags: &HashMap<String, String>,
    datasource: &str,
) -> Response {
    let mut inner = shared.lock();
    record_search_identifier(&mut inner, body);
    let written = inner
        .store
        .resolve_search(blueprint, body)
        .and_then(|body| {
            inner
                .store
                .write(blueprint, &body, write_flags(flags), datasource)
        });
    match written {
        Ok((identifier, created)) => {
            let entity = inner
                .store
                .entities
                .get(&(blueprint.to_owned(), identifier))
                .map(|s| Value::Object(s.entity.clone()));
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, axum::Json(json!({"ok": true, "entity": entity}))).into_response()
        }
        Err(r) => refusal(r),
    }
}

/// Keeps the identifier of an upsert body that is a search query, for tests to read.
fn record_search_identifier(inner: &mut Inner, entity: &Value) {
    if let Some(query) = entity
        .get("identifier")
        .filter(|q| crate::search::is_query(q))
    {
        inner.search_identifiers.push(query.clone());
    }
}

fn bulk_delete(
    shared: &Shared,
    blueprint: &str,
    body: &Value,
    flags: &HashMap<String, String>,
) -> Response {
    let ids: Option<Vec<String>> = body
        .get("entities")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect());
    let max = shared.options.max_bulk_delete;
    let Some(ids) = ids.filter(|ids| !ids.is_empty() && ids.len() <= max) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("body/entities must hold 1 to {max} identifiers"),
        );
    };
    match shared
        .lock()
        .store
        .delete(blueprint, &ids, flag(flags, "delete_dependents"))
    {
        Ok(deleted) => axum::Json(json!({"ok": true, "deletedEntities": deleted})).into_response(),
        Err(r) => refusal(r),
    }
}
