//! Bearer tokens with a lifetime: the freshness rule every token cache shares (Port's
//! access tokens, Entra ID's for Azure DevOps). Fetching is each client's business; this
//! module only reads a token endpoint's reply and says when a token must be replaced.
//!
//! A lifetime is the issuer's word, bounded: `expires_in: 0`, a negative or absurd number,
//! or none at all would otherwise make every request fetch a token first; a lifetime is
//! taken as at least the client's floor (a token that dies sooner is replaced after a 401,
//! once) and at most [`MAX_TOKEN_LIFETIME`]. A token is stale a skew before it expires, so
//! that a request never leaves with a token that dies in flight.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::secrets::Secret;

/// How long before its stated expiry a token is treated as stale, so that a request never
/// leaves with a token that dies in flight.
pub const DEFAULT_TOKEN_SKEW: Duration = Duration::from_secs(60);
/// The shortest lifetime a token is given, whatever `expiresIn` says.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest lifetime a token is given (Port's tokens last 3 hours, Entra ID's about 1).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A token endpoint's reply: OAuth 2.0's `access_token`/`expires_in`/`token_type` (Entra
/// ID), or the same in camel case (Port's `POST /v1/auth/access_token`). `expires_in` is in
/// seconds; any JSON is accepted there (Entra ID's v1 endpoint sends a string), and what is
/// not a number is bounded like an absurd number.
#[derive(Deserialize)]
pub(crate) struct TokenReply {
    #[serde(alias = "accessToken")]
    pub(crate) access_token: String,
    #[serde(default, alias = "expiresIn")]
    pub(crate) expires_in: Option<serde_json::Value>,
    #[serde(default, alias = "tokenType")]
    pub(crate) token_type: Option<String>,
}

/// How long a token is used: the stated lifetime within `[min, MAX_TOKEN_LIFETIME]`.
fn lifetime(expires_in: Option<&serde_json::Value>, min: Duration) -> Duration {
    let max = MAX_TOKEN_LIFETIME.max(min);
    let stated = expires_in.and_then(|v| match v {
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        other => other.as_f64(),
    });
    match stated {
        Some(secs) if secs.is_finite() && secs >= min.as_secs_f64() => {
            Duration::try_from_secs_f64(secs.min(max.as_secs_f64())).unwrap_or(max)
        }
        _ => {
            tracing::warn!(
                expires_in = %expires_in.map_or_else(|| "none".to_owned(), |v| crate::http::one_line(&v.to_string(), 40)),
                used_secs = min.as_secs_f64(),
                "the token endpoint stated a lifetime below the floor; using the floor"
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
    /// A token fetched at `fetched_at`, stale `skew` before its issuer says it expires, its
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

    /// The `Authorization` header value (`<token type> <token>`, as Port's and Azure's own clients send).
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
            expires_in: Some(serde_json::json!("0")),
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

    #[test]
    fn an_oauth_reply_and_a_port_reply_read_alike() {
        let oauth: TokenReply = serde_json::from_value(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "oauth-tok"
        }))
        .unwrap();
        let port: TokenReply = serde_json::from_value(serde_json::json!({
            "accessToken": "port-tok", "expiresIn": 10800, "tokenType": "Bearer"
        }))
        .unwrap();
        let t0 = Instant::now();
        let a = AccessToken::new(oauth, t0, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME);
        let b = AccessToken::new(port, t0, DEFAULT_TOKEN_SKEW, MIN_TOKEN_LIFETIME);
        assert_eq!(a.header_value(), "Bearer oauth-tok");
        assert!(a.is_fresh(t0 + Duration::from_secs(3500)));
        assert!(!a.is_fresh(t0 + Duration::from_secs(3540)));
        assert!(b.is_fresh(t0 + Duration::from_secs(10_700)));
    }
}
