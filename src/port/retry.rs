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
//! `x-ratelimit-remaining` is 0; seconds, a UNIX epoch when large, or an HTTP date). A 401
//! refreshes the token once. Everything else stops. POSTs are retried too: every POST this
//! client sends is an idempotent upsert, delete, search or token request.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

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
                Some(wait) => Retry::After(with_small_jitter(wait.min(config.max_wait))),
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

/// Capped exponential backoff with "equal jitter": half fixed, half random.
fn backoff(attempt: u32, config: &RetryConfig) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let full = config
        .base_delay
        .saturating_mul(1u32 << exp)
        .min(config.max_backoff);
    let half = full / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Up to 10% (at most one second) on top of a server-asked wait, so that clients told the
/// same reset time do not all return in the same instant.
fn with_small_jitter(wait: Duration) -> Duration {
    let spread = (wait / 10).min(Duration::from_secs(1));
    wait + spread.mul_f64(fastrand::f64())
}

/// The delay the server asks for: `Retry-After` always; `x-ratelimit-reset` on a 429 or when
/// the remaining budget is 0.
pub fn server_delay(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(wait) = header_str(headers, RETRY_AFTER.as_str()).and_then(|v| parse_wait(v, now)) {
        return Some(wait);
    }
    let exhausted = header_str(headers, "x-ratelimit-remaining")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .is_some_and(|r| r <= 0.0);
    if status == StatusCode::TOO_MANY_REQUESTS || exhausted {
        return header_str(headers, "x-ratelimit-reset").and_then(|v| parse_wait(v, now));
    }
    None
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Numbers at or above this are UNIX epoch seconds, not a count of seconds (Port's docs say
/// `x-ratelimit-reset` is an epoch; other clients read it as seconds until reset).
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;

/// Parses a wait given as seconds, a UNIX epoch, or an HTTP date (RFC 9110) or RFC 3339
/// date. A moment in the past means "now".
pub fn parse_wait(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        if n >= EPOCH_THRESHOLD {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(n);
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
        return Some(Duration::from_secs_f64(n));
    }
    let at = httpdate::parse_http_date(value)
        .ok()
        .or_else(|| parse_rfc3339(value))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A minimal RFC 3339 reader (`2026-11-26T07:30:00Z`, optional fraction, `Z` or offset).
fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { value.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &value[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_secs_f64(frac))
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
