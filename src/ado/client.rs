//! The ADO HTTP client: PAT or Entra ID auth, bounded concurrency, the shared throttle,
//! retries, and typed errors that name what failed (and which scope is missing) without
//! the credentials.
//!
//! One [`Client`] per organization: its semaphore bounds requests in flight and its
//! [`Throttle`] paces all of them. Paging lives in `paging.rs`, kinds in `kinds/`.
//!
//! A [`Credential`] is a PAT (basic auth) or a service principal ([`ServicePrincipal`], a
//! bearer token shared by every organization's client). A bearer token is replaced before
//! it expires; one ADO refuses before then (revoked, or a clock ahead of ours) is replaced
//! once and the request sent again at once, so no request is lost to it.
//!
//! What every HTTP client shares comes from `crate::http`: bodies are read in chunks up to
//! a cap (64 MiB unless a [`Call`] sets its own), server text in errors is scrubbed of
//! secrets and cut to one line, delay headers are clamped, and each exchange is logged at
//! `debug` (method, path, status, elapsed time; never the query or a header). A 404 keeps
//! ADO's typed error key (`typeKey`), so that each kind can tell "this parent has none"
//! from a 404 that says nothing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;

pub use super::entra::{ServicePrincipal, ServicePrincipalConfig};
pub use super::error::{Error, Result, Scope};
use super::error::{ado_error_text, ado_type_key, not_found_detail, transport};
use super::org::{OrgUrl, Service};
use super::retry::{Retry, RetryConfig, error_policy};
use super::throttle::Throttle;
use crate::http::token::AccessToken;
use crate::http::{self, BodyError};

/// The response header ADO puts the next page's token in.
pub const CONTINUATION_HEADER: &str = "x-ms-continuationtoken";

/// A personal access token. It never prints itself (`Debug` shows `Pat(<redacted>)`), and
/// it registers itself and its base64 forms with `crate::secrets`, so that a server echoing
/// the `Authorization` header back is scrubbed wherever the echo goes.
#[derive(Clone)]
pub struct Pat(String);

impl Pat {
    /// Wraps (and registers for scrubbing) a token read from the environment or a secret store.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        crate::secrets::register_pat(&token);
        Pat(token)
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

/// How a client signs its requests.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A personal access token (basic auth).
    Pat(Pat),
    /// An Entra ID service principal (a bearer token for the Azure DevOps resource).
    ServicePrincipal(ServicePrincipal),
}

impl From<Pat> for Credential {
    fn from(pat: Pat) -> Self {
        Credential::Pat(pat)
    }
}

impl From<ServicePrincipal> for Credential {
    fn from(principal: ServicePrincipal) -> Self {
        Credential::ServicePrincipal(principal)
    }
}

/// The `Authorization` a client sends: a fixed header, or a token cache's current token.
enum Auth {
    Basic(HeaderValue),
    Bearer(ServicePrincipal),
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
    /// The largest response body read, unless a [`Call`] sets its own
    /// ([`Call::max_body`]); a bigger answer fails its call (and its listing).
    pub max_body_bytes: usize,
    /// The most pages one listing follows before it is called endless and reported
    /// incomplete (`paging::MAX_PAGES` by default).
    pub max_pages: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            concurrency: 16,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            max_body_bytes: http::DEFAULT_MAX_BODY_BYTES,
            max_pages: super::paging::MAX_PAGES,
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
    max_body: Option<usize>,
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
            max_body: None,
        }
    }

    /// A POST with a JSON body: reads ADO exposes as POST (WIQL, batches), and creating a
    /// service-hook subscription (a retried create may duplicate it; `hooks sync --prune`
    /// removes duplicates).
    #[must_use]
    pub fn post(service: Service, path: impl Into<String>, scope: Scope, body: Value) -> Self {
        Call {
            method: Method::POST,
            body: Some(body),
            ..Call::get(service, path, scope)
        }
    }

    /// A PUT with a JSON body: replaces a resource (a service-hook subscription).
    #[must_use]
    pub fn put(service: Service, path: impl Into<String>, scope: Scope, body: Value) -> Self {
        Call {
            method: Method::PUT,
            body: Some(body),
            ..Call::get(service, path, scope)
        }
    }

    /// A DELETE (send it with [`Client::send_text`]: ADO answers 204 with no body).
    #[must_use]
    pub fn delete(service: Service, path: impl Into<String>, scope: Scope) -> Self {
        Call {
            method: Method::DELETE,
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

    /// Sets (or replaces) a field of the JSON body, for POST reads that page in the body
    /// (`pagesbatch`'s `continuationToken`). A call without an object body gets one.
    pub fn set_body_field(&mut self, key: &str, value: Value) {
        match &mut self.body {
            Some(Value::Object(map)) => {
                map.insert(key.to_owned(), value);
            }
            other => {
                let mut map = serde_json::Map::new();
                map.insert(key.to_owned(), value);
                *other = Some(Value::Object(map));
            }
        }
    }

    /// The scope the endpoint needs.
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Sets this call's cap on the response body, for an endpoint known to answer big.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
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
    auth: Auth,
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
            .field("auth", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `org`, authenticating with `pat`.
    pub fn new(org: OrgUrl, pat: &Pat, options: ClientOptions) -> Result<Self> {
        Self::with_credential(org, Credential::Pat(pat.clone()), options)
    }

    /// A client for `org`, authenticating with `credential`.
    pub fn with_credential(
        org: OrgUrl,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self> {
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
        let http = crate::http::tls::trust_bundled_roots(reqwest::Client::builder())
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
                auth: match credential {
                    Credential::Pat(pat) => Auth::Basic(pat.header()?),
                    Credential::ServicePrincipal(principal) => Auth::Bearer(principal),
                },
                permits: Semaphore::new(options.concurrency.max(1)),
                throttle: Throttle::with_max_pause(options.retry.max_wait),
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

    /// The most pages one listing follows (`ClientOptions::max_pages`).
    #[must_use]
    pub fn max_pages(&self) -> usize {
        self.inner.options.max_pages.max(1)
    }

    /// Sends `call` with throttle, concurrency bound and retries; parses a JSON body.
    pub async fn send(&self, call: &Call) -> Result<Page> {
        let (headers, body) = self
            .with_retries(call, |headers, bytes| {
                serde_json::from_slice::<Value>(&bytes)
                    .map(|body| (headers, body))
                    .map_err(|source| Error::BadBody {
                        url: self.url(call),
                        source: source.into(),
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
        let mut refreshed = false;
        loop {
            let mut used = None;
            let result = match self.authorization(call.scope).await {
                Ok((header, token)) => {
                    used = token;
                    // The permit first: the throttle then counts only requests really in flight.
                    let _permit = self.inner.permits.acquire().await;
                    self.inner.throttle.acquire().await;
                    self.attempt(call, header).await
                }
                Err(err) => Err(err),
            };
            let err = match result.and_then(|(headers, bytes)| finish(headers, bytes)) {
                Ok(ok) => return Ok(ok),
                Err(err) => err,
            };
            // A bearer token refused before its time: replace it once and send again at once.
            if let (Some(token), Auth::Bearer(principal), false) =
                (&used, &self.inner.auth, refreshed)
                && matches!(err, Error::Unauthorized { status: 401, .. })
            {
                tracing::info!(path = %http::path_of(&self.url(call)), "ADO refused the Entra ID token; fetching a new one");
                principal.forget(token).await;
                refreshed = true;
                continue;
            }
            match error_policy(&err, attempt, &self.inner.options.retry) {
                Retry::Stop if attempt == 0 => return Err(err),
                Retry::Stop => {
                    return Err(Error::GaveUp {
                        attempts: attempt + 1,
                        last: Box::new(err),
                    });
                }
                Retry::After(delay) => {
                    if matches!(err, Error::RateLimited { .. }) {
                        http::waits::record(http::waits::Api::Ado, delay);
                    }
                    tracing::debug!(error = %http::error_chain(&err), attempt, ?delay, "retrying ADO request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The `Authorization` header for a request needing `scope`, and the bearer token in it.
    async fn authorization(&self, scope: Scope) -> Result<(HeaderValue, Option<AccessToken>)> {
        match &self.inner.auth {
            Auth::Basic(header) => Ok((header.clone(), None)),
            Auth::Bearer(principal) => {
                let token = principal.token(scope).await?;
                let mut header = HeaderValue::from_str(&token.header_value())
                    .map_err(|_| Error::InvalidToken)?;
                header.set_sensitive(true);
                Ok((header, Some(token)))
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        authorization: HeaderValue,
    ) -> Result<(HeaderMap, bytes::Bytes)> {
        let url = self.url(call);
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), &url)
            .header(reqwest::header::AUTHORIZATION, authorization);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        let log = |status: Option<StatusCode>| {
            http::log_exchange(
                call.method.as_str(),
                &url,
                status.map(|s| s.as_u16()),
                started.elapsed(),
            );
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                self.inner.throttle.finish(None);
                log(None);
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
            log(Some(status));
            // ADO answers a bad PAT with 401, a missing scope with 401/403, and without
            // the suppress header with 203 + a sign-in page or a 302 to it.
            return Err(Error::Unauthorized {
                url,
                status: status.as_u16(),
                scope: call.scope,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            log(Some(status));
            return Err(Error::RateLimited {
                url,
                retry_after: http::delay::retry_after(&headers, std::time::SystemTime::now()),
            });
        }
        if !status.is_success() {
            let body = http::read_prefix(response, http::ERROR_BODY_BYTES).await;
            log(Some(status));
            if status == StatusCode::NOT_FOUND {
                let (type_key, detail) = not_found_detail(&body);
                return Err(Error::NotFound {
                    url,
                    type_key,
                    detail,
                });
            }
            return Err(Error::Status {
                url,
                status: status.as_u16(),
                body: ado_error_text(&body),
                type_key: ado_type_key(&body),
            });
        }
        let limit = call.max_body.unwrap_or(self.inner.options.max_body_bytes);
        let body = http::read_capped(response, limit).await;
        log(Some(status));
        match body {
            Ok(bytes) => Ok((headers, bytes)),
            Err(BodyError::TooLarge { limit }) => Err(Error::BodyTooLarge { url, limit }),
            Err(BodyError::Read(e)) => Err(transport(&url, e)),
        }
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
}
