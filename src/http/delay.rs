//! Delays: the ones a server asks for in headers, and the ones a client computes (backoff).
//!
//! A server-given delay is data from outside: `Retry-After: 1e20`, a negative number, a date
//! in the year 9999 or plain garbage must neither panic (`Duration::from_secs_f64` does on
//! overflow) nor park a run for ever. Every delay read here is therefore clamped to
//! [`MAX_SERVER_DELAY`]; a value that cannot be read as a delay at all is taken as "retry
//! later" and becomes [`UNUSABLE_DELAY`], with a warning naming the header. Each client
//! caps these further with its own policy.
//!
//! Accepted forms: seconds (`7`, `1.5`); a UNIX epoch when the number is at least
//! 1,000,000,000 (Port documents `x-ratelimit-reset` as an epoch, other clients read it as
//! seconds: both are handled); an HTTP date (RFC 9110); an RFC 3339 timestamp. A moment in
//! the past means "now".

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// No delay a server asks for is waited longer than this.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(600);
/// The wait for a delay header that cannot be read (negative, not a number, not a date).
pub const UNUSABLE_DELAY: Duration = Duration::from_secs(60);

/// Numbers at or above this are UNIX epoch seconds, not a count of seconds.
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;

/// Seconds from `now` until the moment `value` names: may be huge, never negative;
/// `None` when `value` is not a delay at all.
fn seconds_ahead(value: &str, now: SystemTime) -> Option<f64> {
    let value = value.trim();
    let now_secs = match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        if n >= EPOCH_THRESHOLD {
            return Some((n - now_secs).max(0.0));
        }
        return Some(n);
    }
    let at_secs = if let Ok(at) = httpdate::parse_http_date(value) {
        match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(_) => 0.0,
        }
    } else {
        let at = value.parse::<jiff::Timestamp>().ok()?;
        at.as_millisecond() as f64 / 1000.0
    };
    Some((at_secs - now_secs).max(0.0))
}

/// Seconds as a `Duration` no longer than [`MAX_SERVER_DELAY`] (never panics).
fn clamp(secs: f64) -> Duration {
    let max = MAX_SERVER_DELAY.as_secs_f64();
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs.min(max)).unwrap_or(MAX_SERVER_DELAY)
}

/// Reads a delay header value (seconds, epoch, or date), clamped to [`MAX_SERVER_DELAY`];
/// `None` when the value is not a delay.
#[must_use]
pub fn parse_delay(value: &str, now: SystemTime) -> Option<Duration> {
    seconds_ahead(value, now).map(clamp)
}

/// The delay header `name` asks for: `None` when absent, clamped when huge, and
/// [`UNUSABLE_DELAY`] ("retry later") when present but unreadable. Both oddities are logged.
#[must_use]
pub fn header_delay(headers: &HeaderMap, name: &str, now: SystemTime) -> Option<Duration> {
    let raw = headers.get(name)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    match seconds_ahead(&text, now) {
        Some(secs) => {
            let wait = clamp(secs);
            if secs > MAX_SERVER_DELAY.as_secs_f64() {
                tracing::warn!(
                    header = name,
                    value = %super::one_line(&text, 60),
                    wait_secs = wait.as_secs(),
                    "the server asked for a longer delay than we ever wait; waiting the cap"
                );
            }
            Some(wait)
        }
        None => {
            tracing::warn!(
                header = name,
                value = %super::one_line(&text, 60),
                wait_secs = UNUSABLE_DELAY.as_secs(),
                "the server sent a delay header that is not a delay; retrying later"
            );
            Some(UNUSABLE_DELAY)
        }
    }
}

/// `Retry-After` (RFC 9110: seconds or an HTTP date), read as [`header_delay`] does.
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    header_delay(headers, "retry-after", now)
}

/// `x-ratelimit-reset` as the time until the reset (seconds or epoch), read as
/// [`header_delay`] does.
#[must_use]
pub fn ratelimit_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    header_delay(headers, "x-ratelimit-reset", now)
}

/// ADO's `X-RateLimit-Delay`: how long ADO held this request back (seconds, with
/// decimals), clamped. An unreadable value is logged and ignored: the header reports a
/// delay already applied, it asks for none.
#[must_use]
pub fn ratelimit_delay(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("x-ratelimit-delay")?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Some(clamp(secs)),
        _ => {
            tracing::warn!(value = %super::one_line(&text, 60), "ignoring an unreadable X-RateLimit-Delay");
            None
        }
    }
}

/// A finite, non-negative number header (`x-ratelimit-remaining`, `x-ratelimit-limit`).
#[must_use]
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

/// Exponential backoff with "equal jitter": uniform in `[full/2, full]`, where
/// `full = base·2^step` capped at `cap` (`step` counts retries from 0).
#[must_use]
pub fn backoff(step: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(step.min(20));
    let full = base.saturating_mul(factor).min(cap);
    let half = full / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Up to 10% (at most one second) on top of a server-asked wait, so that clients told the
/// same moment do not all come back at once.
#[must_use]
pub fn spread(wait: Duration) -> Duration {
    let room = (wait / 10).min(Duration::from_secs(1));
    wait + room.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_delay_is_read_as_seconds_an_epoch_or_a_date() {
        let n = now();
        assert_eq!(parse_delay("7", n), Some(Duration::from_secs(7)));
        assert_eq!(parse_delay("1.5", n), Some(Duration::from_millis(1500)));
        assert_eq!(parse_delay("1790000030", n), Some(Duration::from_secs(30)));
        assert_eq!(parse_delay("1789999000", n), Some(Duration::ZERO));
        let date = httpdate::fmt_http_date(n + Duration::from_secs(12));
        assert_eq!(parse_delay(&date, n), Some(Duration::from_secs(12)));
        // 1_790_000_000 is 2026-09-21T14:13:20Z.
        assert_eq!(
            parse_delay("2026-09-21T14:13:50Z", n),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_delay("2026-09-21T16:13:50+02:00", n),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_delay("soon", n), None);
        assert_eq!(parse_delay("-4", n), None);
    }

    #[test]
    fn absurd_server_delays_are_clamped_and_never_panic() {
        let n = now();
        for huge in [
            "1e20",
            "1e300",
            "18446744073709551616",
            "99999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "9000-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_delay(huge, n), Some(MAX_SERVER_DELAY), "{huge}");
            assert_eq!(
                retry_after(&headers("retry-after", huge), n),
                Some(MAX_SERVER_DELAY),
                "{huge}"
            );
        }
        for garbage in ["-1", "-1e300", "NaN", "inf", "soon", "", "1e400"] {
            assert_eq!(
                retry_after(&headers("retry-after", garbage), n),
                Some(UNUSABLE_DELAY),
                "{garbage:?}"
            );
        }
        assert_eq!(retry_after(&HeaderMap::new(), n), None);
        assert_eq!(
            ratelimit_reset(&headers("x-ratelimit-reset", "1e300"), n),
            Some(MAX_SERVER_DELAY)
        );
        // A clock before the epoch does not panic either.
        assert_eq!(
            parse_delay(
                "1790000030",
                SystemTime::UNIX_EPOCH - Duration::from_secs(5)
            ),
            Some(MAX_SERVER_DELAY)
        );
    }

    #[test]
    fn ados_rate_limit_delay_is_read_in_seconds_with_decimals() {
        assert_eq!(
            ratelimit_delay(&headers("x-ratelimit-delay", "0.250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            ratelimit_delay(&headers("x-ratelimit-delay", "1e300")),
            Some(MAX_SERVER_DELAY)
        );
        assert_eq!(ratelimit_delay(&headers("x-ratelimit-delay", "-3")), None);
        assert_eq!(ratelimit_delay(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_its_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(300);
        for step in 0..40 {
            let full = base
                .saturating_mul(2u32.saturating_pow(step.min(20)))
                .min(cap);
            let d = backoff(step, base, cap);
            assert!(d >= full / 2 && d <= full, "step {step}: {d:?}");
        }
    }

    #[test]
    fn a_spread_wait_adds_at_most_a_tenth_or_a_second() {
        for _ in 0..50 {
            let d = spread(Duration::from_secs(4));
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_millis(4_400));
            let d = spread(Duration::from_secs(100));
            assert!(d <= Duration::from_secs(101));
        }
    }
}
