//! The errors of Port API calls, and `HttpError`: an error answer reduced to what is safe
//! to show (allow-listed headers, Port's code and message, the body on one scrubbed line).
//! The client (`client`) raises them and re-exports them.

use std::fmt;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::retry;
use crate::http::{self, BadJson};

/// Response headers worth showing in an error: request ids and rate-limit state.
const SHOWN_HEADERS: [&str; 6] = [
    "x-trace-id",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-period",
];

/// Errors of Port API calls. None of them can hold a secret: every text a server sent is
/// scrubbed (`crate::secrets`) and cut, and only allow-listed headers are kept.
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
        /// What did not parse (scrubbed and cut: serde quotes the server's values).
        #[source]
        source: BadJson,
    },
    /// An answer's body was larger than the cap for the call; it was not read further.
    #[error("{method} {url} answered with a body over the {limit}-byte cap")]
    BodyTooLarge {
        /// The request's method.
        method: Method,
        /// The request's URL.
        url: String,
        /// The cap, in bytes.
        limit: usize,
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
    /// A page with a cursor to a next page brought no entity not already listed: following
    /// cursors that make no progress would never end.
    #[error("page {page} of the listing brought nothing new but pointed to another page")]
    CursorStalled {
        /// 1-based page number.
        page: usize,
    },
    /// The listing still pointed to a next page after the most pages allowed.
    #[error("the listing did not end within {limit} pages")]
    TooManyPages {
        /// The most pages allowed (`PortClientOptions::max_list_pages`).
        limit: usize,
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
    /// The body, scrubbed of secrets, on one line of at most 200 characters.
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
    /// The safe form of an error answer: the body's fields read before anything is cut,
    /// then every server string scrubbed of secrets and cut to one line.
    pub(super) fn new(
        method: Method,
        url: String,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        let shown = SHOWN_HEADERS
            .iter()
            .filter_map(|name| {
                let value = headers.get(*name)?;
                let value = String::from_utf8_lossy(value.as_bytes());
                Some(((*name).to_owned(), http::one_line(&value, 100)))
            })
            .collect();
        let parsed = serde_json::from_slice::<Value>(body).ok();
        let field = |name: &str, max: usize| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name)?.as_str().map(|s| http::one_line(s, max)))
        };
        HttpError {
            method,
            url,
            status,
            headers: shown,
            code: field("error", 100),
            message: field("message", http::MAX_ERROR_TEXT),
            body: http::error_text(body),
        }
    }

    /// The `message` of a `{ok:false, error, message}` body, else the body itself.
    pub(crate) fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn an_http_error_keeps_allowed_headers_and_scrubs_an_echoed_secret() {
        crate::secrets::register("s3cr3t-value");
        crate::secrets::register("tok-999");
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
        assert!(err.body.chars().count() <= http::MAX_ERROR_TEXT);
        assert!(err.message().chars().count() <= http::MAX_ERROR_TEXT);
    }
}
