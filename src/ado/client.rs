//! The ADO HTTP client: PAT auth, bounded concurrency, the shared throttle, retries, and
//! typed errors that name what failed (and which PAT scope is missing) without the PAT.
//!
//! One [`Client`] per organization: its semaphore bounds requests in flight and its
//! [`Throttle`] paces all of them. Paging lives in `paging.rs`, kinds in `kinds/`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::org::{OrgUrl, Service};
use super::retry::{Retry, RetryConfig, error_policy};
use super::throttle::{Throttle, retry_after};

/// The response header ADO puts the next page's token in.
pub const CONTINUATION_HEADER: &str = "x-ms-continuationtoken";

/// Errors of one ADO call (after retries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401/403, or a redirect to the sign-in page: the PAT is bad or lacks a scope.
    #[error(
        "ADO refused {url} (HTTP {status}): the PAT is invalid or expired, or lacks the \"{scope}\" scope"
    )]
    Unauthorized {
        /// The URL (no credentials).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The scope the endpoint needs.
        scope: Scope,
    },
    /// 404: handled by each call site (a resource deleted mid-sync is not an error).
    #[error("{url} was not found (HTTP 404)")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// 429 after the retry budget.
    #[error("ADO rate-limited {url} (HTTP 429)")]
    RateLimited {
        /// The URL.
        url: String,
        /// The `Retry-After` ADO sent.
        retry_after: Option<Duration>,
    },
    /// Any other unsuccessful status; `body` is cut to 512 characters.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// No complete response within the timeout.
    #[error("{url} timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// The connection failed or dropped before the response was complete.
    #[error("the connection for {url} failed")]
    Connection {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx whose body is cut short or not JSON.
    #[error("the response of {url} is truncated or not JSON")]
    BadBody {
        /// The URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The last error, after every retry was spent.
    #[error("gave up after {attempts} attempts")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("could not set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// The PAT cannot be sent in a header (control characters).
    #[error("the PAT contains characters that cannot be sent in an HTTP header")]
    InvalidPat,
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether trying again may succeed (the retry policy's input).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Connection { .. }
            | Error::BadBody { .. } => true,
            Error::Status { status, .. } => *status == 408 || *status >= 500,
            _ => false,
        }
    }

    /// The final error under any [`Error::GaveUp`] wrapper.
    #[must_use]
    pub fn root(&self) -> &Error {
        match self {
            Error::GaveUp { last, .. } => last.root(),
            other => other,
        }
    }

    /// Whether ADO answered 404.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self.root(), Error::NotFound { .. })
    }
}

/// The PAT scope an endpoint needs, named as ADO's token page names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Git repositories, refs, pull requests, policies.
    Code,
    /// Work items, WIQL, boards.
    WorkItems,
    /// Pipelines and builds.
    Build,
    /// Classic releases.
    Release,
    /// Graph users and groups.
    Graph,
    /// User entitlements.
    MemberEntitlements,
    /// Projects and teams.
    ProjectAndTeam,
    /// Advanced Security alerts.
    AdvancedSecurity,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Code => "Code (Read)",
            Scope::WorkItems => "Work Items (Read)",
            Scope::Build => "Build (Read)",
            Scope::Release => "Release (Read)",
            Scope::Graph => "Graph (Read)",
            Scope::MemberEntitlements => "Member Entitlement Management (Read)",
            Scope::ProjectAndTeam => "Project and Team (Read)",
            Scope::AdvancedSecurity => "Advanced Security (Read)",
        })
    }
}

/// A personal access token. It never prints itself: `Debug` shows `Pat(<redacted>)`.
#[derive(Clone)]
pub struct Pat(String);

impl Pat {
    /// Wraps a token read from the environment or a secret store.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Pat(token.into())
    }

    /// `Authorization: Basic base64(":" + PAT)`, marked sensitive so it is never logged.
    fn header(&self) -> Result<HeaderValue> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!(":{}", self.0));
        let mut value =
            HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| Error::InvalidPat)?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Pat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pat(<redacted>)")
    }
}

/// How the client behaves; defaults suit dev.azure.com.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Requests in flight per organization (Port's integration: 15).
    pub concurrency: usize,
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Retry bounds.
    pub retry: RetryConfig,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            concurrency: 16,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
        }
    }
}

/// One request, before it is sent: service host, path below it, query, body, scope.
#[derive(Clone, Debug)]
pub struct Call {
    method: Method,
    service: Service,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    scope: Scope,
}

impl Call {
    /// A GET of `path` (starting with `/`) on `service`, needing `scope`.
    #[must_use]
    pub fn get(service: Service, path: impl Into<String>, scope: Scope) -> Self {
        Call {
            method: Method::GET,
            service,
            path: path.into(),
            query: Vec::new(),
            body: None,
            scope,
        }
    }

    /// A POST with a JSON body; only for reads ADO exposes as POST (WIQL, batches).
    #[must_use]
    pub fn post(service: Service, path: impl Into<String>, scope: Scope, body: Value) -> Self {
        Call {
            method: Method::POST,
            body: Some(body),
            ..Call::get(service, path, scope)
        }
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets (or replaces) a query parameter.
    pub fn set_param(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.query.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.query.push((key.to_owned(), value)),
        }
    }

    /// The scope the endpoint needs.
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.scope
    }
}

/// A successful JSON response and the continuation token it carried (header or body).
#[derive(Clone, Debug)]
pub struct Page {
    /// The parsed body.
    pub body: Value,
    /// `x-ms-continuationtoken`, else a non-empty body `continuationToken`.
    pub continuation: Option<String>,
}

struct Inner {
    http: reqwest::Client,
    org: OrgUrl,
    auth: HeaderValue,
    permits: Semaphore,
    throttle: Throttle,
    options: ClientOptions,
    requests: AtomicU64,
}

/// The client of one organization; cheap to clone, all clones share throttle and limits.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("org", &self.inner.org)
            .field("pat", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `org`, authenticating with `pat`.
    pub fn new(org: OrgUrl, pat: &Pat, options: ClientOptions) -> Result<Self> {
        // reqwest is built without a default provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        // Ask for a 401 instead of a redirect to the sign-in page.
        headers.insert(
            "x-tfs-fedauthredirect",
            HeaderValue::from_static("Suppress"),
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("adoport/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Setup)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                auth: pat.header()?,
                permits: Semaphore::new(options.concurrency.max(1)),
                throttle: Throttle::new(),
                org,
                options,
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The organization this client talks to.
    #[must_use]
    pub fn org(&self) -> &OrgUrl {
        &self.inner.org
    }

    /// HTTP requests sent so far (every attempt counts), for summaries and benchmarks.
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The requests-in-flight bound, for callers sizing their own fan-out.
    #[must_use]
    pub fn concurrency(&self) -> usize {
        self.inner.options.concurrency
    }

    /// Sends `call` with throttle, concurrency bound and retries; parses a JSON body.
    pub async fn send(&self, call: &Call) -> Result<Page> {
        let (headers, body) = self
            .with_retries(call, |headers, bytes| {
                serde_json::from_slice::<Value>(&bytes)
                    .map(|body| (headers, body))
                    .map_err(|source| Error::BadBody {
                        url: self.url(call),
                        source,
                    })
            })
            .await?;
        Ok(Page {
            continuation: continuation(&headers, &body),
            body,
        })
    }

    /// Sends `call` and returns the body as text (file contents).
    pub async fn send_text(&self, call: &Call) -> Result<String> {
        self.with_retries(call, |_, bytes| {
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
        .await
    }

    /// Runs attempts of `call` until one succeeds and `finish` accepts its body, or the
    /// retry policy stops. A body `finish` rejects (cut short) is retried like a drop.
    async fn with_retries<T>(
        &self,
        call: &Call,
        finish: impl Fn(HeaderMap, bytes::Bytes) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let result = {
                // The permit first: the throttle then counts only requests really in flight.
                let _permit = self.inner.permits.acquire().await;
                self.inner.throttle.acquire().await;
                self.attempt(call).await
            };
            let err = match result.and_then(|(headers, bytes)| finish(headers, bytes)) {
                Ok(ok) => return Ok(ok),
                Err(err) => err,
            };
            match error_policy(&err, attempt, &self.inner.options.retry) {
                Retry::Stop if attempt == 0 => return Err(err),
                Retry::Stop => {
                    return Err(Error::GaveUp {
                        attempts: attempt + 1,
                        last: Box::new(err),
                    });
                }
                Retry::After(delay) => {
                    tracing::debug!(error = %err, attempt, ?delay, "retrying ADO request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, call: &Call) -> Result<(HeaderMap, bytes::Bytes)> {
        let url = self.url(call);
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), &url)
            .header(reqwest::header::AUTHORIZATION, self.inner.auth.clone());
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                self.inner.throttle.finish(None);
                return Err(transport(&url, e));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.inner.throttle.finish(Some(&headers));
        if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || status == StatusCode::NON_AUTHORITATIVE_INFORMATION
            || status.is_redirection()
        {
            // ADO answers a bad PAT with 401, a missing scope with 401/403, and without
            // the suppress header with 203 + a sign-in page or a 302 to it.
            return Err(Error::Unauthorized {
                url,
                status: status.as_u16(),
                scope: call.scope,
            });
        }
        if status == StatusCode::NOT_FOUND {
            return Err(Error::NotFound { url });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                url,
                retry_after: retry_after(&headers),
            });
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::Status {
                url,
                status: status.as_u16(),
                body: text.chars().take(512).collect(),
            });
        }
        let bytes = response.bytes().await.map_err(|e| transport(&url, e))?;
        Ok((headers, bytes))
    }

    /// The full URL of `call`, query included (never credentials).
    #[must_use]
    pub fn url(&self, call: &Call) -> String {
        let mut url = self.inner.org.service_base(call.service);
        url.push_str(&call.path);
        if !call.query.is_empty() {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &call.query {
                serializer.append_pair(k, v);
            }
            url.push('?');
            url.push_str(&serializer.finish());
        }
        url
    }
}

fn transport(url: &str, err: reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::Timeout {
            url: url.to_owned(),
        }
    } else {
        Error::Connection {
            url: url.to_owned(),
            source: err.without_url(),
        }
    }
}

fn continuation(headers: &HeaderMap, body: &Value) -> Option<String> {
    let from_header = headers
        .get(CONTINUATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let from_body = body
        .get("continuationToken")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    from_header.or(from_body).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pat_never_prints_itself() {
        let pat = Pat::new("hunter2-very-secret");
        assert_eq!(format!("{pat:?}"), "Pat(<redacted>)");
        let header = pat.header().unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("hunter2"));
    }

    #[test]
    fn the_url_encodes_the_query() {
        let org = OrgUrl::parse("https://dev.azure.com/acme").unwrap();
        let client = Client::new(org, &Pat::new("x"), ClientOptions::default()).unwrap();
        let call = Call::get(
            Service::Release,
            "/p/_apis/release/releases",
            Scope::Release,
        )
        .param("$top", "100")
        .param("tagFilter", "a,b c");
        assert_eq!(
            client.url(&call),
            "https://vsrm.dev.azure.com/acme/p/_apis/release/releases?%24top=100&tagFilter=a%2Cb+c"
        );
    }

    #[test]
    fn the_continuation_token_comes_from_the_header_or_else_the_body() {
        let mut headers = HeaderMap::new();
        let body = serde_json::json!({"continuationToken": "b"});
        assert_eq!(continuation(&headers, &body).as_deref(), Some("b"));
        headers.insert(CONTINUATION_HEADER, HeaderValue::from_static("h"));
        assert_eq!(continuation(&headers, &body).as_deref(), Some("h"));
        assert_eq!(
            continuation(
                &HeaderMap::new(),
                &serde_json::json!({"continuationToken": ""})
            ),
            None
        );
    }

    #[test]
    fn missing_scopes_are_named_as_ado_names_them() {
        let err = Error::Unauthorized {
            url: "https://dev.azure.com/acme/_apis/wit/wiql".into(),
            status: 401,
            scope: Scope::WorkItems,
        };
        assert!(err.to_string().contains("\"Work Items (Read)\" scope"));
    }
}
