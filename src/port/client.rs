//! The HTTP client for Port's REST API: `PortClient`, its options and its errors.
//!
//! It owns transport concerns: the access token (fetched, cached, refreshed before expiry and
//! once on a 401), the stable `User-Agent` that Port records as each entity's `$datasource`,
//! the one send loop (every retry decision made by `retry::retry_policy`), and error text that
//! never holds a secret. How catalog calls become Port requests (batching to Port's limits,
//! per-entity outcomes, paged listing) is `catalog`'s; what to write and in which order is the
//! reconciler's; credentials and tokens are `auth`'s.
//!
//! Errors (`Error`, `HttpError`) are `error`'s; they are re-exported here.
//!
//! Ownership: the `User-Agent` is `adoport/{version}/{datasource}`, so the entities we own are
//! the ones whose `$datasource` starts with `adoport/` and ends with `/{datasource}`, whatever
//! version wrote them. That is what `list_owned` asks Port for.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Mutex;

use super::auth::{
    AccessToken, Credentials, DEFAULT_TOKEN_SKEW, EU_BASE_URL, MIN_TOKEN_LIFETIME, TokenReply,
};
pub use super::error::{Error, HttpError, Result};
use super::retry::{self, Attempt, Outcome, Retry, RetryConfig};
use crate::http::{self, BodyError};

/// Port's limit on entities per bulk upsert.
pub const MAX_BULK_ENTITIES: usize = 20;
/// Port's limit on identifiers per bulk delete.
pub const MAX_BULK_DELETE: usize = 100;
/// Port's limit on a request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The most pages one paged listing may take before it is called endless and fails: at
/// the default 5,000 entities a page, 50 million entities.
pub const MAX_LIST_PAGES: usize = 10_000;
/// Everything needed to talk to Port; `new` gives Port's defaults for the rest.
#[derive(Clone, Debug)]
pub struct PortClientOptions {
    /// `https://api.getport.io` (EU, default), `https://api.us.getport.io` (US), or any URL
    /// (an emulator). Routes are appended under `/v1`.
    pub base_url: String,
    /// Client id and secret.
    pub credentials: Credentials,
    /// The datasource id our writes carry and our listing filters on.
    pub datasource: String,
    /// Retry limits.
    pub retry: RetryConfig,
    /// Per-attempt timeout, connection included.
    pub request_timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// How long before expiry a token is refreshed.
    pub token_skew: Duration,
    /// Largest body sent (Port's limit is 1 MiB).
    pub max_body_bytes: usize,
    /// Entities asked for per listing page.
    pub list_page_size: usize,
    /// The most pages one listing may take before it fails as endless.
    pub max_list_pages: usize,
    /// The largest response body read (bigger answers fail the call unread).
    pub max_response_bytes: usize,
    /// The shortest lifetime a token is used for, whatever Port's `expiresIn` says.
    pub min_token_lifetime: Duration,
}

impl PortClientOptions {
    /// Options for the EU API with Port's limits and our retry defaults.
    pub fn new(credentials: Credentials, datasource: impl Into<String>) -> Self {
        PortClientOptions {
            base_url: EU_BASE_URL.to_owned(),
            credentials,
            datasource: datasource.into(),
            retry: RetryConfig::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            token_skew: DEFAULT_TOKEN_SKEW,
            max_body_bytes: MAX_BODY_BYTES,
            list_page_size: 5000,
            max_list_pages: MAX_LIST_PAGES,
            max_response_bytes: http::DEFAULT_MAX_BODY_BYTES,
            min_token_lifetime: MIN_TOKEN_LIFETIME,
        }
    }

    /// The same options against another base URL.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}

/// The `port` catalog: Port's REST API, opened for one datasource.
pub struct PortClient {
    http: reqwest::Client,
    pub(crate) base: Url,
    credentials: Credentials,
    pub(crate) datasource: String,
    retry: RetryConfig,
    token_skew: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) list_page_size: usize,
    pub(crate) max_list_pages: usize,
    max_response_bytes: usize,
    min_token_lifetime: Duration,
    token: Mutex<Option<AccessToken>>,
}

impl fmt::Debug for PortClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortClient")
            .field("base", &self.base.as_str())
            .field("datasource", &self.datasource)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A successful answer: status, headers and the whole body.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

/// The version slot of a datasource template (see [`ownership`]).
pub const VERSION_SLOT: &str = "{version}";

/// The `User-Agent` Port records as `$datasource` for everything we write.
pub fn user_agent(datasource: &str) -> String {
    let (prefix, suffix) = ownership(datasource);
    format!("{prefix}{}{suffix}", env!("CARGO_PKG_VERSION"))
}

/// The `$datasource` prefix and suffix that mark an entity as ours, whatever version wrote it.
///
/// A plain id `ID` writes as `adoport/{version}/ID`. A template with one `{version}` slot
/// is written verbatim around our version: `port-ocean/azure-devops/{version}/my-ado/exporter`
/// is how a team adopts the entities of Port's own integration when it migrates (they stay
/// in that datasource, and stale ones are pruned like our own).
pub fn ownership(datasource: &str) -> (String, String) {
    match datasource.split_once(VERSION_SLOT) {
        Some((prefix, suffix)) => (prefix.to_owned(), suffix.to_owned()),
        None => ("adoport/".to_owned(), format!("/{datasource}")),
    }
}

/// Whether a datasource id fits in the `User-Agent` without blurring ownership. A plain id
/// has no `/`, so the suffix `/{datasource}` can only match our own id; a template has one
/// `{version}` slot between a prefix ending in `/` and a suffix starting with `/`.
pub fn is_valid_datasource(id: &str) -> bool {
    let allowed = |s: &str, slash: bool| {
        s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_' | '-' | ':' | '@')
                || (slash && c == '/')
        })
    };
    if id.is_empty() || id.len() > 100 {
        return false;
    }
    match id.split_once(VERSION_SLOT) {
        None => allowed(id, false),
        Some((prefix, suffix)) => {
            prefix.ends_with('/')
                && prefix.len() > 1
                && suffix.starts_with('/')
                && suffix.len() > 1
                && allowed(prefix, true)
                && allowed(suffix, true)
        }
    }
}

impl PortClient {
    /// A client for `options`. Installs the ring TLS provider for the process if none is.
    pub fn new(options: PortClientOptions) -> Result<Self> {
        // Fails only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if !is_valid_datasource(&options.datasource) {
            return Err(Error::InvalidDatasource(options.datasource));
        }
        let base = Url::parse(options.base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.password().is_none()
                    && u.username().is_empty()
                    && !u.cannot_be_a_base()
            })
            .ok_or(Error::BaseUrl)?;
        let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if base.scheme() == "http" && !loopback {
            tracing::warn!(
                host = base.host_str().unwrap_or(""),
                "the Port base URL is plain http: the credentials and token travel unencrypted"
            );
        }
        let http = crate::http::tls::trust_bundled_roots(reqwest::Client::builder())
            .user_agent(user_agent(&options.datasource))
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(Error::ClientBuild)?;
        Ok(PortClient {
            http,
            base,
            credentials: options.credentials,
            datasource: options.datasource,
            retry: options.retry,
            token_skew: options.token_skew,
            max_body_bytes: options.max_body_bytes.max(1),
            list_page_size: options.list_page_size.clamp(1, 10_000),
            max_list_pages: options.max_list_pages.max(1),
            max_response_bytes: options.max_response_bytes.max(1),
            min_token_lifetime: options.min_token_lifetime,
            token: Mutex::new(None),
        })
    }

    /// The URL of a route: `segments` are path segments under `/v1`, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// A token that is fresh now, fetched (once, for all waiting callers) when needed.
    async fn token(&self) -> Result<AccessToken> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh(Instant::now())) {
            return Ok(token.clone());
        }
        let url = self.url(&["auth", "access_token"], &[]);
        let body = self
            .credentials
            .token_request_body()
            .to_string()
            .into_bytes();
        let fetched_at = Instant::now();
        let reply = match self
            .request(Method::POST, url.clone(), Some(body), false)
            .await
        {
            Ok(reply) => reply,
            Err(e)
                if matches!(
                    e.status(),
                    Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                ) =>
            {
                return Err(Error::CredentialsRefused(Box::new(e)));
            }
            Err(e) => return Err(e),
        };
        let parsed: TokenReply = decode(&Method::POST, &url, &reply.body)?;
        let token = AccessToken::new(parsed, fetched_at, self.token_skew, self.min_token_lifetime);
        tracing::debug!("fetched a Port access token");
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token, so the next call fetches another.
    async fn forget_token(&self, used: &AccessToken) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.same_as(used)) {
            *cached = None;
        }
    }

    /// Sends a JSON request with the bearer token, retrying as `retry_policy` says.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Reply> {
        self.request(method, url, body, true).await
    }

    /// The one send loop: each failed attempt goes to `retry_policy`, which says whether to
    /// stop, wait and resend, or refresh the token (authenticated requests, once) and resend.
    async fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        authenticated: bool,
    ) -> Result<Reply> {
        let mut refreshed = false;
        let mut attempts = 0;
        loop {
            let token = match authenticated {
                // Boxed: fetching a token is itself a request.
                true => Some(Box::pin(self.token()).await?),
                false => None,
            };
            attempts += 1;
            let (err, headers) = match self
                .attempt(method.clone(), url.clone(), body.clone(), token.as_ref())
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let attempt = Attempt {
                number: attempts,
                may_refresh_token: authenticated && !refreshed,
            };
            let decision = outcome_of(&err, headers.as_ref()).map_or(Retry::Stop, |outcome| {
                retry::retry_policy(outcome, attempt, &self.retry, SystemTime::now())
            });
            match decision {
                Retry::Stop => return Err(give_up(method, &url, attempts, err)),
                Retry::After(wait) => {
                    if matches!(&err, Error::Status(h) if h.status == reqwest::StatusCode::TOO_MANY_REQUESTS)
                    {
                        http::waits::record(http::waits::Api::Port, wait);
                    }
                    tracing::warn!(%method, path = %http::path_of(url.as_str()), attempt = attempts, wait_ms = wait.as_millis() as u64, error = %http::error_chain(&err), "retrying a Port request");
                    tokio::time::sleep(wait).await;
                }
                Retry::RefreshToken => {
                    tracing::info!(%method, path = %http::path_of(url.as_str()), "Port refused the access token; fetching a new one");
                    refreshed = true;
                    if let Some(token) = &token {
                        self.forget_token(token).await;
                    }
                }
            }
        }
    }

    /// One attempt: a success reply, or the error with the answer's headers (if any).
    async fn attempt(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        token: Option<&AccessToken>,
    ) -> std::result::Result<Reply, (Error, Option<HeaderMap>)> {
        let shown_url = url.to_string();
        let transport = |source: reqwest::Error| Error::Transport {
            method: method.clone(),
            url: shown_url.clone(),
            source: source.without_url(),
        };
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&token.header_value())
                .map_err(|_| (Error::BadToken, None))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let started = std::time::Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                http::log_exchange(method.as_str(), &shown_url, None, started.elapsed());
                return Err((transport(e), None));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = http::read_prefix(response, http::ERROR_BODY_BYTES).await;
            http::log_exchange(
                method.as_str(),
                &shown_url,
                Some(status.as_u16()),
                started.elapsed(),
            );
            let err = HttpError::new(method, shown_url, status, &headers, &body);
            return Err((Error::Status(Box::new(err)), Some(headers)));
        }
        let body = http::read_capped(response, self.max_response_bytes).await;
        http::log_exchange(
            method.as_str(),
            &shown_url,
            Some(status.as_u16()),
            started.elapsed(),
        );
        match body {
            Ok(body) => Ok(Reply {
                status,
                body: body.to_vec(),
            }),
            Err(BodyError::TooLarge { limit }) => Err((
                Error::BodyTooLarge {
                    method,
                    url: shown_url,
                    limit,
                },
                Some(headers),
            )),
            Err(BodyError::Read(e)) => Err((transport(e), Some(headers))),
        }
    }
}

/// What the retry policy sees of a failed attempt (`None`: not retryable at all).
fn outcome_of<'h>(err: &Error, headers: Option<&'h HeaderMap>) -> Option<Outcome<'h>> {
    static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
    match err {
        Error::Status(h) => Some(Outcome::Status(
            h.status,
            headers.unwrap_or_else(|| EMPTY.get_or_init(HeaderMap::new)),
        )),
        Error::Transport { source, .. }
            if source.is_timeout()
                || source.is_connect()
                || source.is_request()
                || source.is_body() =>
        {
            Some(Outcome::Transport)
        }
        _ => None,
    }
}

/// The final error of a request: the failure itself after one attempt, else `GaveUp`.
fn give_up(method: Method, url: &Url, attempts: u32, last: Error) -> Error {
    if attempts <= 1 {
        return last;
    }
    Error::GaveUp {
        method,
        url: url.to_string(),
        attempts,
        last: Box::new(last),
    }
}

/// Parses a success body.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    method: &Method,
    url: &Url,
    body: &[u8],
) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        method: method.clone(),
        url: url.to_string(),
        source: source.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_version_and_the_datasource() {
        assert_eq!(
            user_agent("team-a"),
            format!("adoport/{}/team-a", env!("CARGO_PKG_VERSION"))
        );
        assert!(!is_valid_datasource("a/b") && is_valid_datasource("org:team_a-1.x@y"));
    }

    #[test]
    fn a_datasource_template_adopts_another_integrations_datasource() {
        let template = "port-ocean/azure-devops/{version}/my-ado/exporter";
        assert!(is_valid_datasource(template));
        assert_eq!(
            user_agent(template),
            format!(
                "port-ocean/azure-devops/{}/my-ado/exporter",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            ownership(template),
            ("port-ocean/azure-devops/".into(), "/my-ado/exporter".into())
        );
        // The slot must stand between slashes, once: anything else could match strangers.
        for bad in [
            "{version}/x",
            "x/{version}",
            "a{version}/b",
            "a/{version}/b/{version}",
            "a/{version} /b",
        ] {
            assert!(!is_valid_datasource(bad), "{bad}");
        }
    }
}
