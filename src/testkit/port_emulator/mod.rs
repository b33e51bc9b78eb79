//! A Port API emulator: a real HTTP server on `127.0.0.1:0` that speaks the routes adoport
//! uses and enforces what Port enforces, with faults on demand.
//!
//! Routes: `POST /v1/auth/access_token`, bulk and single upsert, the datasource-entities
//! listing (optionally naming entities only, `listing_keys_only`), the per-blueprint search
//! (by `$identifier` only), bulk delete. Enforced: client credentials; access tokens that expire (lifetime
//! configurable); 401 on a missing, unknown or expired token; 1 MiB bodies (413 beyond);
//! 20 entities per bulk upsert and 100 identifiers per bulk delete (422 beyond, as a route
//! schema violation); blueprint checks per entity (`store`); `$datasource` taken from the
//! `User-Agent`; error bodies `{ok:false, error, message}`. Faults (`Fault`): N 429s with
//! `Retry-After` and `x-ratelimit-*`, 500s on the k-th bulk upsert, slow responses, truncated
//! listing pages. Every request is counted per endpoint and status.
//!
//! The store is in memory (`store`); a test reads it back through the handle.

mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use store::{Refusal, Store, WriteFlags};

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blueprint file could not be read.
    #[error("could not read the blueprint file {path}")]
    ReadBlueprint {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A blueprint document is not Port's blueprint JSON.
    #[error("invalid blueprint: {0}")]
    InvalidBlueprint(String),
    /// The listener could not be bound.
    #[error("could not bind 127.0.0.1:0")]
    Bind(#[source] std::io::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the emulator enforces; `default()` gives Port's limits and one client.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Accepted `(clientId, clientSecret)` pairs.
    pub clients: Vec<(String, String)>,
    /// Lifetime of an access token (Port: 3 hours).
    pub token_lifetime: Duration,
    /// Blueprint documents (Port's blueprint JSON).
    pub blueprints: Vec<Value>,
    /// Largest request body accepted (Port: 1 MiB).
    pub max_body_bytes: usize,
    /// Most entities per bulk upsert (Port: 20).
    pub max_bulk_entities: usize,
    /// Most identifiers per bulk delete (Port: 100).
    pub max_bulk_delete: usize,
    /// Largest listing page served, whatever `limit` asks.
    pub max_list_limit: usize,
    /// The datasource listing names entities only (`identifier`, `blueprint`), as Port's
    /// undocumented route may; the client then completes them through the search route.
    pub listing_keys_only: bool,
}

/// The client id the default options accept.
pub const CLIENT_ID: &str = "emulator-client-id";
/// The client secret the default options accept.
pub const CLIENT_SECRET: &str = "emulator-client-secret-0123456789";

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            clients: vec![(CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())],
            token_lifetime: Duration::from_secs(3 * 3600),
            blueprints: Vec::new(),
            max_body_bytes: 1 << 20,
            max_bulk_entities: 20,
            max_bulk_delete: 100,
            max_list_limit: 5000,
            listing_keys_only: false,
        }
    }
}

impl EmulatorOptions {
    /// Adds the blueprints of a JSON file holding one blueprint or an array of them.
    pub fn with_blueprint_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadBlueprint {
            path: path.display().to_string(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidBlueprint(format!("{}: {e}", path.display())))?;
        match doc {
            Value::Array(items) => self.blueprints.extend(items),
            one => self.blueprints.push(one),
        }
        Ok(self)
    }

    /// Adds one blueprint document.
    pub fn with_blueprint(mut self, doc: Value) -> Self {
        self.blueprints.push(doc);
        self
    }
}

/// The routes the emulator serves, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/auth/access_token`
    Token,
    /// `POST /v1/blueprints/{bp}/entities/bulk`
    BulkUpsert,
    /// `POST /v1/blueprints/{bp}/entities`
    Upsert,
    /// `POST /v1/blueprints/entities/datasource-entities`
    DatasourceEntities,
    /// `POST /v1/blueprints/{bp}/bulk/entities/delete`
    BulkDelete,
    /// `POST /v1/blueprints/{bp}/entities/search` (`$identifier` rules only)
    Search,
    /// Anything else (answered 404).
    Unknown,
}

/// Faults to inject; each applies to the requests that arrive after it is set.
#[derive(Clone, Debug)]
pub enum Fault {
    /// The next `requests` requests (any route) get 429 with `Retry-After: retry_after_secs`
    /// and `x-ratelimit-*` headers; `reset_as_epoch` sends `x-ratelimit-reset` as a UNIX
    /// epoch instead of seconds.
    RateLimit {
        /// How many requests to refuse.
        requests: u32,
        /// The `Retry-After` value in seconds (`None`: no `Retry-After`, only `x-ratelimit-reset`).
        retry_after_secs: Option<u64>,
        /// Send `x-ratelimit-reset` as an epoch.
        reset_as_epoch: bool,
    },
    /// Bulk upsert calls number `nth` to `nth + times - 1` (1-based, counted from the start)
    /// get a 500 and write nothing.
    ServerErrorOnBulkCall {
        /// The first failing call.
        nth: u64,
        /// How many consecutive calls fail.
        times: u64,
    },
    /// The next `requests` requests wait `delay` before being handled.
    Slow {
        /// How many requests.
        requests: u32,
        /// The wait.
        delay: Duration,
    },
    /// Every listing page after the first `after_pages` is cut off mid-body (a 200 whose
    /// JSON ends early), until cleared.
    TruncateListing {
        /// Pages served whole first.
        after_pages: u64,
    },
}

#[derive(Default)]
struct Faults {
    rate_limit: Option<(u32, Option<u64>, bool)>,
    bulk_errors: Vec<(u64, u64)>,
    slow: Option<(u32, Duration)>,
    truncate_after: Option<u64>,
}

struct Token {
    client: String,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    store: Store,
    tokens: HashMap<String, Token>,
    faults: Faults,
    arrivals: HashMap<Endpoint, u64>,
    counts: HashMap<(Endpoint, u16), u64>,
    bulk_calls: u64,
    list_pages: u64,
    minted: u64,
}

struct Shared {
    options: EmulatorOptions,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a handler cannot leave the store half-written in a way tests rely on.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running emulator; dropping it shuts the server down.
pub struct PortEmulator {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for PortEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl PortEmulator {
    /// Loads the blueprints and starts serving on `127.0.0.1:0` (needs a tokio runtime).
    pub async fn start(options: EmulatorOptions) -> Result<Self> {
        let mut inner = Inner::default();
        for doc in &options.blueprints {
            inner
                .store
                .add_blueprint(doc)
                .map_err(Error::InvalidBlueprint)?;
        }
        let shared = Arc::new(Shared {
            options,
            inner: Mutex::new(inner),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(PortEmulator {
            base_url: format!("http://{addr}"),
            shared,
            shutdown: Some(tx),
        })
    }

    /// The URL to give a client (`http://127.0.0.1:PORT`, routes under `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Requests received on `endpoint`, answered or not (a client may give up on a slow one).
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.shared
            .lock()
            .arrivals
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Requests on `endpoint` answered with `status`.
    pub fn responses(&self, endpoint: Endpoint, status: u16) -> u64 {
        self.shared
            .lock()
            .counts
            .get(&(endpoint, status))
            .copied()
            .unwrap_or(0)
    }

    /// Injects a fault for the requests that follow.
    pub fn inject(&self, fault: Fault) {
        let mut inner = self.shared.lock();
        match fault {
            Fault::RateLimit {
                requests,
                retry_after_secs,
                reset_as_epoch,
            } => inner.faults.rate_limit = Some((requests, retry_after_secs, reset_as_epoch)),
            Fault::ServerErrorOnBulkCall { nth, times } => {
                inner.faults.bulk_errors.push((nth, times))
            }
            Fault::Slow { requests, delay } => inner.faults.slow = Some((requests, delay)),
            Fault::TruncateListing { after_pages } => {
                inner.faults.truncate_after = Some(inner.list_pages + after_pages)
            }
        }
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults = Faults::default();
    }

    /// Expires every access token issued so far (as if their lifetime had run out).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.shared.lock().tokens.values_mut() {
            token.expires = now;
        }
    }

    /// The stored entity, in Port's JSON shape, if it exists.
    pub fn entity(&self, blueprint: &str, identifier: &str) -> Option<Value> {
        self.shared
            .lock()
            .store
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .map(|s| Value::Object(s.entity.clone()))
    }

    /// The `$datasource` (writer's `User-Agent`) of a stored entity.
    pub fn datasource_of(&self, blueprint: &str, identifier: &str) -> Option<String> {
        self.shared
            .lock()
            .store
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .map(|s| s.datasource.clone())
    }

    /// How many entities the store holds.
    pub fn entity_count(&self) -> usize {
        self.shared.lock().store.entities.len()
    }

    /// Writes an entity directly, as if a writer with `datasource` as its `User-Agent` had
    /// upserted it (to seed entities another integration owns).
    pub fn seed(&self, blueprint: &str, entity: Value, datasource: &str) -> Result<(), String> {
        let flags = WriteFlags {
            upsert: true,
            merge: false,
            create_missing_related_entities: true,
        };
        self.shared
            .lock()
            .store
            .write(blueprint, &entity, flags, datasource)
            .map(|_| ())
            .map_err(|r| r.message)
    }
}

/// The router: one handler that routes by path, so that counting, faults, the body limit
/// and authentication apply to every route in one place.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        // The body limit is Port's and is checked in `handle` to answer Port's 413 body.
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
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
    if method != Method::POST {
        return (Endpoint::Unknown, None);
    }
    match s.as_slice() {
        ["v1", "auth", "access_token"] => (Endpoint::Token, None),
        ["v1", "blueprints", "entities", "datasource-entities"] => {
            (Endpoint::DatasourceEntities, None)
        }
        ["v1", "blueprints", bp, "entities", "bulk"] => {
            (Endpoint::BulkUpsert, Some(bp.to_string()))
        }
        ["v1", "blueprints", bp, "entities"] => (Endpoint::Upsert, Some(bp.to_string())),
        ["v1", "blueprints", bp, "entities", "search"] => (Endpoint::Search, Some(bp.to_string())),
        ["v1", "blueprints", bp, "bulk", "entities", "delete"] => {
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
    if let Some(denied) = authenticate(shared, headers) {
        return denied;
    }
    let datasource = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let flags = query_flags(uri);
    let bp = blueprint.unwrap_or_default();
    match endpoint {
        Endpoint::BulkUpsert => bulk_upsert(shared, &bp, &json, &flags, &datasource),
        Endpoint::Upsert => single_upsert(shared, &bp, &json, &flags, &datasource),
        Endpoint::DatasourceEntities => list(shared, &json),
        Endpoint::BulkDelete => bulk_delete(shared, &bp, &json, &flags),
        Endpoint::Search => search(shared, &bp, &json),
        Endpoint::Token | Endpoint::Unknown => {
            error(StatusCode::NOT_FOUND, "not_found", "no such route")
        }
    }
}

fn rate_limited(shared: &Shared) -> Option<Response> {
    let mut inner = shared.lock();
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
            let value = format!("emu-token-{}-{:016x}", inner.minted, fastrand::u64(..));
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
    axum::Json(json!({
        "ok": true,
        "accessToken": value,
        "expiresIn": left.as_secs_f64(),
        "tokenType": "Bearer",
    }))
    .into_response()
}

/// `None` when the request carries a live token, else the 401 to answer.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(given) = given else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing bearer token",
        ));
    };
    match shared.lock().tokens.get(given) {
        Some(t) if t.expires > Instant::now() => None,
        Some(_) => Some(error(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "the access token has expired",
        )),
        None => Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown access token",
        )),
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
    if inner
        .faults
        .bulk_errors
        .iter()
        .any(|&(nth, times)| call >= nth && call < nth.saturating_add(times))
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an injected server error",
        );
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
    if !inner.store.blueprints.contains_key(blueprint) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("blueprint {blueprint:?} not found"),
        );
    }
    let flags = write_flags(flags);
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (index, entity) in entities.iter().enumerate() {
        match inner.store.write(blueprint, entity, flags, datasource) {
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

fn single_upsert(
    shared: &Shared,
    blueprint: &str,
    body: &Value,
    flags: &HashMap<String, String>,
    datasource: &str,
) -> Response {
    let mut inner = shared.lock();
    match inner
        .store
        .write(blueprint, body, write_flags(flags), datasource)
    {
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

/// `POST /v1/blueprints/{bp}/entities/search` for `$identifier` rules (`in`, `=`) under an
/// `and` combinator: what the client uses to complete a bare listing.
fn search(shared: &Shared, blueprint: &str, body: &Value) -> Response {
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
    let mut ids: Option<std::collections::HashSet<String>> = None;
    for rule in rules {
        if rule["property"] != "$identifier" {
            return unsupported();
        }
        let values: std::collections::HashSet<String> =
            match (rule["operator"].as_str(), &rule["value"]) {
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
    let (entities, next) =
        inner
            .store
            .search(blueprint, &ids.unwrap_or_default(), after.as_ref(), limit);
    axum::Json(json!({"ok": true, "entities": entities, "next": next.as_ref().map(encode_cursor)}))
        .into_response()
}

fn list(shared: &Shared, body: &Value) -> Response {
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
    let after = match cursor_of(body) {
        Ok(after) => after,
        Err(refused) => return *refused,
    };
    let mut inner = shared.lock();
    let (mut entities, next) = inner.store.list(prefix, suffix, after.as_ref(), limit);
    if shared.options.listing_keys_only {
        for e in &mut entities {
            *e = json!({"identifier": e["identifier"], "blueprint": e["blueprint"]});
        }
    }
    inner.list_pages += 1;
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
