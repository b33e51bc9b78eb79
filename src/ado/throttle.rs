//! One throttle per organization, shared by every request to it.
//!
//! ADO meters each identity in TSTUs over a sliding five-minute window and, when close,
//! answers with `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//! (epoch seconds); when it refuses or delays it adds `Retry-After`. The throttle reads
//! all of them and slows down *before* ADO says 429:
//!
//! - a `Retry-After` (on any status) pauses every request until it has passed;
//! - an `X-RateLimit-Delay` (ADO held this request back that long: the identity is over
//!   its budget) pauses every request as long again, so the next ones are not held too;
//! - while a budget is known, each request spends one unit of a local estimate (so the
//!   requests already in flight count), and when the estimate reaches zero every request
//!   waits for the reset; below a reserve, requests are spread evenly until the reset.
//!
//! Every header is read by `crate::http::delay` (clamped, never a panic) and every pause
//! is capped by the throttle's `max_pause`. The throttle only decides *when* a request may
//! start; the retry policy (`retry.rs`) decides whether a failed one is tried again.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

use crate::http::delay;

/// The longest single pause the throttle accepts from a header (ADO's window is 5 minutes).
pub const MAX_PAUSE: Duration = Duration::from_secs(360);

/// Shared pacing state for one organization.
#[derive(Debug)]
pub struct Throttle {
    state: Mutex<State>,
    max_pause: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

#[derive(Debug, Default)]
struct State {
    /// No request starts before this instant.
    paused_until: Option<Instant>,
    /// Units left in the current window, as last reported minus requests started since.
    remaining: Option<f64>,
    /// The window's limit, when reported.
    limit: Option<f64>,
    /// When the window resets.
    reset_at: Option<Instant>,
    /// The reset as ADO sent it (epoch seconds), to tell windows apart.
    reset_epoch: Option<f64>,
    /// The earliest start of the next paced request (below the reserve).
    next_paced: Option<Instant>,
    /// Requests started and not yet answered: the server may not have counted them yet.
    inflight: usize,
}

impl Throttle {
    /// A throttle with no knowledge of the budget yet, pausing at most [`MAX_PAUSE`] at a time.
    #[must_use]
    pub fn new() -> Self {
        Throttle::with_max_pause(MAX_PAUSE)
    }

    /// A throttle whose pauses from headers last at most `max_pause` each.
    #[must_use]
    pub fn with_max_pause(max_pause: Duration) -> Self {
        Throttle {
            state: Mutex::new(State::default()),
            max_pause: max_pause.min(crate::http::MAX_SERVER_DELAY),
        }
    }

    /// Waits until a request may start, then counts it against the known budget.
    pub async fn acquire(&self) {
        loop {
            let wait = self.reserve(Instant::now());
            match wait {
                None => return,
                Some(d) => {
                    crate::http::waits::record(crate::http::waits::Api::Ado, d);
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// `None` when a request may start now (and spends a unit), else how long to wait.
    fn reserve(&self, now: Instant) -> Option<Duration> {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = s.paused_until {
            if until > now {
                return Some(until - now);
            }
            s.paused_until = None;
        }
        if let Some(reset) = s.reset_at
            && reset <= now
        {
            // A new window: the budget is unknown again until headers say otherwise.
            s.remaining = None;
            s.reset_at = None;
            s.reset_epoch = None;
            s.next_paced = None;
        }
        if let (Some(remaining), Some(reset)) = (s.remaining, s.reset_at) {
            if remaining < 1.0 {
                return Some(reset - now);
            }
            let reserve = s.limit.map_or(10.0, |l| (l * 0.1).max(2.0));
            if remaining <= reserve {
                if let Some(next) = s.next_paced
                    && next > now
                {
                    return Some(next - now);
                }
                let spacing = (reset - now).div_f64(remaining.max(1.0));
                s.next_paced = Some(now + spacing);
            }
            s.remaining = Some(remaining - 1.0);
        }
        s.inflight += 1;
        None
    }

    /// Ends a request started by [`Throttle::acquire`], learning from its headers if any.
    pub fn finish(&self, headers: Option<&HeaderMap>) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.inflight = s.inflight.saturating_sub(1);
        if let Some(headers) = headers {
            self.observe_locked(&mut s, headers);
        }
    }

    /// Learns from a response's headers (any status) outside of a request's life.
    pub fn observe(&self, headers: &HeaderMap) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.observe_locked(&mut s, headers);
    }

    fn observe_locked(&self, s: &mut State, headers: &HeaderMap) {
        let now = Instant::now();
        let wall = SystemTime::now();
        let remaining = delay::header_number(headers, "x-ratelimit-remaining");
        let limit = delay::header_number(headers, "x-ratelimit-limit");
        let reset_epoch = delay::header_number(headers, "x-ratelimit-reset");
        let reset = reset_epoch
            .and_then(|_| delay::ratelimit_reset(headers, wall))
            .map(|ahead| now + ahead.min(self.max_pause));
        if let Some(wait) = delay::retry_after(headers, wall) {
            pause_locked(s, now + wait.min(self.max_pause));
        }
        if let Some(held) = delay::ratelimit_delay(headers).filter(|d| !d.is_zero()) {
            pause_locked(s, now + held.min(self.max_pause));
        }
        if let Some(limit) = limit {
            s.limit = Some(limit);
        }
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            // Headers lag the requests still in flight (the server may count them already):
            // subtract them, and never raise the local estimate within the same window.
            let remaining = (remaining - s.inflight as f64).max(0.0);
            let same_window = s.reset_epoch.is_some() && s.reset_epoch == reset_epoch;
            let estimate = match s.remaining {
                Some(current) if same_window => current.min(remaining),
                _ => remaining,
            };
            s.remaining = Some(estimate);
            s.reset_at = Some(reset);
            s.reset_epoch = reset_epoch;
        }
    }

    /// Pauses every request until `until` (never shortens an existing pause).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pause_locked(&mut s, until);
    }
}

fn pause_locked(s: &mut State, until: Instant) {
    if s.paused_until.is_none_or(|p| p < until) {
        s.paused_until = Some(until);
    }
}

/// `Retry-After` as a delay (delta-seconds or an HTTP date), clamped as
/// `crate::http::delay` reads every server delay.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    delay::retry_after(headers, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn epoch_in(secs: u64) -> String {
        (SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + secs)
            .to_string()
    }

    #[test]
    fn with_no_budget_known_requests_start_at_once() {
        let t = Throttle::new();
        for _ in 0..100 {
            assert_eq!(t.reserve(Instant::now()), None);
        }
    }

    #[test]
    fn retry_after_pauses_everyone() {
        let t = Throttle::new();
        t.observe(&headers(&[("retry-after", "3".into())]));
        let wait = t.reserve(Instant::now()).unwrap();
        assert!(wait > Duration::from_secs(2) && wait <= Duration::from_secs(3));
    }

    #[test]
    fn an_exhausted_budget_waits_for_the_reset_before_ado_refuses() {
        let t = Throttle::new();
        t.observe(&headers(&[
            ("x-ratelimit-limit", "100".into()),
            ("x-ratelimit-remaining", "3".into()),
            ("x-ratelimit-reset", epoch_in(30)),
        ]));
        let now = Instant::now();
        // Three units left: they are paced, then the fourth request waits for the reset.
        let mut started = 0;
        let mut t_now = now;
        while started < 3 {
            match t.reserve(t_now) {
                None => started += 1,
                Some(d) => t_now += d,
            }
        }
        let wait = t.reserve(t_now).unwrap();
        assert!(t_now + wait >= now + Duration::from_secs(29), "{wait:?}");
    }

    #[test]
    fn stale_headers_never_raise_the_estimate_within_a_window() {
        let t = Throttle::new();
        let reset = epoch_in(60);
        let h = |r: &str| {
            headers(&[
                ("x-ratelimit-limit", "100".into()),
                ("x-ratelimit-remaining", r.into()),
                ("x-ratelimit-reset", reset.clone()),
            ])
        };
        t.observe(&h("1"));
        assert_eq!(t.reserve(Instant::now()), None);
        t.observe(&h("50"));
        assert!(t.reserve(Instant::now()).is_some());
    }

    #[test]
    fn a_request_ado_held_back_slows_everyone_down() {
        let t = Throttle::new();
        t.observe(&headers(&[("x-ratelimit-delay", "0.500".into())]));
        let wait = t.reserve(Instant::now()).unwrap();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
    }

    #[test]
    fn absurd_pause_headers_are_capped_by_the_throttles_max_pause() {
        let t = Throttle::with_max_pause(Duration::from_secs(2));
        for (name, value) in [
            ("retry-after", "1e300"),
            ("retry-after", "-7"),
            ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
            ("x-ratelimit-delay", "1e20"),
        ] {
            t.observe(&headers(&[(name, value.into())]));
            let wait = t.reserve(Instant::now()).unwrap();
            assert!(wait <= Duration::from_secs(2), "{name}: {value}: {wait:?}");
        }
        t.observe(&headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", "1e300".into()),
        ]));
    }

    #[test]
    fn retry_after_accepts_an_http_date() {
        let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let d = retry_after(&headers(&[("retry-after", when)])).unwrap();
        assert!(d <= Duration::from_secs(10) && d >= Duration::from_secs(8));
    }
}
