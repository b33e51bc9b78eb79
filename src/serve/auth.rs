//! The webhook's basic auth: the credentials ADO's subscriptions send, and the check.
//!
//! With a secret configured, every request must carry `Authorization: Basic` with the
//! configured user *and* password; a request with no header at all is refused (Port's
//! integration lets those through). Both parts are compared in constant time, and both
//! comparisons always run, so the answer's timing says nothing about which part was wrong
//! or how much of it matched.

use base64::Engine as _;

use crate::secrets::Secret;

/// The user ADO's subscriptions authenticate as, unless one is configured.
pub const DEFAULT_USER: &str = "adoport";

/// The credentials ADO must send.
#[derive(Clone, Debug)]
pub struct WebhookAuth {
    user: String,
    secret: Secret,
}

impl WebhookAuth {
    /// Credentials for `user` with `secret` (registered for scrubbing by [`Secret`]).
    #[must_use]
    pub fn new(user: impl Into<String>, secret: Secret) -> Self {
        WebhookAuth {
            user: user.into(),
            secret,
        }
    }

    /// The user name (not secret: it goes into subscriptions as `basicAuthUsername`).
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password, for building subscriptions only.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Whether an `Authorization` header value carries these credentials.
    #[must_use]
    pub fn check(&self, header: Option<&[u8]>) -> bool {
        let Some((user, password)) = header.and_then(decode) else {
            return false;
        };
        let user_ok = constant_time_eq(user.as_bytes(), self.user.as_bytes());
        let password_ok = constant_time_eq(password.as_bytes(), self.secret.expose().as_bytes());
        user_ok & password_ok
    }
}

/// `Basic base64(user:password)` → (user, password); the password may contain `:`.
fn decode(header: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Equality whose running time depends only on the longer input's length, never on where
/// the inputs differ.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// The `Authorization` header value for `user` and `password` (for tests and clients).
#[must_use]
pub fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_user_and_password_must_match() {
        let auth = WebhookAuth::new("adoport", Secret::new("auth-test-secret-01"));
        let ok = basic_header("adoport", "auth-test-secret-01");
        assert!(auth.check(Some(ok.as_bytes())));
        for bad in [
            basic_header("someone", "auth-test-secret-01"),
            basic_header("adoport", "auth-test-secret-0"),
            basic_header("adoport", "auth-test-secret-011"),
            "Bearer auth-test-secret-01".to_owned(),
            "Basic !!!".to_owned(),
        ] {
            assert!(!auth.check(Some(bad.as_bytes())), "{bad}");
        }
        assert!(!auth.check(None));
    }

    #[test]
    fn a_password_may_contain_colons() {
        let auth = WebhookAuth::new("u", Secret::new("a:b:c-secret"));
        assert!(auth.check(Some(basic_header("u", "a:b:c-secret").as_bytes())));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"\0"));
    }
}
