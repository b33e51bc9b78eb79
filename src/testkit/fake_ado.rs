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
//! - Entra ID (`entra`): a tenant's client-credentials token endpoint
//!   (`/{tenant}/oauth2/v2.0/token`, so the server's address is the authority host) and
//!   bearer tokens accepted until they expire; `FaultKind::ExpireTokens` ends them mid-run.
//! - Rate limits: `X-RateLimit-*` headers and 429 + `Retry-After` once a per-window request
//!   budget is spent. Injectable latency, and per-endpoint (or, with `*`, every endpoint's)
//!   faults on the k-th request
//!   (`faults`): a status, a delay (timeouts), a dropped connection, a truncated body, a
//!   429 (with any `Retry-After` text), extra headers, a 404 with or without ADO's typed
//!   error body, a 500 echoing the `Authorization` header, continuation tokens that cycle,
//!   empty pages for ever, `$skip` ignored, an oversized body, JSON of the wrong shape.
//! - Git items (`files`): one item with its content, tree listings by `scopePath` and
//!   `recursionLevel` on a branch, and `itemsbatch`, which fails whole (400) when one path
//!   is missing.
//! - 404s carry ADO's JSON error body with the `typeKey` real ADO sends for each case
//!   (`ProjectDoesNotExistWithNameException`, `GitItemNotFoundException`, …).
//! - Delivery endpoints (`pipelines`): build timelines, pipeline runs (capped at 10,000, no
//!   token), environments and deployment records, release definitions and deployments,
//!   test runs, results and code coverage.
//! - Requests are counted per endpoint so tests and benchmarks can assert the cost of a sync,
//!   and the distinct requests each endpoint received (query string and body) are kept, so a
//!   test can see which selector options reached ADO.
//! - The organization can change while it serves (`FakeAdo::edit`, `FakeAdo::replace_org`),
//!   as ADO does between a sync and the event that says so; list endpoints honour the filters
//!   that targeted reads and incremental passes send (`buildIds`, `minTime`,
//!   `releaseIdFilter`, WIQL's `[System.Id] IN (…)` and `[System.ChangedDate] >= '…'`, …).
//! - Graph groups and memberships, team iterations, area trees, Advanced Security alerts and
//!   wikis are `org`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use tokio::sync::oneshot;

use super::synthetic_org::SyntheticOrg;

mod entra;
mod faults;
mod files;
mod hooks;
mod org;
mod pages;
mod pipelines;
mod routes;

pub use entra::FakeEntra;
pub use faults::{Fault, FaultKind, NotFoundBody};
pub use pipelines::RUNS_CAP;
use routes::{Query, endpoint_name, error, route};

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
    /// An Entra ID tenant whose token endpoint this server also serves, and whose bearer
    /// tokens it accepts beside the PAT (shared by the servers of one tenant).
    pub entra: Option<Arc<FakeEntra>>,
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
            entra: None,
        }
    }
}

struct Shared {
    /// The organization as it started (its name and shape never change).
    org: SyntheticOrg,
    /// The organization as it stands now: what every request is answered from.
    live: std::sync::RwLock<SyntheticOrg>,
    config: Mutex<FakeConfig>,
    counts: Mutex<BTreeMap<String, u64>>,
    received: Mutex<BTreeMap<String, BTreeSet<String>>>,
    total: AtomicU64,
    rejected: AtomicU64,
    unauthorized: AtomicU64,
    window: Mutex<(u64, u64)>,
    hooks: hooks::Store,
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
            live: std::sync::RwLock::new(org.clone()),
            org,
            config: Mutex::new(config),
            counts: Mutex::new(BTreeMap::new()),
            received: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            window: Mutex::new((0, 0)),
            hooks: hooks::Store::default(),
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

    /// The organization it started with (see [`FakeAdo::current`] after an edit).
    #[must_use]
    pub fn org(&self) -> &SyntheticOrg {
        &self.shared.org
    }

    /// The organization as it stands now.
    #[must_use]
    pub fn current(&self) -> SyntheticOrg {
        self.shared
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Changes the organization: every request from now on sees the change.
    pub fn edit(&self, change: impl FnOnce(&mut SyntheticOrg)) {
        change(
            &mut self
                .shared
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
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

    /// The distinct requests each endpoint received: the query string (parameters sorted by
    /// name), then the body when there is one (a WIQL query, an items batch).
    #[must_use]
    pub fn received(&self) -> BTreeMap<String, BTreeSet<String>> {
        lock(&self.shared.received).clone()
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

    /// Requests answered 401 (a bad PAT, an expired or unknown token, a denied endpoint).
    #[must_use]
    pub fn unauthorized_responses(&self) -> u64 {
        self.shared.unauthorized.load(Ordering::Relaxed)
    }

    /// The Entra ID authority host this server stands for (`AZURE_AUTHORITY_HOST`).
    #[must_use]
    pub fn authority(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Clears the request counters and the requests received.
    pub fn reset_counts(&self) {
        lock(&self.shared.counts).clear();
        lock(&self.shared.received).clear();
        self.shared.total.store(0, Ordering::Relaxed);
        self.shared.rejected.store(0, Ordering::Relaxed);
    }

    /// ADO changed: from the next request on, serve `org` (which keeps the organization's
    /// name) on the same port, without a restart. [`FakeAdo::org`] still returns the
    /// organization it started with.
    pub fn replace_org(&self, org: SyntheticOrg) {
        self.edit(|live| *live = org);
    }

    /// Adds a fault (counted against requests from now on, by endpoint request number).
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared.config).faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.config).faults.clear();
    }

    /// Changes how the fake behaves (`vanished_work_items`, `rate_limit`, …) from now on.
    pub fn reconfigure(&self, change: impl FnOnce(&mut FakeConfig)) {
        change(&mut lock(&self.shared.config));
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

fn read<T>(m: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.total.fetch_add(1, Ordering::Relaxed);
    let mut query: Query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
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
    if let (Some(entra), [tenant, oauth, version, token]) = (&config.entra, rest)
        && method == Method::POST
        && (oauth.as_str(), version.as_str(), token.as_str()) == ("oauth2", "v2.0", "token")
    {
        count(&shared, "entra-token");
        return entra.answer(tenant, &body);
    }
    if rest.first().map(String::as_str) != Some(shared.org.name.as_str()) {
        count(&shared, "unknown");
        return error(StatusCode::NOT_FOUND, "the organization does not exist");
    }
    let path: Vec<&str> = rest[1..].iter().map(String::as_str).collect();
    let endpoint = endpoint_name(&method, &service, &path);
    let k = count(&shared, endpoint);
    remember(&shared, endpoint, &query, &body);
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }
    let fault = config
        .faults
        .iter()
        .find(|f| {
            (f.endpoint == endpoint || f.endpoint == "*") && k >= f.from && k - f.from < f.times
        })
        .map(|f| f.kind.clone());
    // Tokens end before the request is judged, so the request itself meets the refusal.
    let fault = match fault {
        Some(FaultKind::ExpireTokens) => {
            if let Some(entra) = &config.entra {
                entra.expire_all();
            }
            None
        }
        other => other,
    };
    if !authorized(&headers, &config) || config.denied.iter().any(|d| d == endpoint) {
        shared.unauthorized.fetch_add(1, Ordering::Relaxed);
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
    let mut response = match fault {
        Some(kind) => {
            faults::rewrite_query(&kind, &mut query);
            faults::apply(&kind, &headers, || {
                let org = read(&shared.live);
                route(
                    &shared, &org, &config, &method, &service, &path, &query, &body,
                )
            })
            .await
        }
        None => {
            let org = read(&shared.live);
            route(
                &shared, &org, &config, &method, &service, &path, &query, &body,
            )
        }
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

fn remember(shared: &Shared, endpoint: &str, query: &Query, body: &Bytes) {
    let mut pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    let mut request = pairs.join("&");
    if !body.is_empty() {
        request.push(' ');
        request.push_str(&String::from_utf8_lossy(body));
    }
    lock(&shared.received)
        .entry(endpoint.to_owned())
        .or_default()
        .insert(request);
}

/// Basic auth with the PAT, or a live bearer token of the configured tenant.
fn authorized(headers: &HeaderMap, config: &FakeConfig) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{}", config.pat))
    );
    let Some(given) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if given == expected {
        return true;
    }
    match (given.strip_prefix("Bearer "), &config.entra) {
        (Some(token), Some(entra)) => entra.accepts(token),
        _ => false,
    }
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
