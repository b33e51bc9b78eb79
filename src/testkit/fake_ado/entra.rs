//! A fake Entra ID tenant: the client-credentials token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`, form-encoded, as Microsoft documents it) and the
//! bearer tokens it issued, which the fake ADO server accepts beside the PAT until they
//! expire. Tokens are short-lived on purpose (the lifetime is the test's), and an expired
//! or revoked one is refused with ADO's 401, so that a client must renew its token before
//! it expires and once more when one is refused early.
//!
//! One [`FakeEntra`] may be shared by several fake servers (several organizations of one
//! tenant): a token any of them issued is good on all of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::lock;
use super::routes::json_response;

/// The scope a token for Azure DevOps is asked with.
const ADO_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/// A tenant with one application (client id and secret) that may sign in.
#[derive(Debug)]
pub struct FakeEntra {
    /// The tenant id the token endpoint answers for.
    pub tenant: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    lifetime: Mutex<Duration>,
    tokens: Mutex<HashMap<String, Instant>>,
    issued: Mutex<Vec<String>>,
    requests: AtomicU64,
}

impl FakeEntra {
    /// A tenant whose tokens live `lifetime` (stated as `expires_in`, and enforced).
    #[must_use]
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        lifetime: Duration,
    ) -> Self {
        FakeEntra {
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            lifetime: Mutex::new(lifetime),
            tokens: Mutex::new(HashMap::new()),
            issued: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
        }
    }

    /// Every token issued so far, in order (to prove none reaches text).
    #[must_use]
    pub fn issued(&self) -> Vec<String> {
        lock(&self.issued).clone()
    }

    /// Token requests received (answered or refused).
    #[must_use]
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Ends every token issued so far, as a revocation (or a clock ahead of the client's)
    /// would: the next request carrying one is refused with 401.
    pub fn expire_all(&self) {
        lock(&self.tokens).clear();
    }

    /// Whether `token` was issued here and is still alive.
    pub(super) fn accepts(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Answers a token request: the form body of `POST /{tenant}/oauth2/v2.0/token`.
    pub(super) fn answer(&self, tenant: &str, body: &[u8]) -> Response {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        if tenant != self.tenant {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("AADSTS90002: Tenant '{tenant}' not found."),
            );
        }
        if field("grant_type") != "client_credentials" {
            return refusal(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
        if field("client_id") != self.client_id {
            return refusal(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "AADSTS700016: Application with the identifier was not found in the directory.",
            );
        }
        if field("client_secret") != self.client_secret {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        if field("scope") != ADO_SCOPE {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
            );
        }
        let lifetime = *lock(&self.lifetime);
        let token = format!(
            "fake-entra-{:04}-{:016x}",
            lock(&self.issued).len() + 1,
            fastrand::u64(..)
        );
        lock(&self.tokens).insert(token.clone(), Instant::now() + lifetime);
        lock(&self.issued).push(token.clone());
        let secs = lifetime.as_secs_f64().ceil().max(1.0) as u64;
        json_response(
            StatusCode::OK,
            &json!({
                "token_type": "Bearer",
                "expires_in": secs,
                "ext_expires_in": secs,
                "access_token": token,
            }),
            &[],
        )
    }
}

/// Entra ID's OAuth error body.
fn refusal(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({
            "error": code,
            "error_description": format!("{description}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: 2026-06-01 00:00:00Z"),
            "error_codes": [7000215],
            "trace_id": "00000000-0000-0000-0000-000000000000",
        }),
        &[],
    )
}
