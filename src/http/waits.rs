//! Waits a rate limit caused, counted for the whole process: every ADO request the
//! throttle held back (pacing below the reserve, or a pause an answer's `Retry-After` /
//! `X-RateLimit-Reset` asked for), every ADO retry after a 429, and every Port retry after a
//! 429. `serve` shows them on `/metrics`; they tell an operator that the bound on work is
//! the API's budget, not adoport.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which API made the process wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Azure DevOps.
    Ado,
    /// Port.
    Port,
}

struct Counter {
    waits: AtomicU64,
    millis: AtomicU64,
}

static ADO: Counter = Counter {
    waits: AtomicU64::new(0),
    millis: AtomicU64::new(0),
};
static PORT: Counter = Counter {
    waits: AtomicU64::new(0),
    millis: AtomicU64::new(0),
};

fn counter(api: Api) -> &'static Counter {
    match api {
        Api::Ado => &ADO,
        Api::Port => &PORT,
    }
}

/// Counts one wait of `waited` that `api`'s rate limit caused.
pub fn record(api: Api, waited: Duration) {
    let c = counter(api);
    c.waits.fetch_add(1, Ordering::Relaxed);
    c.millis.fetch_add(
        u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// The waits `api` caused so far, and their total length.
#[must_use]
pub fn total(api: Api) -> (u64, Duration) {
    let c = counter(api);
    (
        c.waits.load(Ordering::Relaxed),
        Duration::from_millis(c.millis.load(Ordering::Relaxed)),
    )
}
