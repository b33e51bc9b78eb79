//! Port's credentials and access tokens, kept out of every piece of text.
//!
//! This module owns the secret-bearing types (`Credentials`, `AccessToken`), the regional base
//! URLs and the token cache's freshness rule. Fetching a token is an HTTP call and lives in the
//! client (`client`), which sends it through the same retry policy as every other call.
//!
//! Nothing here can print a secret: `Debug` and `Display` redact, every secret registers
//! itself with `crate::secrets` when made (so an echo of it in any server text is scrubbed),
//! and the only way to read one is `expose`, used to build the token request and the header.
//!
//! A token's lifetime is Port's word, bounded: `expiresIn: 0`, a negative or absurd number,
//! or none at all would otherwise make every request fetch a token first; a lifetime is
//! taken as at least [`MIN_TOKEN_LIFETIME`] (a token that dies sooner is replaced after
//! Port's 401, once) and at most [`MAX_TOKEN_LIFETIME`].

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
/// The shortest lifetime a token is given, whatever `expiresIn` says.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest lifetime a token is given (Port's tokens last 3 hours).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A string that never shows itself and is registered for scrubbing (`crate::secrets`).
pub use crate::secrets::Secret;

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

/// The reply of `POST /v1/auth/access_token` (`expiresIn` is in seconds; any JSON is
/// accepted there, and what is not a number is bounded like an absurd number).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenReply {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
}

/// How long a token is used: Port's `expiresIn` within `[min, MAX_TOKEN_LIFETIME]`.
fn lifetime(expires_in: Option<&serde_json::Value>, min: Duration) -> Duration {
    let max = MAX_TOKEN_LIFETIME.max(min);
    let stated = expires_in.and_then(serde_json::Value::as_f64);
    match stated {
        Some(secs) if secs.is_finite() && secs >= min.as_secs_f64() => {
            Duration::try_from_secs_f64(secs.min(max.as_secs_f64())).unwrap_or(max)
        }
        _ => {
            tracing::warn!(
                expires_in = %expires_in.map_or_else(|| "none".to_owned(), |v| crate::http::one_line(&v.to_string(), 40)),
                used_secs = min.as_secs_f64(),
                "Port stated a token lifetime below the floor; using the floor"
            );
            min
        }
    }
}

/// A bearer token with the moment it stops being usable.
#[derive(Clone)]
pub(crate) struct AccessToken {
    value: Secret,
    token_type: String,
    stale_at: Instant,
}

impl AccessToken {
    /// A token fetched at `fetched_at`, stale `skew` before Port says it expires, its
    /// lifetime bounded to `[min_lifetime, MAX_TOKEN_LIFETIME]`. The skew is at most a
    /// quarter of the lifetime, so a short-lived token is still used.
    pub(crate) fn new(
        reply: TokenReply,
        fetched_at: Instant,
        skew: Duration,
        min_lifetime: Duration,
    ) -> Self {
        let lifetime = lifetime(reply.expires_in.as_ref(), min_lifetime);
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
            expires_in: serde_json::Number::from_f64(expires_in).map(serde_json::Value::Number),
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
        let token = AccessToken::new(reply(10_800.0), t0, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME);
        assert!(token.is_fresh(t0 + Duration::from_secs(10_700)));
        assert!(!token.is_fresh(t0 + Duration::from_secs(10_741)));
        assert!(!format!("{token:?}").contains("tok-123"));
        assert_eq!(token.header_value(), "Bearer tok-123");
    }

    #[test]
    fn a_short_lived_token_keeps_three_quarters_of_its_life() {
        let t0 = Instant::now();
        let token = AccessToken::new(reply(4.0), t0, DEFAULT_TOKEN_SKEW, Duration::from_secs(1));
        assert!(token.is_fresh(t0 + Duration::from_millis(2_900)));
        assert!(!token.is_fresh(t0 + Duration::from_millis(3_001)));
    }

    #[test]
    fn a_token_with_a_zero_negative_or_missing_lifetime_is_still_used_for_the_floor() {
        let t0 = Instant::now();
        let mut replies = vec![reply(0.0), reply(-3.0), reply(f64::NAN), reply(0.2)];
        replies.push(TokenReply {
            expires_in: Some(serde_json::json!("soon")),
            ..reply(1.0)
        });
        replies.push(TokenReply {
            expires_in: None,
            ..reply(1.0)
        });
        for reply in replies {
            let token = AccessToken::new(reply, t0, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME);
            // The floor is 60 s, of which a quarter is skew: fresh for 45 s.
            assert!(token.is_fresh(t0 + Duration::from_secs(44)));
            assert!(!token.is_fresh(t0 + Duration::from_secs(46)));
        }
    }

    #[test]
    fn an_absurdly_long_lifetime_is_capped() {
        let t0 = Instant::now();
        for secs in [1e300, f64::MAX, 1e12] {
            let token = AccessToken::new(reply(secs), t0, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME);
            assert!(token.is_fresh(t0 + MAX_TOKEN_LIFETIME - Duration::from_secs(120)));
            assert!(!token.is_fresh(t0 + MAX_TOKEN_LIFETIME));
        }
    }
}
