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

/// `text` with every registered secret replaced by `[redacted]`; borrowed when nothing matched.
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
    out
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
    fn a_secret_never_shows_itself_and_registers_on_construction() {
        let secret = Secret::new("scrub-test-webhook-0003");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "scrub-test-webhook-0003");
        assert_eq!(scrub("got scrub-test-webhook-0003"), "got [redacted]");
    }
}
