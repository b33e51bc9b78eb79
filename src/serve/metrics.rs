//! What `serve` counts, and the Prometheus text `GET /metrics` answers with.
//!
//! Counters live here, in memory, and restart from zero with the process (Prometheus
//! handles resets); the queue's gauges (depth, oldest age, dead letters) are read from the
//! queue database at scrape time, so they survive restarts. Label values that come from
//! the wire (an unknown `eventType`) are cleaned and capped at [`MAX_UNKNOWN_TYPES`]
//! distinct values, so a sender cannot grow the scrape without bound.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lease::LeaseInfo;
use super::queue::Stats;

/// The waits ADO's and Port's rate limits caused (`crate::http::waits`).
fn rate_limit_waits(out: &mut String) {
    use crate::http::waits::{Api, total};
    let apis = [("ado", total(Api::Ado)), ("port", total(Api::Port))];
    family(
        out,
        "adoport_rate_limit_waits_total",
        "counter",
        "Requests held back or retried because an API's rate limit said so, by api.",
    );
    for (api, (n, _)) in &apis {
        let _ = writeln!(out, "adoport_rate_limit_waits_total{{api=\"{api}\"}} {n}");
    }
    family(
        out,
        "adoport_rate_limit_wait_seconds_total",
        "counter",
        "Time spent waiting for an API's rate limit, by api.",
    );
    for (api, (_, waited)) in &apis {
        let _ = writeln!(
            out,
            "adoport_rate_limit_wait_seconds_total{{api=\"{api}\"}} {:.3}",
            waited.as_secs_f64()
        );
    }
}

/// Distinct unknown event types counted by name; the rest count as `other`.
pub const MAX_UNKNOWN_TYPES: usize = 32;

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// No or wrong basic auth (401).
    Unauthorized,
    /// Body over the limit (413).
    TooLarge,
    /// Not JSON, or not an envelope (400).
    Malformed,
    /// The queue could not take it (500).
    Failed,
}

impl Rejection {
    fn label(self) -> &'static str {
        match self {
            Rejection::Unauthorized => "unauthorized",
            Rejection::TooLarge => "too_large",
            Rejection::Malformed => "malformed",
            Rejection::Failed => "failed",
        }
    }
}

/// The last finished resync, for the gauges.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LastResync {
    /// How long it took.
    pub duration: Duration,
    /// Whether it succeeded.
    pub ok: bool,
    /// Whether every kind was read completely.
    pub complete: bool,
    /// Entities mapped per kind.
    pub entities: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Counters {
    received: BTreeMap<String, u64>,
    accepted: BTreeMap<String, u64>,
    rejected: BTreeMap<Rejection, u64>,
    unknown: BTreeMap<String, u64>,
    signals: BTreeMap<String, u64>,
    coalesced: u64,
    handled: BTreeMap<&'static str, u64>,
    batches: BTreeMap<&'static str, u64>,
    resyncs: BTreeMap<&'static str, u64>,
    superseded: u64,
    resync_running: bool,
    last_resync: Option<LastResync>,
    incremental: BTreeMap<&'static str, u64>,
    recent: BTreeMap<String, VecDeque<(u64, u64)>>,
}

/// The span [`Metrics::event_rates`] averages over.
pub const RATE_WINDOW: Duration = Duration::from_secs(300);

/// The width of one bucket of the rate window.
const RATE_BUCKET: Duration = Duration::from_secs(10);

/// Events of one type: how many lately, and since the process started.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRate {
    /// `eventType`.
    pub event_type: String,
    /// Accepted per minute, over [`RATE_WINDOW`] (or the process's life, when shorter).
    pub per_minute: f64,
    /// Accepted since the process started.
    pub total: u64,
}

/// The process's counters; cheap to share (`Arc<Metrics>`).
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<Counters>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            counters: Mutex::default(),
            started: Instant::now(),
        }
    }
}

/// An outcome of handling a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalOutcome {
    /// Handled: the catalog matches ADO for it.
    Done,
    /// Nothing this version can do for it (a kind it does not fetch).
    Skipped,
    /// Will be tried again.
    Retried,
    /// Given up on: in the dead letters.
    Dead,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut counters)
    }

    /// An envelope of `event_type` arrived (known or not).
    pub fn received(&self, event_type: &str, known: bool) {
        let label = if known {
            event_type.to_owned()
        } else {
            "unknown".to_owned()
        };
        self.with(|c| *c.received.entry(label).or_default() += 1);
        if !known {
            let name = clean(event_type);
            self.with(|c| {
                let key = if c.unknown.contains_key(&name) || c.unknown.len() < MAX_UNKNOWN_TYPES {
                    name
                } else {
                    "other".to_owned()
                };
                *c.unknown.entry(key).or_default() += 1;
            });
        }
    }

    /// The bucket of the rate window `at` falls in.
    fn bucket(&self, at: Instant) -> u64 {
        (at.duration_since(self.started).as_secs()) / RATE_BUCKET.as_secs()
    }

    /// An event of `event_type` was queued as `new` + `coalesced` signals of `kinds`.
    pub fn accepted(&self, event_type: &str, kinds: &[String], coalesced: usize) {
        let bucket = self.bucket(Instant::now());
        let kept = RATE_WINDOW.as_secs() / RATE_BUCKET.as_secs();
        self.with(|c| {
            let recent = c.recent.entry(event_type.to_owned()).or_default();
            match recent.back_mut() {
                Some((b, n)) if *b == bucket => *n += 1,
                _ => recent.push_back((bucket, 1)),
            }
            while recent.front().is_some_and(|(b, _)| b + kept < bucket) {
                recent.pop_front();
            }
            *c.accepted.entry(event_type.to_owned()).or_default() += 1;
            for kind in kinds {
                *c.signals.entry(kind.clone()).or_default() += 1;
            }
            c.coalesced += coalesced as u64;
        });
    }

    /// Events accepted per type: per minute lately, and in all, busiest first.
    #[must_use]
    pub fn event_rates(&self) -> Vec<EventRate> {
        let now = Instant::now();
        let bucket = self.bucket(now);
        let kept = RATE_WINDOW.as_secs() / RATE_BUCKET.as_secs();
        let span = now
            .duration_since(self.started)
            .min(RATE_WINDOW)
            .as_secs_f64()
            .max(1.0);
        let mut out: Vec<EventRate> = self.with(|c| {
            c.accepted
                .iter()
                .map(|(event_type, total)| {
                    let recent: u64 = c.recent.get(event_type).map_or(0, |r| {
                        r.iter()
                            .filter(|(b, _)| b + kept >= bucket)
                            .map(|(_, n)| n)
                            .sum()
                    });
                    EventRate {
                        event_type: event_type.clone(),
                        per_minute: recent as f64 * 60.0 / span,
                        total: *total,
                    }
                })
                .collect()
        });
        out.sort_by(|a, b| {
            b.per_minute
                .total_cmp(&a.per_minute)
                .then(b.total.cmp(&a.total))
        });
        out
    }

    /// Requests refused, by reason.
    #[must_use]
    pub fn rejections(&self) -> BTreeMap<&'static str, u64> {
        self.with(|c| c.rejected.iter().map(|(k, v)| (k.label(), *v)).collect())
    }

    /// A request was refused.
    pub fn rejected(&self, why: Rejection) {
        self.with(|c| *c.rejected.entry(why).or_default() += 1);
    }

    /// A batch was handled: `ok`, `retry` (the whole batch failed and waits) or `dead`.
    pub fn batch(&self, outcome: &'static str) {
        self.with(|c| *c.batches.entry(outcome).or_default() += 1);
    }

    /// Signals reached `outcome`.
    pub fn signals(&self, outcome: SignalOutcome, n: usize) {
        let label = match outcome {
            SignalOutcome::Done => "done",
            SignalOutcome::Skipped => "skipped",
            SignalOutcome::Retried => "retried",
            SignalOutcome::Dead => "dead",
        };
        self.with(|c| *c.handled.entry(label).or_default() += n as u64);
    }

    /// Signals a complete resync made unnecessary.
    pub fn superseded(&self, n: usize) {
        self.with(|c| c.superseded += n as u64);
    }

    /// A resync started.
    pub fn resync_started(&self) {
        self.with(|c| c.resync_running = true);
    }

    /// A resync finished.
    pub fn resync_finished(&self, last: LastResync) {
        self.with(|c| {
            c.resync_running = false;
            *c.resyncs
                .entry(if last.ok { "ok" } else { "failed" })
                .or_default() += 1;
            c.last_resync = Some(last);
        });
    }

    /// An incremental pass ended: `ok`, `partial` (some kinds could not be read) or
    /// `failed`.
    pub fn incremental(&self, outcome: &'static str) {
        self.with(|c| *c.incremental.entry(outcome).or_default() += 1);
    }

    /// The Prometheus text exposition, with the queue's gauges from `queue`.
    #[must_use]
    pub fn render(&self, queue: Option<&Stats>) -> String {
        let mut out = String::new();
        self.with(|c| {
            family(
                &mut out,
                "adoport_events_received_total",
                "counter",
                "Webhook envelopes received, by eventType (unknown types as `unknown`).",
            );
            labelled(
                &mut out,
                "adoport_events_received_total",
                "type",
                &c.received,
            );
            family(
                &mut out,
                "adoport_events_accepted_total",
                "counter",
                "Events committed to the queue, by eventType.",
            );
            labelled(
                &mut out,
                "adoport_events_accepted_total",
                "type",
                &c.accepted,
            );
            family(
                &mut out,
                "adoport_events_rejected_total",
                "counter",
                "Requests refused, by reason (unauthorized, too_large, malformed, failed).",
            );
            let rejected: BTreeMap<&str, u64> =
                c.rejected.iter().map(|(k, v)| (k.label(), *v)).collect();
            labelled(
                &mut out,
                "adoport_events_rejected_total",
                "reason",
                &rejected,
            );
            family(
                &mut out,
                "adoport_events_unknown_total",
                "counter",
                "Events of a type adoport does not handle (answered 202), by eventType.",
            );
            labelled(&mut out, "adoport_events_unknown_total", "type", &c.unknown);
            family(
                &mut out,
                "adoport_signals_enqueued_total",
                "counter",
                "Signals queued, by kind.",
            );
            labelled(
                &mut out,
                "adoport_signals_enqueued_total",
                "kind",
                &c.signals,
            );
            family(
                &mut out,
                "adoport_signals_coalesced_total",
                "counter",
                "Signals folded into one already queued for the same entity.",
            );
            let _ = writeln!(out, "adoport_signals_coalesced_total {}", c.coalesced);
            family(
                &mut out,
                "adoport_signals_handled_total",
                "counter",
                "Signals by outcome: done, skipped, retried, dead.",
            );
            labelled(
                &mut out,
                "adoport_signals_handled_total",
                "outcome",
                &c.handled,
            );
            family(
                &mut out,
                "adoport_signals_superseded_total",
                "counter",
                "Queued signals a complete resync handled.",
            );
            let _ = writeln!(out, "adoport_signals_superseded_total {}", c.superseded);
            family(
                &mut out,
                "adoport_batches_total",
                "counter",
                "Batches handed to the handler, by outcome.",
            );
            labelled(&mut out, "adoport_batches_total", "outcome", &c.batches);
            family(
                &mut out,
                "adoport_resyncs_total",
                "counter",
                "Resyncs, by outcome.",
            );
            labelled(&mut out, "adoport_resyncs_total", "outcome", &c.resyncs);
            family(
                &mut out,
                "adoport_incremental_passes_total",
                "counter",
                "Incremental passes between full resyncs, by outcome (ok, partial, failed).",
            );
            labelled(
                &mut out,
                "adoport_incremental_passes_total",
                "outcome",
                &c.incremental,
            );
            family(
                &mut out,
                "adoport_resync_running",
                "gauge",
                "1 while a resync runs.",
            );
            let _ = writeln!(out, "adoport_resync_running {}", u8::from(c.resync_running));
            if let Some(last) = &c.last_resync {
                family(
                    &mut out,
                    "adoport_resync_last_duration_seconds",
                    "gauge",
                    "How long the last resync took.",
                );
                let _ = writeln!(
                    out,
                    "adoport_resync_last_duration_seconds {:.3}",
                    last.duration.as_secs_f64()
                );
                family(
                    &mut out,
                    "adoport_resync_last_complete",
                    "gauge",
                    "1 when the last resync read every kind completely.",
                );
                let _ = writeln!(
                    out,
                    "adoport_resync_last_complete {}",
                    u8::from(last.complete && last.ok)
                );
                family(
                    &mut out,
                    "adoport_resync_last_entities",
                    "gauge",
                    "Entities the last resync mapped, by kind.",
                );
                labelled(
                    &mut out,
                    "adoport_resync_last_entities",
                    "kind",
                    &last.entities,
                );
            }
        });
        rate_limit_waits(&mut out);
        if let Some(q) = queue {
            let secs = |ms: Option<u64>| ms.map_or(0.0, |ms| ms as f64 / 1000.0);
            family(
                &mut out,
                "adoport_queue_pending",
                "gauge",
                "Signals waiting in the queue (due or backing off).",
            );
            let _ = writeln!(out, "adoport_queue_pending {}", q.pending);
            family(&mut out, "adoport_queue_due", "gauge", "Signals due now.");
            let _ = writeln!(out, "adoport_queue_due {}", q.due);
            family(
                &mut out,
                "adoport_queue_oldest_age_seconds",
                "gauge",
                "Age of the oldest queued signal's first event.",
            );
            let _ = writeln!(
                out,
                "adoport_queue_oldest_age_seconds {:.3}",
                secs(q.oldest_age_ms)
            );
            family(
                &mut out,
                "adoport_queue_dead_letters",
                "gauge",
                "Signals given up on (adoport status lists them).",
            );
            let _ = writeln!(out, "adoport_queue_dead_letters {}", q.dead);
        }
        out
    }
}

/// The resync lease's gauges (replicas sharing a NATS queue): whether the replica
/// answering holds it, and who does.
pub fn render_lease(out: &mut String, lease: &LeaseInfo) {
    family(
        out,
        "adoport_resync_lease_held",
        "gauge",
        "1 while this replica holds the resync lease (and so runs the interval resync).",
    );
    let _ = writeln!(
        out,
        "adoport_resync_lease_held {}",
        u8::from(lease.held_here())
    );
    family(
        out,
        "adoport_resync_lease_holder",
        "gauge",
        "The replica holding the resync lease (1), by name; absent while nobody does.",
    );
    if let Some(holder) = &lease.holder {
        let _ = writeln!(
            out,
            "adoport_resync_lease_holder{{replica=\"{}\"}} 1",
            escape(holder)
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labelled<K: AsRef<str>>(out: &mut String, name: &str, label: &str, values: &BTreeMap<K, u64>) {
    for (k, v) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {v}", escape(k.as_ref()));
    }
}

/// A label value as Prometheus reads it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A wire value fit for a label: at most 100 characters of `[A-Za-z0-9._-]`, others `_`.
fn clean(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_cleaned_and_capped() {
        let m = Metrics::default();
        for i in 0..(MAX_UNKNOWN_TYPES + 5) {
            m.received(&format!("x{i}\"\n"), false);
        }
        let text = m.render(None);
        assert!(
            text.contains("adoport_events_unknown_total{type=\"x0__\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("adoport_events_unknown_total{type=\"other\"} 5"),
            "{text}"
        );
        assert!(text.contains(&format!(
            "adoport_events_received_total{{type=\"unknown\"}} {}",
            MAX_UNKNOWN_TYPES + 5
        )));
    }
}
