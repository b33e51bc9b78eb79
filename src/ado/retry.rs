//! The retry policy: one function decides whether and when a failed request is retried.
//!
//! Retried: 429 (after its `Retry-After`, else backoff), 408, 5xx, timeouts, dropped
//! connections and bodies cut short; GET and the idempotent POSTs this crate sends (WIQL,
//! batch reads) alike. Never retried: 401/403 (a bad or under-scoped PAT does not heal:
//! Port's integration retries it ten times, six minutes apart), 404 and other 4xx.
//! Backoff is exponential with jitter, capped (`crate::http::backoff`); a server-asked wait
//! (`Retry-After`, read and clamped by `crate::http::delay`) is capped by `max_wait`.

use std::time::Duration;

use super::client::Error;

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Give up: the error is final.
    Stop,
    /// Try again after this delay.
    After(Duration),
}

/// Bounds of the retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff step.
    pub base: Duration,
    /// No single computed backoff is longer than this.
    pub cap: Duration,
    /// No wait a server asks for (`Retry-After`, a throttle pause) is longer than this.
    pub max_wait: Duration,
}

impl Default for RetryConfig {
    /// Six retries from 500 ms, capped at 60 s: about two minutes before giving up; a
    /// server-asked wait of at most ADO's window (six minutes).
    fn default() -> Self {
        RetryConfig {
            max_retries: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            max_wait: super::throttle::MAX_PAUSE,
        }
    }
}

/// Decides whether attempt number `attempt` (0-based) that failed with `err` is retried.
#[must_use]
pub fn error_policy(err: &Error, attempt: u32, config: &RetryConfig) -> Retry {
    if attempt >= config.max_retries || !err.is_retryable() {
        return Retry::Stop;
    }
    if let Error::RateLimited {
        retry_after: Some(after),
        ..
    } = err
    {
        return Retry::After((*after).min(config.max_wait));
    }
    Retry::After(backoff(attempt, config))
}

/// Exponential backoff with jitter: uniform in `[step/2, step]`, `step = base·2^attempt ≤ cap`.
#[must_use]
pub fn backoff(attempt: u32, config: &RetryConfig) -> Duration {
    crate::http::backoff(attempt, config.base, config.cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RetryConfig {
        RetryConfig {
            max_retries: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            max_wait: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..10 {
            let d = backoff(attempt, &config());
            assert!(d <= Duration::from_millis(300), "{d:?}");
            assert!(d >= Duration::from_millis(50), "{d:?}");
        }
        assert!(backoff(0, &config()) <= Duration::from_millis(100));
    }

    #[test]
    fn server_errors_are_retried_until_the_budget_is_spent() {
        let err = Error::Status {
            url: "u".into(),
            status: 503,
            body: String::new(),
            type_key: None,
        };
        assert!(matches!(error_policy(&err, 0, &config()), Retry::After(_)));
        assert_eq!(error_policy(&err, 3, &config()), Retry::Stop);
    }

    #[test]
    fn auth_failures_and_missing_resources_are_final() {
        let unauthorized = Error::Unauthorized {
            url: "u".into(),
            status: 401,
            scope: super::super::client::Scope::Code,
        };
        assert_eq!(error_policy(&unauthorized, 0, &config()), Retry::Stop);
        let not_found = Error::NotFound {
            url: "u".into(),
            type_key: None,
            detail: String::new(),
        };
        assert_eq!(error_policy(&not_found, 0, &config()), Retry::Stop);
        let bad_request = Error::Status {
            url: "u".into(),
            status: 400,
            body: String::new(),
            type_key: None,
        };
        assert_eq!(error_policy(&bad_request, 0, &config()), Retry::Stop);
    }

    #[test]
    fn a_server_asked_wait_is_capped_by_max_wait() {
        let err = Error::RateLimited {
            url: "u".into(),
            retry_after: Some(crate::http::MAX_SERVER_DELAY),
        };
        assert_eq!(
            error_policy(&err, 0, &config()),
            Retry::After(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_429_waits_for_its_retry_after() {
        let err = Error::RateLimited {
            url: "u".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            error_policy(&err, 0, &config()),
            Retry::After(Duration::from_secs(2))
        );
    }
}
