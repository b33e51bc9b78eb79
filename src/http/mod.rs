//! One vocabulary for HTTP, shared by every client (ADO's and Port's): what a server's
//! delay headers mean, how long to back off, how much of a body to read, how an error
//! body or an error chain becomes one line of text, and the debug line each exchange logs.
//!
//! Each client keeps only its policy (what it retries, how often, which caps it sets):
//! `ado::retry` and `port::retry` decide; the functions here only measure and format.
//!
//! | module | owns |
//! |---|---|
//! | [`delay`] | `Retry-After`, `x-ratelimit-reset` and `X-RateLimit-Delay` read safely (clamped, never a panic), and jittered capped backoff |
//! | [`body`] | reading a response body in chunks up to a cap, so a huge answer fails instead of filling memory |
//! | [`text`] | server text made safe to show: secrets scrubbed, HTML reduced to its text, one line, cut; error chains on one line |
//! | [`tls`] | the CA roots every HTTPS client trusts: the system's and the Mozilla set compiled in |
//! | [`token`] | bearer tokens with a lifetime: a token endpoint's reply, and when a token is stale |
//! | [`waits`] | waits a rate limit caused, counted for the process (`serve`'s `/metrics`) |

pub mod body;
pub mod delay;
pub mod text;
pub mod tls;
pub mod token;
pub mod waits;

use std::time::Duration;

pub use body::{BodyError, DEFAULT_MAX_BODY_BYTES, ERROR_BODY_BYTES, read_capped, read_prefix};
pub use delay::{MAX_SERVER_DELAY, UNUSABLE_DELAY, backoff, spread};
pub use text::{BadJson, MAX_ERROR_TEXT, error_chain, error_text, one_line};

/// The path of `url` without its query (which may carry tokens) and scrubbed of secrets.
#[must_use]
pub fn path_of(url: &str) -> String {
    let path = match url::Url::parse(url) {
        Ok(parsed) => parsed.path().to_owned(),
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    };
    crate::secrets::scrub(&path).into_owned()
}

/// Logs one finished exchange at `debug`: method, path (no query), status and elapsed time.
/// `status` is `None` when no answer came (timeout, refused or dropped connection).
pub fn log_exchange(method: &str, url: &str, status: Option<u16>, elapsed: Duration) {
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    match status {
        Some(status) => {
            tracing::debug!(method, path = %path_of(url), status, elapsed_ms, "http exchange");
        }
        None => {
            tracing::debug!(method, path = %path_of(url), status = "no answer", elapsed_ms, "http exchange");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_path_has_no_query() {
        assert_eq!(
            path_of("https://dev.azure.com/acme/p/_apis/build/builds?continuationToken=abc&$top=5"),
            "/acme/p/_apis/build/builds"
        );
        assert_eq!(path_of("not a url?x=1"), "not a url");
    }
}
