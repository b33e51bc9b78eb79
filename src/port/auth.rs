//! Port's credentials and access tokens, kept out of every piece of text.
//!
//! This module owns the secret-bearing types (`Credentials`, `AccessToken`), the regional base
//! URLs and the token cache's freshness rule. Fetching a token is an HTTP call and lives in the
//! client (`client`), which sends it through the same retry policy as every other call.
//!
//! Nothing here can print a secret: `Debug` and `Display` redact, and the only way to read the
//! secret is the crate-private `expose` used to build the token request and the header.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Port's EU API (the default region); `api.port.io` and `api.getport.io` are the same service.
pub const EU_BASE_URL: &str = "https://api.getport.io";
/// Port's US API.
pub const US_BASE_URL: &str = "https://api.us.getport.io";

/// How long before its stated expiry a token is treated as stale, so that a request never
/// leaves with a token that dies in flight.
pub const DEFAULT_TOKEN_SKEW: Duration = Duration::from_secs(60);

/// A string that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: only for building a request, never for text.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Port API client credentials (Builder → Credentials in Port's UI), so the client can mint
/// access tokens. Both halves are redacted in `Debug` and `Display`: a client id alone is
/// enough to aim a brute-force attempt, so it is not shown either.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    client_id: Secret,
    client_secret: Secret,
}

impl Credentials {
    /// Credentials from a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Credentials {
            client_id: Secret::new(client_id),
            client_secret: Secret::new(client_secret),
        }
    }

    /// The JSON body of `POST /v1/auth/access_token`.
    pub(crate) fn token_request_body(&self) -> serde_json::Value {
        serde_json::json!({
            "clientId": self.client_id.expose(),
            "clientSecret": self.client_secret.expose(),
        })
    }

    /// The strings that must never reach text, for scrubbing server-echoed bodies.
    pub(crate) fn secrets(&self) -> [&str; 2] {
        [self.client_id.expose(), self.client_secret.expose()]
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { client_id: [redacted], client_secret: [redacted] }")
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Port credentials [redacted]")
    }
}

/// Where and as whom to reach Port: what the `port` catalog target needs beyond the
/// datasource. The CLI builds it from `PORT_CLIENT_ID`, `PORT_CLIENT_SECRET` and
/// `PORT_BASE_URL`; the library never reads the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortAccess {
    /// Client id and secret.
    pub credentials: Credentials,
    /// The API's base URL (EU by default; see `EU_BASE_URL`, `US_BASE_URL`).
    pub base_url: String,
}

impl PortAccess {
    /// Access to the EU API with these credentials.
    pub fn new(credentials: Credentials) -> Self {
        PortAccess {
            credentials,
            base_url: EU_BASE_URL.to_owned(),
        }
    }
}

/// The reply of `POST /v1/auth/access_token` (`expiresIn` is in seconds).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenReply {
    pub(crate) access_token: String,
    pub(crate) expires_in: f64,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
}

/// A bearer token with the moment it stops being usable.
#[derive(Clone)]
pub(crate) struct AccessToken {
    value: Secret,
    token_type: String,
    stale_at: Instant,
}

impl AccessToken {
    /// A token fetched at `fetched_at`, stale `skew` before Port says it expires. The skew is
    /// at most a quarter of the lifetime, so a short-lived token is still used.
    pub(crate) fn new(reply: TokenReply, fetched_at: Instant, skew: Duration) -> Self {
        let lifetime = if reply.expires_in.is_finite() && reply.expires_in > 0.0 {
            Duration::from_secs_f64(reply.expires_in.min(1e9))
        } else {
            Duration::ZERO
        };
        let skew = skew.min(lifetime / 4);
        AccessToken {
            value: Secret::new(reply.access_token),
            token_type: reply
                .token_type
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "Bearer".to_owned()),
            stale_at: fetched_at + lifetime - skew,
        }
    }

    /// Whether the token can still be sent at `now`.
    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        now < self.stale_at
    }

    /// The `Authorization` header value (`<tokenType> <accessToken>`, as Port's integration sends).
    pub(crate) fn header_value(&self) -> String {
        format!("{} {}", self.token_type, self.value.expose())
    }

    /// Whether two tokens are the same one (to refresh only the token that was refused).
    pub(crate) fn same_as(&self, other: &AccessToken) -> bool {
        self.value == other.value
    }

    /// The token itself, for scrubbing server-echoed bodies.
    pub(crate) fn expose(&self) -> &str {
        self.value.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(expires_in: f64) -> TokenReply {
        TokenReply {
            access_token: "tok-123".into(),
            expires_in,
            token_type: Some("Bearer".into()),
        }
    }

    #[test]
    fn credentials_never_show_their_halves() {
        let c = Credentials::new("client-id-xyz", "secret-abc");
        for text in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
            assert!(!text.contains("client-id-xyz"), "{text}");
            assert!(!text.contains("secret-abc"), "{text}");
        }
    }

    #[test]
    fn a_token_is_stale_a_skew_before_it_expires() {
        let t0 = Instant::now();
        let token = AccessToken::new(reply(10_800.0), t0, DEFAULT_TOKEN_SKEW);
        assert!(token.is_fresh(t0 + Duration::from_secs(10_700)));
        assert!(!token.is_fresh(t0 + Duration::from_secs(10_741)));
        assert!(!format!("{token:?}").contains("tok-123"));
        assert_eq!(token.header_value(), "Bearer tok-123");
    }

    #[test]
    fn a_short_lived_token_keeps_three_quarters_of_its_life() {
        let t0 = Instant::now();
        let token = AccessToken::new(reply(4.0), t0, DEFAULT_TOKEN_SKEW);
        assert!(token.is_fresh(t0 + Duration::from_millis(2_900)));
        assert!(!token.is_fresh(t0 + Duration::from_millis(3_001)));
    }

    #[test]
    fn a_token_without_a_lifetime_is_stale_at_once() {
        let t0 = Instant::now();
        assert!(!AccessToken::new(reply(f64::NAN), t0, DEFAULT_TOKEN_SKEW).is_fresh(t0));
        assert!(!AccessToken::new(reply(-3.0), t0, DEFAULT_TOKEN_SKEW).is_fresh(t0));
    }
}
