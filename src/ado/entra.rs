//! Entra ID service-principal auth: a client-credentials token for the Azure DevOps resource,
//! cached, replaced before it expires, and replaced once more when ADO refuses it early.
//!
//! The token is requested from `{authority}/{tenant}/oauth2/v2.0/token` with the scope
//! [`AZURE_DEVOPS_SCOPE`] (Azure DevOps' resource id), as Port's integration asks for it.
//! One [`ServicePrincipal`] serves every organization of a run: a token for the Azure DevOps
//! resource is valid in every organization the principal was added to.
//!
//! The authority is `https://login.microsoftonline.com` unless the caller names another
//! (`AZURE_AUTHORITY_HOST`: a sovereign cloud such as `https://login.microsoftonline.us`,
//! or a test's fake). The client id, the secret and every token issued register themselves
//! with `crate::secrets`, so that no echo of them reaches text.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::error::{Error, Result, Scope};
use crate::http::token::{AccessToken, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME, TokenReply};
use crate::http::{self, BodyError};
use crate::secrets::{Secret, scrub};

/// The scope of a token for Azure DevOps: its resource id, `/.default`.
pub const AZURE_DEVOPS_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/// Entra ID's public-cloud authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The largest token reply read.
const MAX_TOKEN_REPLY_BYTES: usize = 256 * 1024;

/// What a service principal signs in with. Nothing here prints a secret.
#[derive(Clone)]
pub struct ServicePrincipalConfig {
    /// The directory (tenant) id, or a verified domain.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: Secret,
    /// The client secret.
    pub client_secret: Secret,
    /// The authority host ([`DEFAULT_AUTHORITY`] unless another cloud or a fake).
    pub authority: String,
    /// How long before its stated expiry a token is replaced.
    pub skew: Duration,
    /// The shortest lifetime a token is given, whatever `expires_in` says.
    pub min_lifetime: Duration,
}

impl ServicePrincipalConfig {
    /// A principal of `tenant_id` on the public cloud, with the default freshness rule.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        ServicePrincipalConfig {
            tenant_id: tenant_id.into(),
            client_id: Secret::new(client_id),
            client_secret: Secret::new(client_secret),
            authority: DEFAULT_AUTHORITY.to_owned(),
            skew: DEFAULT_TOKEN_SKEW,
            min_lifetime: MIN_TOKEN_LIFETIME,
        }
    }

    /// The same principal signing in at another authority host.
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// The token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        let tenant: String =
            url::form_urlencoded::byte_serialize(self.tenant_id.trim().as_bytes()).collect();
        format!(
            "{}/{tenant}/oauth2/v2.0/token",
            self.authority.trim().trim_end_matches('/')
        )
    }
}

impl fmt::Debug for ServicePrincipalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServicePrincipalConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("authority", &scrub(&self.authority))
            .finish()
    }
}

struct Inner {
    http: reqwest::Client,
    config: ServicePrincipalConfig,
    token_url: String,
    token: tokio::sync::Mutex<Option<AccessToken>>,
    fetched: AtomicU64,
}

/// A service principal's token cache, shared by every organization's client (cheap to clone).
#[derive(Clone)]
pub struct ServicePrincipal {
    inner: Arc<Inner>,
}

impl fmt::Debug for ServicePrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServicePrincipal")
            .field("token_url", &scrub(&self.inner.token_url))
            .finish_non_exhaustive()
    }
}

impl ServicePrincipal {
    /// A token cache for `config`; no token is fetched until the first request needs one.
    pub fn new(config: ServicePrincipalConfig) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = crate::http::tls::trust_bundled_roots(reqwest::Client::builder())
            .user_agent(concat!("adoport/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Setup)?;
        Ok(ServicePrincipal {
            inner: Arc::new(Inner {
                http,
                token_url: config.token_url(),
                config,
                token: tokio::sync::Mutex::new(None),
                fetched: AtomicU64::new(0),
            }),
        })
    }

    /// Tokens fetched so far (for tests and summaries).
    #[must_use]
    pub fn tokens_fetched(&self) -> u64 {
        self.inner.fetched.load(Ordering::Relaxed)
    }

    /// A token that is fresh now, fetched (once, for every waiting request) when the cached
    /// one is missing or stale. `scope` is the ADO scope of the request waiting for it.
    pub(crate) async fn token(&self, scope: Scope) -> Result<AccessToken> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh(Instant::now())) {
            return Ok(token.clone());
        }
        let fetched_at = Instant::now();
        let reply = self.fetch(scope).await?;
        let token = AccessToken::new(
            reply,
            fetched_at,
            self.inner.config.skew,
            self.inner.config.min_lifetime,
        );
        self.inner.fetched.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("fetched an Entra ID token for Azure DevOps");
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token, so the next request fetches another
    /// (ADO refused it before its stated expiry: revoked, or a clock ahead of ours).
    pub(crate) async fn forget(&self, used: &AccessToken) {
        let mut cached = self.inner.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.same_as(used)) {
            *cached = None;
        }
    }

    /// One client-credentials request. A refusal names the credentials, never their values.
    async fn fetch(&self, scope: Scope) -> Result<TokenReply> {
        let config = &self.inner.config;
        let url = self.inner.token_url.clone();
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", config.client_id.expose())
            .append_pair("client_secret", config.client_secret.expose())
            .append_pair("scope", AZURE_DEVOPS_SCOPE)
            .finish();
        let started = Instant::now();
        let response = self
            .inner
            .http
            .post(&url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                http::log_exchange("POST", &url, None, started.elapsed());
                return Err(super::error::transport(&url, e));
            }
        };
        let status = response.status();
        http::log_exchange("POST", &url, Some(status.as_u16()), started.elapsed());
        if !status.is_success() {
            let body = http::read_prefix(response, http::ERROR_BODY_BYTES).await;
            let detail = entra_error_text(&body);
            if matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) {
                return Err(Error::CredentialsRefused {
                    url,
                    status: status.as_u16(),
                    detail,
                    scope,
                });
            }
            return Err(Error::Status {
                url,
                status: status.as_u16(),
                body: detail,
                type_key: None,
            });
        }
        let bytes = match http::read_capped(response, MAX_TOKEN_REPLY_BYTES).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { limit }) => return Err(Error::BodyTooLarge { url, limit }),
            Err(BodyError::Read(e)) => return Err(super::error::transport(&url, e)),
        };
        // The token registers itself for scrubbing as soon as it is read (`AccessToken`);
        // a reply that is not a token is reported without its text.
        serde_json::from_slice::<TokenReply>(&bytes).map_err(|_| Error::BadBody {
            url,
            source: http::BadJson::new("the reply holds no access_token"),
        })
    }
}

/// Entra ID's `error: error_description` (first line, scrubbed), or the body's text.
fn entra_error_text(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let text = parsed
        .as_ref()
        .map(|v| {
            let code = v.get("error").and_then(serde_json::Value::as_str);
            let description = v
                .get("error_description")
                .and_then(serde_json::Value::as_str)
                .and_then(|d| d.lines().next());
            match (code, description) {
                (Some(c), Some(d)) => format!("{c}: {d}"),
                (Some(c), None) => c.to_owned(),
                (None, Some(d)) => d.to_owned(),
                (None, None) => String::new(),
            }
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| http::error_text(body));
    http::one_line(&crate::secrets::scrub(&text), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_is_the_tenants_v2_endpoint_at_the_authority() {
        let c = ServicePrincipalConfig::new("contoso.onmicrosoft.com", "app-id-1", "secret-1");
        assert_eq!(
            c.token_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let us = c.with_authority("https://login.microsoftonline.us/");
        assert_eq!(
            us.token_url(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn a_principal_never_shows_its_client_id_or_secret() {
        let c =
            ServicePrincipalConfig::new("tenant-1", "entra-client-id-0001", "entra-secret-0001");
        let text = format!("{c:?} {:?}", ServicePrincipal::new(c.clone()).unwrap());
        assert!(!text.contains("entra-client-id-0001"), "{text}");
        assert!(!text.contains("entra-secret-0001"), "{text}");
        assert_eq!(
            crate::secrets::scrub("echo entra-secret-0001"),
            "echo [redacted]"
        );
    }

    #[test]
    fn an_entra_refusal_reads_as_its_code_and_first_line() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#;
        assert_eq!(
            entra_error_text(body),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }
}
