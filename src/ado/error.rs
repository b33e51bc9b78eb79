//! The errors of an ADO call, the PAT scopes they name, and how an error answer becomes one:
//! a 404 keeps ADO's typed error key (`typeKey`) so each kind can tell "this parent has
//! none" from a 404 that says nothing; every other body is reduced to one scrubbed line.
//! The client (`client`) raises them; `kinds::absent` decides which 404s mean "none".

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::http::{self, BadJson};

/// Errors of one ADO call (after retries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401/403, or a redirect to the sign-in page: the PAT (or the service principal) is
    /// bad or lacks a scope.
    #[error(
        "ADO refused {url} (HTTP {status}): the PAT or service principal is invalid or expired, or lacks the \"{scope}\" scope"
    )]
    Unauthorized {
        /// The URL (no credentials).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The scope the endpoint needs.
        scope: Scope,
    },
    /// The Entra ID token endpoint refused the service principal's credentials (a wrong
    /// tenant, client id or secret, or an expired secret).
    #[error(
        "Entra ID refused the service principal at {url} (HTTP {status}): {detail}; check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
    )]
    CredentialsRefused {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Entra ID's error code and message, scrubbed, on one line.
        detail: String,
        /// The scope of the ADO request that needed the token.
        scope: Scope,
    },
    /// 404: each call site decides, from ADO's typed error key, whether it means "none".
    #[error("{url} was not found (HTTP 404){detail}")]
    NotFound {
        /// The URL.
        url: String,
        /// The `typeKey` of ADO's JSON error body, when the body is one.
        type_key: Option<String>,
        /// What the body said, scrubbed and cut (starts with `": "` or `" with "`).
        detail: String,
    },
    /// 429 after the retry budget.
    #[error("ADO rate-limited {url} (HTTP 429)")]
    RateLimited {
        /// The URL.
        url: String,
        /// The `Retry-After` ADO sent.
        retry_after: Option<Duration>,
    },
    /// Any other unsuccessful status; `body` is ADO's message (or the body's text), scrubbed
    /// of secrets, on one line of at most 200 characters.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
        /// The `typeKey` of ADO's JSON error body, when the body is one (a 400 that says
        /// "Advanced Security is not enabled here" is told apart from other 400s by it).
        type_key: Option<String>,
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
        /// The parse error (scrubbed and cut).
        #[source]
        source: BadJson,
    },
    /// A 2xx whose body is larger than the call's cap: not read further, not retried.
    #[error("the response of {url} is larger than the {limit}-byte cap for it")]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The cap, in bytes.
        limit: usize,
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
    /// The token Entra ID issued cannot be sent in a header (control characters).
    #[error("the Entra ID token contains characters that cannot be sent in an HTTP header")]
    InvalidToken,
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

    /// Whether ADO answered 404 with a JSON error body whose `typeKey` is one of `keys`:
    /// the only 404 a kind may read as "none" (see `kinds::absent`).
    #[must_use]
    pub fn is_not_found_as(&self, keys: &[&str]) -> bool {
        matches!(self.root(), Error::NotFound { type_key: Some(key), .. } if keys.contains(&key.as_str()))
    }

    /// Whether ADO answered `status` with a JSON error body whose `typeKey` is one of `keys`
    /// (for the few non-404 answers an endpoint documents as "nothing here", see
    /// `kinds::absent`).
    #[must_use]
    pub fn is_status_as(&self, status: u16, keys: &[&str]) -> bool {
        matches!(self.root(), Error::Status { status: s, type_key: Some(key), .. }
            if *s == status && keys.contains(&key.as_str()))
    }

    /// The scope an ADO refusal (401/403, sign-in redirect) names, if that is the error; a
    /// refused service principal counts as a refusal of the request that needed its token.
    #[must_use]
    pub fn refused_scope(&self) -> Option<Scope> {
        match self.root() {
            Error::Unauthorized { scope, .. } | Error::CredentialsRefused { scope, .. } => {
                Some(*scope)
            }
            _ => None,
        }
    }
}

/// The PAT scope an endpoint needs, named as ADO's token page names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
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
    /// Test runs, results and code coverage.
    TestManagement,
    /// Pipeline environments and their deployment records.
    Environment,
    /// Service-hook subscriptions (listing, creating, updating and deleting them).
    ServiceHooks,
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
            Scope::TestManagement => "Test Management (Read)",
            Scope::Environment => "Environment (Read & manage)",
            Scope::ServiceHooks => "Service Hooks (Read & write)",
        })
    }
}

pub(super) fn transport(url: &str, err: reqwest::Error) -> Error {
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

/// ADO's JSON error body: `{"$id", "innerException", "message", "typeName", "typeKey", …}`.
fn ado_error(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let (key, message) = (field("typeKey"), field("message"));
    (key.is_some() || message.is_some()).then_some((key, message))
}

/// The `typeKey` of ADO's JSON error body, if the body is one (cut to one short line).
pub(super) fn ado_type_key(body: &[u8]) -> Option<String> {
    ado_error(body).and_then(|(key, _)| key.map(|k| http::one_line(&k, 100)))
}

/// An error body as one line: ADO's `message` when it is ADO's JSON error, else the text.
pub(super) fn ado_error_text(body: &[u8]) -> String {
    match ado_error(body) {
        Some((_, Some(message))) => http::one_line(&message, http::MAX_ERROR_TEXT),
        _ => http::error_text(body),
    }
}

/// A 404's typed key (only from ADO's JSON error body) and the words that explain it.
pub(super) fn not_found_detail(body: &[u8]) -> (Option<String>, String) {
    match ado_error(body) {
        Some((key, message)) => {
            let key = key.map(|k| http::one_line(&k, 100));
            let mut detail = String::from(": ADO says ");
            detail.push_str(key.as_deref().unwrap_or("(no typeKey)"));
            if let Some(message) = message {
                detail.push_str(": ");
                detail.push_str(&http::one_line(&message, http::MAX_ERROR_TEXT));
            }
            (key, detail)
        }
        None if body.iter().all(u8::is_ascii_whitespace) => (
            None,
            " with an empty body, not ADO's typed error".to_owned(),
        ),
        None => (
            None,
            format!(
                " with a body that is not ADO's typed error: {}",
                http::error_text(body)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_keeps_ados_type_key_and_nothing_else_passes_for_one() {
        let typed = br#"{"$id":"1","innerException":null,"message":"VS800075: The project with id 'p' does not exist.","typeName":"Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistException, Microsoft.TeamFoundation.Core.WebApi","typeKey":"ProjectDoesNotExistException","errorCode":0,"eventId":3000}"#;
        let (key, detail) = not_found_detail(typed);
        assert_eq!(key.as_deref(), Some("ProjectDoesNotExistException"));
        assert!(detail.contains("VS800075"), "{detail}");
        let (key, detail) = not_found_detail(b"<html><body>Page not found</body></html>");
        assert_eq!(key, None);
        assert!(detail.ends_with("Page not found"), "{detail}");
        let (key, detail) = not_found_detail(b"");
        assert_eq!(key, None);
        assert!(detail.contains("empty body"), "{detail}");
        let err = Error::NotFound {
            url: "u".into(),
            type_key: key,
            detail,
        };
        assert!(!err.is_not_found_as(&["ProjectDoesNotExistException"]));
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
