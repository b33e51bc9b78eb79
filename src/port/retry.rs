//! When a call to Port's API is tried again, and after how long: one policy function.
//!
//! `retry_policy` is the only place that decides. The client's send loop asks it after every
//! failed attempt and does what it says; nothing else in the client sleeps or loops. It is a
//! pure function of the attempt's outcome, the attempt number and the clock, so every rule is
//! unit-tested here without a server.
//!
//! Rules: 429, 408 and 5xx (but 501 and 505) and transport failures (timeouts, refused or
//! dropped connections) are retried with capped, jittered exponential backoff, or after the
//! delay the server asks for (`Retry-After`, or `x-ratelimit-reset` on a 429 or when
//! `x-ratelimit-remaining` is 0; read by `crate::http::delay`, capped by `max_wait`). A 401
//! refreshes the token once. Everything else stops. POSTs are retried too: every POST this
//! client sends is an idempotent upsert, delete, search or token request.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::http::delay;

/// Limits on retrying, so a run against a struggling API ends instead of hanging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; each further attempt doubles it.
    pub base_delay: Duration,
    /// The cap on a computed backoff.
    pub max_backoff: Duration,
    /// The cap on a delay the server asks for (`Retry-After`, `x-ratelimit-reset`).
    pub max_wait: Duration,
}

impl Default for RetryConfig {
    /// 8 attempts, 300 ms doubling up to 30 s, server-asked waits up to 5 minutes (as
    /// Port's integration does).
    fn default() -> Self {
        RetryConfig {
            max_attempts: 8,
            base_delay: Duration::from_millis(300),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(300),
        }
    }
}

/// How one attempt failed, as far as retrying cares.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// The server answered with a non-success status.
    Status(StatusCode, &'a HeaderMap),
    /// No usable answer: timeout, connection refused or dropped, body cut off.
    Transport,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Give up and report the failure.
    Stop,
    /// Send the request again after this delay.
    After(Duration),
    /// Fetch a new access token, then send again at once.
    RefreshToken,
}

/// The state of one request's attempts.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// Attempts made so far (1 after the first).
    pub number: u32,
    /// Whether a 401 may still refresh the token (false after one refresh, and for the token
    /// request itself).
    pub may_refresh_token: bool,
}

/// The one retry policy for Port calls (see the module docs for the rules).
pub fn retry_policy(
    outcome: Outcome<'_>,
    attempt: Attempt,
    config: &RetryConfig,
    now: SystemTime,
) -> Retry {
    if attempt.number >= config.max_attempts {
        return Retry::Stop;
    }
    match outcome {
        Outcome::Transport => Retry::After(backoff(attempt.number, config)),
        Outcome::Status(StatusCode::UNAUTHORIZED, _) if attempt.may_refresh_token => {
            Retry::RefreshToken
        }
        Outcome::Status(status, headers) if is_retryable_status(status) => {
            match server_delay(status, headers, now) {
                Some(wait) => Retry::After(crate::http::spread(wait.min(config.max_wait))),
                None => Retry::After(backoff(attempt.number, config)),
            }
        }
        Outcome::Status(..) => Retry::Stop,
    }
}

/// Whether a status is transient: rate limited, timed out, or a server fault that may pass.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// Capped exponential backoff with "equal jitter" (`crate::http::backoff`), attempts counted
/// from 1.
fn backoff(attempt: u32, config: &RetryConfig) -> Duration {
    crate::http::backoff(
        attempt.saturating_sub(1),
        config.base_delay,
        config.max_backoff,
    )
}

/// The delay the server asks for: `Retry-After` always; `x-ratelimit-reset` on a 429 or when
/// the remaining budget is 0. Both are read by `crate::http::delay`: clamped, and an
/// unreadable value means "retry later", never a panic.
pub fn server_delay(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(wait) = delay::retry_after(headers, now) {
        return Some(wait);
    }
    let exhausted =
        delay::header_number(headers, "x-ratelimit-remaining").is_some_and(|r| r <= 0.0);
    if status == StatusCode::TOO_MANY_REQUESTS || exhausted {
        return delay::ratelimit_reset(headers, now);
    }
    None
}

/// Parses a wait given as seconds, a UNIX epoch, or an HTTP date (RFC 9110) or RFC 3339
/// date, clamped to `crate::http::MAX_SERVER_DELAY`. A moment in the past means "now";
/// `None` when the value is not a wait.
pub fn parse_wait(value: &str, now: SystemTime) -> Option<Duration> {
    delay::parse_delay(value, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn first() -> Attempt {
        Attempt {
            number: 1,
            may_refresh_token: true,
        }
    }

    #[test]
    fn a_wait_is_read_as_seconds_an_epoch_or_a_date() {
        let n = now();
        assert_eq!(parse_wait("7", n), Some(Duration::from_secs(7)));
        assert_eq!(parse_wait("1.5", n), Some(Duration::from_millis(1500)));
        assert_eq!(parse_wait("1790000030", n), Some(Duration::from_secs(30)));
        assert_eq!(parse_wait("1789999000", n), Some(Duration::ZERO));
        let date = httpdate::fmt_http_date(n + Duration::from_secs(12));
        assert_eq!(parse_wait(&date, n), Some(Duration::from_secs(12)));
        // 1_790_000_000 is 2026-09-21T14:13:20Z.
        assert_eq!(
            parse_wait("2026-09-21T14:13:50Z", n),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_wait("2026-09-21T16:13:50+02:00", n),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_wait("soon", n), None);
        assert_eq!(parse_wait("-4", n), None);
    }

    #[test]
    fn a_429_waits_as_long_as_retry_after_says() {
        let h = headers(&[("retry-after", "4")]);
        let r = retry_policy(
            Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &h),
            first(),
            &RetryConfig::default(),
            now(),
        );
        let Retry::After(d) = r else { panic!("{r:?}") };
        assert!(
            d >= Duration::from_secs(4) && d <= Duration::from_millis(4_400),
            "{d:?}"
        );
    }

    #[test]
    fn a_429_without_retry_after_waits_for_the_rate_limit_reset_given_as_an_epoch() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1790000020"),
        ]);
        let r = retry_policy(
            Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &h),
            first(),
            &RetryConfig::default(),
            now(),
        );
        let Retry::After(d) = r else { panic!("{r:?}") };
        assert!(
            d >= Duration::from_secs(20) && d <= Duration::from_secs(21),
            "{d:?}"
        );
    }

    #[test]
    fn a_server_asked_wait_is_capped() {
        let h = headers(&[("retry-after", "86400")]);
        let cfg = RetryConfig {
            max_wait: Duration::from_secs(2),
            ..RetryConfig::default()
        };
        let r = retry_policy(
            Outcome::Status(StatusCode::SERVICE_UNAVAILABLE, &h),
            first(),
            &cfg,
            now(),
        );
        let Retry::After(d) = r else { panic!("{r:?}") };
        assert!(d <= Duration::from_millis(2_200), "{d:?}");
    }

    #[test]
    fn absurd_server_delays_are_capped_and_never_panic() {
        let cfg = RetryConfig::default();
        for value in [
            "1e20",
            "1e300",
            "-5",
            "garbage",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            for name in ["retry-after", "x-ratelimit-reset"] {
                let h = headers(&[(name, value), ("x-ratelimit-remaining", "0")]);
                let r = retry_policy(
                    Outcome::Status(StatusCode::TOO_MANY_REQUESTS, &h),
                    first(),
                    &cfg,
                    now(),
                );
                let Retry::After(d) = r else { panic!("{r:?}") };
                assert!(
                    d <= cfg.max_wait + Duration::from_secs(1),
                    "{name}: {value}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn the_reset_header_is_ignored_while_budget_remains_on_a_server_error() {
        let h = headers(&[
            ("x-ratelimit-remaining", "50"),
            ("x-ratelimit-reset", "200"),
        ]);
        assert_eq!(
            server_delay(StatusCode::BAD_GATEWAY, &h, now()),
            None,
            "a 502 with budget left should back off, not wait for the window"
        );
    }

    #[test]
    fn backoff_doubles_and_stays_under_its_cap() {
        let cfg = RetryConfig::default();
        for n in 1..cfg.max_attempts {
            let d = backoff(n, &cfg);
            let full = cfg
                .base_delay
                .saturating_mul(1 << (n - 1))
                .min(cfg.max_backoff);
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?} vs {full:?}");
        }
        assert!(backoff(64, &cfg) <= cfg.max_backoff);
    }

    #[test]
    fn transient_failures_are_retried_and_client_errors_are_not() {
        let h = HeaderMap::new();
        let cfg = RetryConfig::default();
        for status in [408, 429, 500, 502, 503, 504] {
            let s = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(
                    retry_policy(Outcome::Status(s, &h), first(), &cfg, now()),
                    Retry::After(_)
                ),
                "{status}"
            );
        }
        for status in [400, 403, 404, 409, 413, 422, 501] {
            let s = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                retry_policy(Outcome::Status(s, &h), first(), &cfg, now()),
                Retry::Stop,
                "{status}"
            );
        }
        assert!(matches!(
            retry_policy(Outcome::Transport, first(), &cfg, now()),
            Retry::After(_)
        ));
    }

    #[test]
    fn a_401_refreshes_the_token_once_then_stops() {
        let h = HeaderMap::new();
        let cfg = RetryConfig::default();
        let out = Outcome::Status(StatusCode::UNAUTHORIZED, &h);
        assert_eq!(retry_policy(out, first(), &cfg, now()), Retry::RefreshToken);
        let after_refresh = Attempt {
            number: 2,
            may_refresh_token: false,
        };
        assert_eq!(retry_policy(out, after_refresh, &cfg, now()), Retry::Stop);
    }

    #[test]
    fn attempts_are_bounded() {
        let cfg = RetryConfig::default();
        let last = Attempt {
            number: cfg.max_attempts,
            may_refresh_token: true,
        };
        assert_eq!(
            retry_policy(Outcome::Transport, last, &cfg, now()),
            Retry::Stop
        );
    }
}
