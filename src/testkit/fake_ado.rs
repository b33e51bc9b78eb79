//! A fake Azure DevOps server: a real axum server on `127.0.0.1:0` serving a
//! [`SyntheticOrg`] over ADO's wire formats, with the faults real ADO shows.
//!
//! - Every host of the organization is served by the one server: core under `/{org}`, and
//!   `vsrm.`/`vssps.`/`vsaex.`/`advsec.` under `/{sub}/{org}` (the loopback form of
//!   `ado::org`). A request for a release on the core host is a 404, as on ADO.
//! - Both pagination styles with page-size caps: continuation tokens (header, or body for
//!   user entitlements) and `$top`/`$skip`; WIQL's 20,000-item cap; 200-id work-item batches
//!   with `errorPolicy`.
//! - Basic auth with an empty user; endpoints can be denied (401) to mimic a missing scope.
//! - Rate limits: `X-RateLimit-*` headers and 429 + `Retry-After` once a per-window request
//!   budget is spent. Injectable latency, and per-endpoint faults on the k-th request:
//!   a status, a delay (timeouts), a dropped connection, a truncated body, a 429.
//! - Requests are counted per endpoint so tests and benchmarks can assert the cost of a sync.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::synthetic_org::SyntheticOrg;

/// WIQL returns at most this many work items per query.
pub const WIQL_CAP: usize = 20_000;
/// The work-item batch read takes at most this many ids.
pub const WORK_ITEM_BATCH_CAP: usize = 200;

/// A per-window request budget, as ADO meters it (here: one unit per request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub budget: u64,
    /// The window length (whole seconds: ADO's reset header has second precision).
    pub window: Duration,
}

/// What a fault does to the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and a JSON error body.
    Status(u16),
    /// Wait this long before answering normally (to trip client timeouts).
    Delay(Duration),
    /// Send the headers and part of the body, then drop the connection.
    Drop,
    /// Send a 200 whose JSON body is cut in half (consistent `Content-Length`).
    Truncate,
    /// Answer 429 with `Retry-After` in seconds.
    TooManyRequests(u64),
}

/// A fault on requests `from..from+times` (1-based) of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The endpoint name (see [`FakeAdo::counts`]).
    pub endpoint: String,
    /// The first request (1-based) that fails.
    pub from: u64,
    /// How many consecutive requests fail (`u64::MAX`: all from then on).
    pub times: u64,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// Request `k` (1-based) of `endpoint` and every later one fail with `kind`.
    #[must_use]
    pub fn from_request(endpoint: &str, k: u64, kind: FaultKind) -> Self {
        Fault {
            endpoint: endpoint.to_owned(),
            from: k,
            times: u64::MAX,
            kind,
        }
    }

    /// Only request `k` (1-based) of `endpoint` fails with `kind`.
    #[must_use]
    pub fn once(endpoint: &str, k: u64, kind: FaultKind) -> Self {
        Fault {
            times: 1,
            ..Fault::from_request(endpoint, k, kind)
        }
    }
}

/// How the fake behaves.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// The PAT it accepts.
    pub pat: String,
    /// Added before every response.
    pub latency: Duration,
    /// The request budget, if metered.
    pub rate_limit: Option<RateLimit>,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Endpoints answering 401 whatever the PAT (a PAT lacking that scope).
    pub denied: Vec<String>,
    /// Work-item ids WIQL still returns but the batch read no longer finds (deleted meanwhile).
    pub vanished_work_items: Vec<u64>,
    /// Caps every page at this many items, whatever `$top` asks (ADO may return fewer
    /// than asked under load), to exercise multi-page listings with few items.
    pub max_page: Option<usize>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            pat: "fake-pat-0123456789".into(),
            latency: Duration::ZERO,
            rate_limit: None,
            faults: Vec::new(),
            denied: Vec::new(),
            vanished_work_items: Vec::new(),
            max_page: None,
        }
    }
}

struct Shared {
    org: SyntheticOrg,
    config: Mutex<FakeConfig>,
    counts: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
    rejected: AtomicU64,
    window: Mutex<(u64, u64)>,
}

/// A running fake ADO server; stops when dropped.
pub struct FakeAdo {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeAdo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAdo")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeAdo {
    /// Starts serving `org` on `127.0.0.1:0`.
    pub async fn start(org: SyntheticOrg, config: FakeConfig) -> std::io::Result<Self> {
        Self::start_on(org, config, 0).await
    }

    /// Starts serving `org` on `127.0.0.1:port` (0 picks a free port).
    pub async fn start_on(
        org: SyntheticOrg,
        config: FakeConfig,
        port: u16,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            org,
            config: Mutex::new(config),
            counts: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            window: Mutex::new((0, 0)),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeAdo {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// The organization URL to give the client: `http://127.0.0.1:PORT/{org}`.
    #[must_use]
    pub fn org_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.shared.org.name)
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PAT it accepts.
    #[must_use]
    pub fn pat(&self) -> String {
        lock(&self.shared.config).pat.clone()
    }

    /// The organization it serves.
    #[must_use]
    pub fn org(&self) -> &SyntheticOrg {
        &self.shared.org
    }

    /// Requests received per endpoint name.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.counts).clone()
    }

    /// Requests received for one endpoint.
    #[must_use]
    pub fn requests(&self, endpoint: &str) -> u64 {
        lock(&self.shared.counts)
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received in all.
    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }

    /// Requests answered 429 because the budget was spent.
    #[must_use]
    pub fn rejected_over_budget(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Clears the request counters.
    pub fn reset_counts(&self) {
        lock(&self.shared.counts).clear();
        self.shared.total.store(0, Ordering::Relaxed);
        self.shared.rejected.store(0, Ordering::Relaxed);
    }

    /// Adds a fault (counted against requests from now on, by endpoint request number).
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared.config).faults.push(fault);
    }
}

impl Drop for FakeAdo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Query = HashMap<String, String>;

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.total.fetch_add(1, Ordering::Relaxed);
    let query: Query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(urlencoding_decode)
        .collect();
    let (service, rest) = match segments.first().map(String::as_str) {
        Some(sub @ ("vsrm" | "vssps" | "vsaex" | "advsec")) => (sub.to_owned(), &segments[1..]),
        _ => ("core".to_owned(), &segments[..]),
    };
    let config = lock(&shared.config).clone();
    if rest.first().map(String::as_str) != Some(shared.org.name.as_str()) {
        count(&shared, "unknown");
        return error(StatusCode::NOT_FOUND, "the organization does not exist");
    }
    let path: Vec<&str> = rest[1..].iter().map(String::as_str).collect();
    let endpoint = endpoint_name(&method, &service, &path);
    let k = count(&shared, endpoint);
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }
    if !authorized(&headers, &config.pat) || config.denied.iter().any(|d| d == endpoint) {
        return error(
            StatusCode::UNAUTHORIZED,
            "TF400813: The user is not authorized to access this resource.",
        );
    }
    let mut rate_headers = Vec::new();
    if let Some(limit) = config.rate_limit {
        let (allowed, hdrs, retry) = meter(&shared, limit);
        rate_headers = hdrs;
        if !allowed {
            shared.rejected.fetch_add(1, Ordering::Relaxed);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TF400733: The request has been throttled.",
            );
            add_headers(&mut response, &rate_headers);
            add_headers(&mut response, &[("retry-after", retry.to_string())]);
            return response;
        }
    }
    let fault = config
        .faults
        .iter()
        .find(|f| f.endpoint == endpoint && k >= f.from && k - f.from < f.times)
        .map(|f| f.kind.clone());
    let mut response = match fault {
        Some(FaultKind::Status(code)) => error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure",
        ),
        Some(FaultKind::TooManyRequests(secs)) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TF400733: The request has been throttled.",
            );
            add_headers(&mut r, &[("retry-after", secs.to_string())]);
            r
        }
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            route(&shared, &config, &method, &service, &path, &query, &body)
        }
        Some(FaultKind::Drop) => {
            let r = route(&shared, &config, &method, &service, &path, &query, &body);
            dropping(r).await
        }
        Some(FaultKind::Truncate) => {
            let r = route(&shared, &config, &method, &service, &path, &query, &body);
            truncated(r).await
        }
        None => route(&shared, &config, &method, &service, &path, &query, &body),
    };
    add_headers(&mut response, &rate_headers);
    response
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
}

fn count(shared: &Shared, endpoint: &str) -> u64 {
    let mut counts = lock(&shared.counts);
    let n = counts.entry(endpoint.to_owned()).or_default();
    *n += 1;
    *n
}

fn authorized(headers: &HeaderMap, pat: &str) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{pat}"))
    );
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

fn meter(shared: &Shared, limit: RateLimit) -> (bool, Vec<(&'static str, String)>, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let window_ms = limit.window.as_millis().max(1000) as u64;
    let index = now.as_millis() as u64 / window_ms;
    let reset_ms = (index + 1) * window_ms;
    let mut w = lock(&shared.window);
    if w.0 != index {
        *w = (index, 0);
    }
    w.1 += 1;
    let used = w.1;
    let remaining = limit.budget.saturating_sub(used);
    let headers = vec![
        ("x-ratelimit-resource", "Core".to_owned()),
        ("x-ratelimit-limit", limit.budget.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset_ms.div_ceil(1000).to_string()),
    ];
    let retry = (reset_ms.saturating_sub(now.as_millis() as u64))
        .div_ceil(1000)
        .max(1);
    (used <= limit.budget, headers, retry)
}

fn add_headers(response: &mut Response, headers: &[(&'static str, String)]) {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            response.headers_mut().insert(*k, v);
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"$id": "1", "innerException": null, "message": message,
                      "typeName": "Microsoft.VisualStudio.Services.WebApi.VssServiceException",
                      "typeKey": "VssServiceException", "errorCode": 0, "eventId": 3000});
    json_response(status, &body, &[])
}

fn json_response(status: StatusCode, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8; api-version=7.1"),
    );
    add_headers(&mut response, headers);
    response
}

async fn body_bytes(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

async fn truncated(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let cut = bytes.slice(..bytes.len() / 2);
    parts.status = StatusCode::OK;
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(cut))
}

async fn dropping(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    parts.status = StatusCode::OK;
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert("content-length", v);
    }
    let half = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::new(DroppingBody { first: Some(half) }))
}

/// A body that yields part of its data, then fails: hyper aborts the connection.
struct DroppingBody {
    first: Option<Bytes>,
}

impl http_body::Body for DroppingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.first.take() {
            Some(data) => Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
            None => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected connection drop",
            )))),
        }
    }
}

/// The endpoint name of a request: the key of counts and faults.
fn endpoint_name(method: &Method, service: &str, path: &[&str]) -> &'static str {
    let get = *method == Method::GET;
    match (service, path) {
        ("core", ["_apis", "projects"]) if get => "projects",
        ("core", ["_apis", "projects", _]) if get => "project",
        ("core", ["_apis", "projects", _, "properties"]) if get => "project-properties",
        ("core", ["_apis", "teams"]) if get => "teams",
        ("core", ["_apis", "projects", _, "teams"]) if get => "project-teams",
        ("core", ["_apis", "projects", _, "teams", _, "members"]) if get => "team-members",
        ("core", [_, _, "_apis", "work", "teamsettings", "teamfieldvalues"]) if get => {
            "team-field-values"
        }
        ("core", [_, "_apis", "git", "repositories"]) if get => "repositories",
        ("core", [_, "_apis", "git", "repositories", _, "items"]) if get => "items",
        ("core", [_, "_apis", "git", "repositories", _, "refs"]) if get => "refs",
        ("core", [_, "_apis", "git", "policy", "configurations"]) if get => "policies",
        ("core", [_, "_apis", "git", "pullrequests"]) if get => "pull-requests",
        ("core", [_, "_apis", "pipelines"]) if get => "pipelines",
        ("core", [_, "_apis", "build", "definitions", _]) if get => "build-definition",
        ("core", [_, "_apis", "build", "builds"]) if get => "builds",
        ("core", [_, "_apis", "wit", "wiql"]) if *method == Method::POST => "wiql",
        ("core", [_, "_apis", "wit", "workitems"]) if get => "work-items",
        ("core", [_, _, "_apis", "work", "boards"]) if get => "boards",
        ("core", [_, _, "_apis", "work", "boards", _]) if get => "board",
        ("vsrm", [_, "_apis", "release", "releases"]) if get => "releases",
        ("vssps", ["_apis", "graph", "users"]) if get => "graph-users",
        ("vsaex", ["_apis", "userentitlements"]) if get => "user-entitlements",
        _ => "unknown",
    }
}

fn route(
    shared: &Shared,
    config: &FakeConfig,
    method: &Method,
    service: &str,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Response {
    MAX_PAGE.with(|m| m.set(config.max_page.unwrap_or(usize::MAX).max(1)));
    let org = &shared.org;
    let endpoint = endpoint_name(method, service, path);
    let project = |key: &str| {
        org.projects
            .iter()
            .find(|p| p["id"] == key || p["name"] == key)
            .cloned()
    };
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "TF200016: The following project does not exist.",
        )
    };
    match endpoint {
        "projects" => continuation_page(&org.projects, query, 100, 1000, TokenIn::Header, "value"),
        "project" => match project(path[2]) {
            Some(mut p) => {
                let id = p["id"].as_str().unwrap_or_default().to_owned();
                if let (Value::Object(into), Some(Value::Object(extra))) =
                    (&mut p, org.project_details.get(&id))
                {
                    into.extend(extra.clone());
                }
                json_response(StatusCode::OK, &p, &[])
            }
            None => not_found(),
        },
        "project-properties" => match project(path[2]) {
            Some(p) => {
                let tags = org
                    .project_tags
                    .get(p["id"].as_str().unwrap_or_default())
                    .cloned()
                    .unwrap_or_default();
                let value: Vec<Value> = tags
                    .iter()
                    .map(|t| json!({"name": format!("Microsoft.TeamFoundation.Project.Tag.{t}"), "value": "True"}))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"count": value.len(), "value": value}),
                    &[],
                )
            }
            None => not_found(),
        },
        "teams" => skip_page(&org.teams, query, 100, 1000, ("$top", "$skip"), "value"),
        "project-teams" => match project(path[2]) {
            Some(p) => {
                let teams: Vec<Value> = org
                    .teams
                    .iter()
                    .filter(|t| t["projectId"] == p["id"])
                    .cloned()
                    .collect();
                skip_page(&teams, query, 100, 1000, ("$top", "$skip"), "value")
            }
            None => not_found(),
        },
        "team-members" => match org.team_members.get(path[4]) {
            Some(members) => skip_page(members, query, 100, 1000, ("$top", "$skip"), "value"),
            None => error(StatusCode::NOT_FOUND, "the team does not exist"),
        },
        "team-field-values" => match project(path[0]) {
            Some(p) => {
                let name = p["name"].clone();
                json_response(
                    StatusCode::OK,
                    &json!({"field": {"referenceName": "System.AreaPath", "url": "https://dev.azure.com/_apis/wit/fields/System.AreaPath"},
                            "defaultValue": name, "values": [{"value": name, "includeChildren": true}],
                            "url": "", "_links": {}}),
                    &[],
                )
            }
            None => not_found(),
        },
        "repositories" => match project(path[0]) {
            Some(p) => {
                let repos: Vec<Value> = org
                    .repos
                    .iter()
                    .filter(|r| r["project"]["id"] == p["id"])
                    .cloned()
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"value": repos, "count": repos.len()}),
                    &[],
                )
            }
            None => not_found(),
        },
        "items" => {
            let wanted = query.get("path").cloned().unwrap_or_default();
            let wanted = format!("/{}", wanted.trim_start_matches('/'));
            match org.files.get(path[4]).and_then(|files| files.get(&wanted)) {
                Some(text) => json_response(
                    StatusCode::OK,
                    &json!({"objectId": format!("{:040x}", text.len()), "gitObjectType": "blob",
                            "commitId": "0000000000000000000000000000000000000001", "path": wanted,
                            "content": text, "url": ""}),
                    &[],
                ),
                None => error(
                    StatusCode::NOT_FOUND,
                    "TF401174: The item could not be found in the repository.",
                ),
            }
        }
        "refs" => match org.refs.get(path[4]) {
            Some(refs) => {
                let filter = query.get("filter").map(|f| format!("refs/{f}"));
                let refs: Vec<Value> = refs
                    .iter()
                    .filter(|r| {
                        filter.as_ref().is_none_or(|f| {
                            r["name"]
                                .as_str()
                                .unwrap_or_default()
                                .starts_with(f.as_str())
                        })
                    })
                    .cloned()
                    .collect();
                continuation_page(&refs, query, usize::MAX, 1000, TokenIn::Header, "value")
            }
            None => error(
                StatusCode::NOT_FOUND,
                "TF401019: The Git repository does not exist.",
            ),
        },
        "policies" => {
            let repo = query.get("repositoryId").cloned().unwrap_or_default();
            let policies = org.policies.get(&repo).cloned().unwrap_or_default();
            continuation_page(&policies, query, 1000, 1000, TokenIn::Header, "value")
        }
        "pull-requests" => match project(path[0]) {
            Some(p) => {
                let status = query
                    .get("searchCriteria.status")
                    .map_or("active", String::as_str);
                let closed_since = (query
                    .get("searchCriteria.queryTimeRangeType")
                    .map(String::as_str)
                    == Some("closed"))
                .then(|| {
                    query
                        .get("searchCriteria.minTime")
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                })
                .flatten();
                let repo = query.get("searchCriteria.repositoryId");
                let prs: Vec<Value> = org
                    .pull_requests
                    .iter()
                    .filter(|pr| pr["repository"]["project"]["id"] == p["id"])
                    .filter(|pr| status == "all" || pr["status"] == status)
                    .filter(|pr| repo.is_none_or(|r| pr["repository"]["id"] == r.as_str()))
                    .filter(|pr| {
                        closed_since.is_none_or(|since| {
                            pr["closedDate"]
                                .as_str()
                                .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                                .is_some_and(|d| d >= since)
                        })
                    })
                    .cloned()
                    .collect();
                skip_page(&prs, query, 101, 1000, ("$top", "$skip"), "value")
            }
            None => not_found(),
        },
        "pipelines" => match project(path[0]) {
            Some(p) => {
                let pipelines: Vec<Value> = org
                    .pipelines
                    .iter()
                    .filter(|pl| {
                        pl["id"]
                            .as_u64()
                            .and_then(|id| org.pipeline_project.get(&id))
                            .map(String::as_str)
                            == p["id"].as_str()
                    })
                    .cloned()
                    .collect();
                continuation_page(&pipelines, query, 100, 1000, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "build-definition" => match path[4]
            .parse::<u64>()
            .ok()
            .and_then(|id| org.definitions.get(&id))
        {
            Some(definition) => json_response(StatusCode::OK, definition, &[]),
            None => error(StatusCode::NOT_FOUND, "the definition does not exist"),
        },
        "builds" => match project(path[0]) {
            Some(p) => {
                let builds: Vec<Value> = org
                    .builds
                    .iter()
                    .filter(|b| b["project"]["id"] == p["id"])
                    .cloned()
                    .collect();
                continuation_page(&builds, query, 1000, 1000, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "wiql" => match project(path[0]) {
            Some(p) => wiql(org, &p, query, body),
            None => not_found(),
        },
        "work-items" => work_items(org, config, query),
        "boards" => match org.boards.get(path[1]) {
            Some(boards) => {
                let list: Vec<Value> = boards
                    .iter()
                    .map(|b| json!({"id": b["id"], "url": b["url"], "name": b["name"]}))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"count": list.len(), "value": list}),
                    &[],
                )
            }
            None => error(StatusCode::NOT_FOUND, "the team does not exist"),
        },
        "board" => match org
            .boards
            .get(path[1])
            .and_then(|boards| boards.iter().find(|b| b["id"] == path[5]))
        {
            Some(board) => json_response(StatusCode::OK, board, &[]),
            None => error(StatusCode::NOT_FOUND, "the board does not exist"),
        },
        "releases" => match project(path[0]) {
            Some(p) => {
                let status = query.get("statusFilter");
                let releases: Vec<Value> = org
                    .releases
                    .iter()
                    .filter(|r| r["projectReference"]["id"] == p["id"])
                    .filter(|r| status.is_none_or(|s| r["status"] == s.as_str()))
                    .cloned()
                    .collect();
                continuation_page(&releases, query, 50, 100, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "graph-users" => {
            continuation_page(&org.graph_users, query, 500, 500, TokenIn::Header, "value")
        }
        "user-entitlements" => {
            continuation_page(&org.entitlements, query, 100, 100, TokenIn::Body, "items")
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "the resource does not exist on this host",
        ),
    }
}

thread_local! {
    /// `FakeConfig::max_page` of the request being routed (routing is synchronous).
    static MAX_PAGE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

#[derive(Clone, Copy)]
enum TokenIn {
    Header,
    Body,
}

fn continuation_page(
    items: &[Value],
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
    let page = &items[start..end];
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

fn skip_page(
    items: &[Value],
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
    let page = &items[start..end];
    json_response(
        StatusCode::OK,
        &json!({"count": page.len(), key: page}),
        &[],
    )
}

fn wiql(org: &SyntheticOrg, project: &Value, query: &Query, body: &Bytes) -> Response {
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
    let ids: Vec<u64> = org
        .work_items
        .iter()
        .filter(|w| w["fields"]["System.TeamProject"] == name)
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

fn work_items(org: &SyntheticOrg, config: &FakeConfig, query: &Query) -> Response {
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
