//! The process-wide registry of secret values, and `scrub`, which takes them out of text.
//!
//! A secret registers itself when it comes into being: a PAT (with the base64 forms ADO's
//! `Authorization` header carries), Port's client id and secret, each access token Port
//! issues, a git token, a webhook secret. Every string a server sent is passed through
//! [`scrub`] before it goes into an error, an outcome, a log line, a listing's reason or a
//! file: servers echo what they were sent (a 500 page quoting the `Authorization` header, a
//! 207 message quoting the bearer token), and only a registry of what was sent can catch
//! that whatever the echo's shape. The CLI passes its output through [`scrub`] as a last net.
//!
//! Values shorter than [`MIN_LEN`] are not registered: replacing a four-letter word
//! everywhere would garble text and protect nothing. The registry keeps at most
//! [`MAX_ENTRIES`] values; past that the oldest go first (long-expired access tokens of a
//! long-running process).
//!
//! Two shapes are scrubbed whether registered or not, because a process can meet them
//! without ever holding them: the credentials of a URL (`https://user:password@host`, as a
//! user may paste into `AZURE_DEVOPS_ORG_URL` or a git remote), and JSON Web Tokens (Port's
//! access tokens are JWTs, and a server may echo one another process was given).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;

/// Registered secrets are at least this many characters long.
pub const MIN_LEN: usize = 6;
/// The most values the registry keeps.
pub const MAX_ENTRIES: usize = 1024;
/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

#[derive(Default)]
struct Registry {
    /// In registration order, for eviction.
    order: Vec<Arc<str>>,
    /// Longest first, so that a secret containing another is replaced whole.
    by_len: Vec<Arc<str>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    order: Vec::new(),
    by_len: Vec::new(),
});

/// Registers `value` so that [`scrub`] removes it from any text (ignored below [`MIN_LEN`]).
pub fn register(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut registry = REGISTRY
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if registry.order.iter().any(|s| &**s == value) {
        return;
    }
    if registry.order.len() >= MAX_ENTRIES {
        let oldest = registry.order.remove(0);
        registry.by_len.retain(|s| !Arc::ptr_eq(s, &oldest));
    }
    let entry: Arc<str> = Arc::from(value);
    registry.order.push(entry.clone());
    let at = registry.by_len.partition_point(|s| s.len() >= entry.len());
    registry.by_len.insert(at, entry);
}

/// Registers a personal access token and the forms ADO's basic auth carries it in:
/// `base64(":" + PAT)` (what the header sends) and `base64(PAT)`.
pub fn register_pat(pat: &str) {
    let engine = base64::engine::general_purpose::STANDARD;
    register(pat);
    for form in [format!(":{pat}"), pat.to_owned()] {
        let encoded = engine.encode(form.as_bytes());
        register(&encoded);
        // Servers that echo a header may drop the padding.
        register(encoded.trim_end_matches('='));
    }
}

/// `text` with every registered secret, URL credentials and JSON Web Token replaced by
/// `[redacted]`; borrowed when nothing matched.
#[must_use]
pub fn scrub(text: &str) -> Cow<'_, str> {
    let registry = REGISTRY
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for secret in &registry.by_len {
        if out.contains(&**secret) {
            out = Cow::Owned(out.replace(&**secret, REDACTED));
        }
    }
    if let Some(cleaned) = without_url_credentials(&out) {
        out = Cow::Owned(cleaned);
    }
    if let Some(cleaned) = without_jwts(&out) {
        out = Cow::Owned(cleaned);
    }
    out
}

/// Characters that end a URL's authority (`scheme://AUTHORITY/…`) in running text.
fn ends_authority(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | ')' | ','
        )
}

/// `text` with the user-info of every `scheme://user:password@host` replaced, or `None`
/// when it has none.
fn without_url_credentials(text: &str) -> Option<String> {
    let mut userinfos: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("://") {
        let start = from + at + 3;
        let tail = &text[start..];
        let authority = &tail[..tail.find(ends_authority).unwrap_or(tail.len())];
        match authority.rfind('@') {
            Some(len) if len > 0 => {
                userinfos.push((start, start + len));
                from = start + len;
            }
            _ => from = start,
        }
    }
    replace_ranges(text, &userinfos)
}

/// `text` with each of the (sorted, disjoint) byte `ranges` replaced by `[redacted]`, or
/// `None` when there are none.
fn replace_ranges(text: &str, ranges: &[(usize, usize)]) -> Option<String> {
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for &(start, end) in ranges {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Whether `c` may appear in a base64url segment of a JSON Web Token.
fn is_jwt_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// `text` with every JSON Web Token (`eyJ….eyJ….signature`: a JSON header and payload,
/// base64url) replaced, or `None` when it has none.
fn without_jwts(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let segment_end = |from: usize| -> usize {
        bytes[from..]
            .iter()
            .position(|&c| !is_jwt_char(c))
            .map_or(bytes.len(), |n| from + n)
    };
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("eyJ") {
        let start = from + found;
        from = start + 3;
        if start > 0 && is_jwt_char(bytes[start - 1]) {
            continue;
        }
        let header_end = segment_end(start);
        if !text[header_end..].starts_with(".eyJ") {
            continue;
        }
        let payload_end = segment_end(header_end + 1);
        if !text[payload_end..].starts_with('.') {
            continue;
        }
        let end = segment_end(payload_end + 1);
        tokens.push((start, end));
        from = end;
    }
    replace_ranges(text, &tokens)
}

/// A secret string: registered for scrubbing when made, never shown by `Debug` or `Display`.
///
/// Use it for anything a user hands over that must not reach text (a git token, a webhook
/// secret); the only way to read the value is [`Secret::expose`], for building a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps and registers a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The secret itself: only for building a request or comparing credentials, never text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_secret_is_replaced_everywhere_it_appears() {
        register("scrub-test-alpha-0001");
        let text = "a scrub-test-alpha-0001 b scrub-test-alpha-0001";
        assert_eq!(scrub(text), "a [redacted] b [redacted]");
    }

    #[test]
    fn text_without_secrets_is_borrowed_unchanged() {
        let text = "nothing secret here: scrub-test-unregistered";
        assert!(matches!(scrub(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn values_shorter_than_six_characters_are_not_registered() {
        register("abcde");
        assert_eq!(scrub("abcde abcdef"), "abcde abcdef");
    }

    #[test]
    fn a_pat_is_scrubbed_raw_and_in_both_base64_forms() {
        let pat = "scrub-test-pat-0002";
        register_pat(pat);
        let engine = base64::engine::general_purpose::STANDARD;
        let header = format!("Basic {}", engine.encode(format!(":{pat}")));
        let bare = engine.encode(pat);
        let text = format!("echo: {header} decoded :{pat} bare {bare}");
        let scrubbed = scrub(&text);
        assert!(!scrubbed.contains(pat), "{scrubbed}");
        assert!(!scrubbed.contains(&engine.encode(format!(":{pat}"))));
        assert!(!scrubbed.contains(&bare), "{scrubbed}");
        assert!(scrubbed.starts_with("echo: Basic [redacted]"), "{scrubbed}");
    }

    #[test]
    fn a_longer_secret_is_replaced_whole_before_a_shorter_one_inside_it() {
        register("scrub-test-inner");
        register("outer-scrub-test-inner-tail");
        assert_eq!(
            scrub("x outer-scrub-test-inner-tail y scrub-test-inner"),
            "x [redacted] y [redacted]"
        );
    }

    #[test]
    fn url_credentials_are_scrubbed_whether_registered_or_not() {
        assert_eq!(
            scrub("cannot reach https://me:hunter2-unregistered@dev.azure.com/acme: refused"),
            "cannot reach https://[redacted]@dev.azure.com/acme: refused"
        );
        assert_eq!(
            scrub("\"git:https://x-access-token:tok@example.com/r.git@main\" and http://h:1/p"),
            "\"git:https://[redacted]@example.com/r.git@main\" and http://h:1/p"
        );
        let plain = "see https://dev.azure.com/acme/_apis?x=a@b and mail@example.com";
        assert!(matches!(scrub(plain), Cow::Borrowed(_)), "{}", scrub(plain));
    }

    #[test]
    fn json_web_tokens_are_scrubbed_whether_registered_or_not() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl-_x";
        assert_eq!(
            scrub(&format!("token {jwt} was revoked; Bearer {jwt}.")),
            "token [redacted] was revoked; Bearer [redacted]."
        );
        for plain in ["eyJ alone", "keyJava.eyJx.y", "eyJa.notpayload.z"] {
            assert_eq!(scrub(plain), plain);
        }
    }

    #[test]
    fn a_secret_never_shows_itself_and_registers_on_construction() {
        let secret = Secret::new("scrub-test-webhook-0003");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "scrub-test-webhook-0003");
        assert_eq!(scrub("got scrub-test-webhook-0003"), "got [redacted]");
    }
}
