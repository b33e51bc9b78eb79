//! The HTTP side of `serve`: [`router`] builds the routes over an [`AppState`], [`serve`]
//! only binds them to a listener until shutdown.
//!
//! | route | answers |
//! |---|---|
//! | `POST /webhook` | 202 once the event's signals are committed to the queue; 202 (counted, nothing queued) for an event type adoport does not handle; 400 for a body that is not an envelope; 413 over the body limit |
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200 when a config is loaded, the catalog answered the last run and the queue moves; 503 with the failing checks otherwise |
//! | `GET /metrics` | Prometheus text (`metrics`) |
//! | `GET /` | the status page (`page`): server-rendered HTML for people |
//!
//! With credentials configured, `/webhook` and `/metrics` require them (401 otherwise,
//! nothing read or queued). The probes do not: Kubernetes' `httpGet` probes send no
//! credentials, and they reveal nothing secret (up or not, and which check fails). Errors become responses in one place ([`ApiError`]): bad input keeps its 4xx
//! and is not logged; an internal error answers a generic 500 and is logged once, by the
//! middleware that sees it go out. Every request has [`REQUEST_TIMEOUT`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Notify;

use super::auth::WebhookAuth;
use super::events::{self, Envelope};
use super::lease::LeaseInfo;
use super::metrics::{Metrics, Rejection};
use super::queue::{self, EventMeta, Queue, Stats};

/// The longest any request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The body limit when `webhook.maxBodyBytes` is not set: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// What readiness is judged by, shared by the worker and resync loops that report into it.
#[derive(Debug)]
pub struct Health {
    config_loaded: AtomicBool,
    revision: Mutex<Option<String>>,
    catalog_error: Mutex<Option<String>>,
    last_progress_ms: AtomicI64,
    stuck_after: Duration,
}

impl Health {
    /// Readiness that calls the queue stuck when signals have been due for `stuck_after`
    /// and nothing was handled meanwhile.
    #[must_use]
    pub fn new(stuck_after: Duration) -> Self {
        Health {
            config_loaded: AtomicBool::new(false),
            revision: Mutex::new(None),
            catalog_error: Mutex::new(None),
            last_progress_ms: AtomicI64::new(queue::millis(SystemTime::now())),
            stuck_after,
        }
    }

    /// A config passed the lint gate and is in force.
    pub fn set_config_loaded(&self, loaded: bool) {
        self.config_loaded.store(loaded, Ordering::Relaxed);
    }

    /// The revision of the config in force (a commit, or a folder's fingerprint).
    pub fn set_revision(&self, revision: Option<String>) {
        *self
            .revision
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = revision;
    }

    /// The revision of the config in force, when known.
    #[must_use]
    pub fn revision(&self) -> Option<String> {
        self.revision
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The failing readiness checks, by name, with why (empty: ready).
    #[must_use]
    pub fn failing_checks(&self, stats: Option<&Stats>) -> Vec<(&'static str, String)> {
        self.failing(stats, SystemTime::now())
    }

    /// The last run read and wrote the catalog (`None`), or could not (why).
    pub fn set_catalog_error(&self, error: Option<String>) {
        *self
            .catalog_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// Work was done: a batch handled or a resync finished.
    pub fn progress(&self) {
        self.last_progress_ms
            .store(queue::millis(SystemTime::now()), Ordering::Relaxed);
    }

    /// The failing checks, by name (empty: ready).
    fn failing(&self, stats: Option<&Stats>, now: SystemTime) -> Vec<(&'static str, String)> {
        let mut failing = Vec::new();
        if !self.config_loaded.load(Ordering::Relaxed) {
            failing.push((
                "config",
                "no config has passed the lint gate yet".to_owned(),
            ));
        }
        let catalog = self
            .catalog_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(why) = catalog {
            failing.push(("catalog", why));
        }
        match stats {
            None => failing.push(("queue", "the queue database cannot be read".to_owned())),
            Some(stats) => {
                let stuck_ms = u64::try_from(self.stuck_after.as_millis()).unwrap_or(u64::MAX);
                let idle_ms = now
                    .duration_since(queue::from_millis(
                        self.last_progress_ms.load(Ordering::Relaxed),
                    ))
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                if stats.oldest_due_age_ms.is_some_and(|age| age > stuck_ms) && idle_ms > stuck_ms {
                    failing.push((
                        "queue",
                        format!(
                            "{} signals are due and nothing was handled for {}s",
                            stats.due,
                            idle_ms / 1000
                        ),
                    ));
                }
            }
        }
        failing
    }
}

/// What every handler shares: explicit and small.
#[derive(Clone)]
pub struct AppState {
    /// Where accepted events go.
    pub queue: Arc<dyn Queue>,
    /// The credentials every request must carry; `None` runs without (refused unless the
    /// operator said `--insecure-no-webhook-auth`).
    pub auth: Option<Arc<WebhookAuth>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
    /// The largest body `POST /webhook` reads.
    pub max_body_bytes: usize,
    /// Woken when an event is queued, so the worker need not poll.
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.auth.as_ref().map(|a| a.user().to_owned()))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `queue` with fresh counters, a body limit of [`DEFAULT_MAX_BODY_BYTES`]
    /// and readiness that calls the queue stuck after 30 minutes.
    #[must_use]
    pub fn new(queue: Arc<dyn Queue>, auth: Option<WebhookAuth>) -> Self {
        AppState {
            queue,
            auth: auth.map(Arc::new),
            metrics: Arc::new(Metrics::default()),
            health: Arc::new(Health::new(Duration::from_secs(30 * 60))),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            wake: Arc::new(Notify::new()),
        }
    }
}

/// Errors that become responses.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong credentials.
    #[error("authentication required")]
    Unauthorized,
    /// The body is over the limit.
    #[error("the body is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read.
    #[error("could not read the request body")]
    BadBody(#[source] BytesRejection),
    /// The body is not a service-hook envelope.
    #[error("the request is not an Azure DevOps service-hook event")]
    BadEnvelope(#[from] events::Error),
    /// Something failed on our side; the client learns nothing more.
    #[error("the event could not be queued")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An internal error's text, carried on the response for the logging middleware.
#[derive(Clone, Debug)]
struct InternalError(Arc<str>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadBody(_) | ApiError::BadEnvelope(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let ApiError::Internal(_) = &self {
            let text = crate::http::error_chain(&self);
            let mut response = (status, Json(json!({"error": "internal error"}))).into_response();
            response
                .extensions_mut()
                .insert(InternalError(Arc::from(text.as_str())));
            return response;
        }
        let mut response = (
            status,
            Json(json!({"error": crate::http::error_chain(&self)})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"adoport\""),
            );
        }
        response
    }
}

/// The routes over `state`.
pub fn router(state: AppState) -> Router {
    let webhook = Router::new()
        .route("/webhook", post(webhook))
        .layer(DefaultBodyLimit::max(state.max_body_bytes));
    let guarded = Router::new()
        .merge(webhook)
        .route("/metrics", get(metrics))
        .route("/", get(super::page::status_page))
        .layer(middleware::from_fn_with_state(state.clone(), require_auth));
    Router::new()
        .merge(guarded)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn(log_internal_errors))
        .layer(middleware::from_fn(request_timeout))
        .with_state(state)
}

/// Serves `state`'s routes on `listener` until `shutdown` resolves, then stops accepting
/// and lets requests in flight finish (each bounded by [`REQUEST_TIMEOUT`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn require_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(auth) = &state.auth {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if !auth.check(header) {
            state.metrics.rejected(Rejection::Unauthorized);
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

async fn log_internal_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(InternalError(text)) = response.extensions().get::<InternalError>() {
        tracing::error!(path, error = %text, "request failed");
    }
    response
}

async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(json!({"error": "the request took too long"})),
        )
            .into_response(),
    }
}

async fn webhook(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.rejected(Rejection::TooLarge);
            return Err(ApiError::TooLarge {
                limit: state.max_body_bytes,
            });
        }
        Err(rejection) => {
            state.metrics.rejected(Rejection::Malformed);
            return Err(ApiError::BadBody(rejection));
        }
    };
    let envelope = Envelope::parse(&body).inspect_err(|_| {
        state.metrics.rejected(Rejection::Malformed);
    })?;
    let Some(event_type) = events::find(&envelope.event_type) else {
        state.metrics.received(&envelope.event_type, false);
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"status": "ignored", "reason": "adoport does not handle this event type"})),
        )
            .into_response());
    };
    state.metrics.received(event_type.name, true);
    let signals = event_type.signals(&envelope);
    let meta = EventMeta {
        event_type: event_type.name.to_owned(),
        received: SystemTime::now(),
    };
    let kinds: Vec<String> = signals.iter().map(|s| s.kind.clone()).collect();
    let queue = state.queue.clone();
    let enqueued = tokio::task::spawn_blocking(move || queue.enqueue(&meta, &signals))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))
        .and_then(|r| r.map_err(|e| ApiError::Internal(Box::new(e))))
        .inspect_err(|_| state.metrics.rejected(Rejection::Failed))?;
    state
        .metrics
        .accepted(event_type.name, &kinds, enqueued.coalesced);
    state.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "queued", "eventType": event_type.name,
                    "signals": kinds.len(), "coalesced": enqueued.coalesced})),
    )
        .into_response())
}

async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

async fn queue_stats(state: &AppState) -> Option<Stats> {
    let queue = state.queue.clone();
    tokio::task::spawn_blocking(move || queue.stats(SystemTime::now()))
        .await
        .ok()
        .and_then(Result::ok)
}

/// The resync lease, when replicas share the queue (`None` also when it cannot be read).
async fn resync_lease(state: &AppState) -> Option<LeaseInfo> {
    let queue = state.queue.clone();
    tokio::task::spawn_blocking(move || queue.resync_lease())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (stats, lease) = tokio::join!(queue_stats(&state), resync_lease(&state));
    let failing = state.health.failing(stats.as_ref(), SystemTime::now());
    let checks: serde_json::Map<String, serde_json::Value> = failing
        .iter()
        .map(|(name, why)| ((*name).to_owned(), json!(why)))
        .collect();
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            json!({"ready": failing.is_empty(), "failing": checks, "queue": stats,
                    "lease": lease}),
        ),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (stats, lease) = tokio::join!(queue_stats(&state), resync_lease(&state));
    let mut text = state.metrics.render(stats.as_ref());
    if let Some(lease) = &lease {
        super::metrics::render_lease(&mut text, lease);
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
