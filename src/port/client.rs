//! The HTTP client for Port's REST API: `PortClient`, its options and its errors.
//!
//! It owns transport concerns: the access token (fetched, cached, refreshed before expiry and
//! once on a 401), the stable `User-Agent` that Port records as each entity's `$datasource`,
//! the one send loop (every retry decision made by `retry::retry_policy`), and error text that
//! never holds a secret. How catalog calls become Port requests (batching to Port's limits,
//! per-entity outcomes, paged listing) is `catalog`'s; what to write and in which order is the
//! reconciler's; credentials and tokens are `auth`'s.
//!
//! Ownership: the `User-Agent` is `adoport/{version}/{datasource}`, so the entities we own are
//! the ones whose `$datasource` starts with `adoport/` and ends with `/{datasource}`, whatever
//! version wrote them. That is what `list_owned` asks Port for.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use super::auth::{AccessToken, Credentials, DEFAULT_TOKEN_SKEW, EU_BASE_URL, TokenReply};
use super::retry::{self, Attempt, Outcome, Retry, RetryConfig};

/// Port's limit on entities per bulk upsert.
pub const MAX_BULK_ENTITIES: usize = 20;
/// Port's limit on identifiers per bulk delete.
pub const MAX_BULK_DELETE: usize = 100;
/// Port's limit on a request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Error bodies are cut to this many characters in error text.
const MAX_ERROR_BODY_CHARS: usize = 512;
/// Response headers worth showing in an error: request ids and rate-limit state.
const SHOWN_HEADERS: [&str; 6] = [
    "x-trace-id",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-period",
];

/// Errors of Port API calls. None of them can hold a secret: bodies are scrubbed of the
/// credentials and the token, and only allow-listed headers are kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL is not an absolute `http(s)` URL.
    #[error("the Port base URL is not an absolute http(s) URL without credentials in it")]
    BaseUrl,
    /// The datasource id cannot be put into a `User-Agent`.
    #[error(
        "the datasource id {0:?} is invalid: use 1 to 100 letters, digits, '.', '_', '-', ':' or '@', or a template such as port-ocean/azure-devops/{{version}}/ID/exporter"
    )]
    InvalidDatasource(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("could not build the HTTP client")]
    ClientBuild(#[source] reqwest::Error),
    /// Port refused the client id and secret.
    #[error("Port refused the client credentials")]
    CredentialsRefused(#[source] Box<Error>),
    /// Port issued a token that cannot travel in an HTTP header.
    #[error("Port issued an access token that cannot be sent in a header")]
    BadToken,
    /// Port answered with an error status.
    #[error("a request to Port failed")]
    Status(#[source] Box<HttpError>),
    /// The request was sent but no answer came back (timeout, refused or dropped connection).
    #[error("{method} {url} got no answer")]
    Transport {
        /// The request's method.
        method: Method,
        /// The request's URL (never carries a secret).
        url: String,
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// Retries ran out; the last failure is the source.
    #[error("gave up on {method} {url} after {attempts} attempts")]
    GaveUp {
        /// The request's method.
        method: Method,
        /// The request's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        last: Box<Error>,
    },
    /// A success answer did not hold the JSON expected.
    #[error("{method} {url} answered with a body that is not the expected JSON")]
    Decode {
        /// The request's method.
        method: Method,
        /// The request's URL.
        url: String,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A page of a paged listing was cut short or malformed: the listing is not complete and
    /// must not be used.
    #[error("page {page} of the listing was truncated or malformed")]
    PageTruncated {
        /// 1-based page number.
        page: usize,
        /// What did not parse.
        #[source]
        source: Box<Error>,
    },
    /// Port handed back a cursor it had already given: following it would loop.
    #[error("page {page} of the listing repeated an earlier cursor")]
    CursorRepeated {
        /// 1-based page number.
        page: usize,
    },
    /// An entity could not be encoded as JSON.
    #[error("an entity could not be encoded as JSON")]
    Encode(#[source] serde_json::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status behind this error, if Port answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status(h) => Some(h.status),
            Error::GaveUp { last, .. } | Error::CredentialsRefused(last) => last.status(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (the client already did, up to its limit).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Status(h) => retry::is_retryable_status(h.status),
            Error::GaveUp { last, .. } => last.is_retryable(),
            _ => false,
        }
    }
}

/// An error answer from Port, reduced to what is safe and useful to show.
#[derive(Clone, Debug)]
pub struct HttpError {
    /// The request's method.
    pub method: Method,
    /// The request's URL (the token travels in a header, never in the URL).
    pub url: String,
    /// The answer's status.
    pub status: StatusCode,
    /// Allow-listed headers only (`x-trace-id`, rate-limit headers).
    pub headers: Vec<(String, String)>,
    /// Port's `error` code from a `{ok:false, error, message}` body, if any.
    pub code: Option<String>,
    /// Port's `message` from such a body, scrubbed and cut, if any.
    pub message: Option<String>,
    /// The body, scrubbed of secrets and cut to 512 characters.
    pub body: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} returned {}", self.method, self.url, self.status)?;
        for (name, value) in &self.headers {
            write!(f, "; {name}: {value}")?;
        }
        if !self.body.is_empty() {
            write!(f, "; body: {}", self.body)?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    fn new(
        method: Method,
        url: String,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &[&str],
    ) -> Self {
        let shown = SHOWN_HEADERS
            .iter()
            .filter_map(|name| {
                let value = headers.get(*name)?.to_str().ok()?;
                Some(((*name).to_owned(), cut(value, 100)))
            })
            .collect();
        let text = scrub(&String::from_utf8_lossy(body), secrets);
        let parsed = serde_json::from_str::<Value>(&text).ok();
        let field = |name: &str, max: usize| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name)?.as_str().map(|s| cut(s, max)))
        };
        let code = field("error", 100);
        let message = field("message", MAX_ERROR_BODY_CHARS);
        HttpError {
            method,
            url,
            status,
            headers: shown,
            code,
            message,
            body: cut(&text, MAX_ERROR_BODY_CHARS),
        }
    }

    /// The `message` of a `{ok:false, error, message}` body, else the body itself.
    pub(crate) fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.body)
    }
}

/// Replaces every occurrence of a secret (of a useful length) with `[redacted]`.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    out
}

/// The first `max` characters of `text`, with a marker when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}… [cut]", &text[..at]),
        None => text.to_owned(),
    }
}

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
        let http = reqwest::Client::builder()
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
        tracing::debug!(
            expires_in = parsed.expires_in,
            "fetched a Port access token"
        );
        let token = AccessToken::new(parsed, fetched_at, self.token_skew);
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
                    tracing::warn!(%method, %url, attempt = attempts, wait_ms = wait.as_millis() as u64, error = %error_chain(&err), "retrying a Port request");
                    tokio::time::sleep(wait).await;
                }
                Retry::RefreshToken => {
                    tracing::info!(%method, %url, "Port refused the access token; fetching a new one");
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
        let response = request.send().await.map_err(|e| (transport(e), None))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| (transport(e), Some(headers.clone())))?;
        if status.is_success() {
            return Ok(Reply {
                status,
                body: body.to_vec(),
            });
        }
        let [id, secret] = self.credentials.secrets();
        let mut secrets = vec![id, secret];
        if let Some(t) = token {
            secrets.push(t.expose());
        }
        let err = HttpError::new(method, shown_url, status, &headers, &body, &secrets);
        Err((Error::Status(Box::new(err)), Some(headers)))
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
        source,
    })
}

/// An error and its causes on one line, for a per-entity outcome.
pub(crate) fn error_chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_error_keeps_allowed_headers_and_scrubs_an_echoed_secret() {
        let mut headers = HeaderMap::new();
        headers.insert("x-trace-id", HeaderValue::from_static("trace-1"));
        headers.insert("set-cookie", HeaderValue::from_static("session=abc"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let body = format!(
            r#"{{"ok":false,"error":"bad","message":"got clientSecret s3cr3t-value and Bearer tok-999 {}"}}"#,
            "z".repeat(2_000)
        );
        let err = HttpError::new(
            Method::POST,
            "https://api.getport.io/v1/auth/access_token".into(),
            StatusCode::BAD_REQUEST,
            &headers,
            body.as_bytes(),
            &["s3cr3t-value", "tok-999"],
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("s3cr3t-value") && !text.contains("tok-999"),
            "{text}"
        );
        assert!(!text.contains("session=abc"), "{text}");
        assert!(text.contains("x-trace-id: trace-1") && text.contains("x-ratelimit-remaining: 0"));
        assert_eq!(
            err.code.as_deref(),
            Some("bad"),
            "read before the body is cut"
        );
        assert!(err.message().starts_with("got clientSecret [redacted]"));
        assert!(err.body.chars().count() <= MAX_ERROR_BODY_CHARS + 10);
    }

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
