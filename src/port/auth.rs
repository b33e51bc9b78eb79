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
//! A token's lifetime is Port's word, bounded as `crate::http::token` bounds every issuer's:
//! at least [`MIN_TOKEN_LIFETIME`] (a token that dies sooner is replaced after Port's 401,
//! once) and at most [`MAX_TOKEN_LIFETIME`].

use std::fmt;

/// Port's EU API (the default region); `api.port.io` and `api.getport.io` are the same service.
pub const EU_BASE_URL: &str = "https://api.getport.io";
/// Port's US API.
pub const US_BASE_URL: &str = "https://api.us.getport.io";

pub(crate) use crate::http::token::{AccessToken, TokenReply};
pub use crate::http::token::{DEFAULT_TOKEN_SKEW, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_their_halves() {
        let c = Credentials::new("client-id-xyz", "secret-abc");
        for text in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
            assert!(!text.contains("client-id-xyz"), "{text}");
            assert!(!text.contains("secret-abc"), "{text}");
        }
    }
}
