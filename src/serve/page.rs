//! `GET /`: the status page — one server-rendered HTML page for people, no scripts and no
//! front-end build. It shows what `adoport status` shows plus what only the running process
//! knows: the config revision in force, readiness, the resync lease, the queue's depth and
//! age, the event rates by type, the last resyncs with their per-kind counts and
//! completeness, and the dead letters with their reasons.
//!
//! Every value is escaped: the page is written with `maud`, which escapes each spliced
//! value, and the only unescaped text is this module's own style sheet. Wire values
//! (reasons quoting ADO's answers, event types) therefore show as text, never as markup.
//! The page refreshes itself every [`REFRESH_SECS`] seconds.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::app::AppState;
use super::lease::LeaseInfo;
use super::metrics::{EventRate, RATE_WINDOW};
use super::queue::{self, ResyncRecord};
use super::status::{self, Status};

/// Dead letters and waiting signals shown.
pub const PAGE_LIMIT: usize = 20;
/// Resyncs shown.
pub const PAGE_RESYNCS: usize = 8;
/// How often the page reloads itself.
pub const REFRESH_SECS: u32 = 15;

/// What the page shows, gathered before rendering.
#[derive(Clone, Debug)]
pub struct View {
    /// The queue's status, or why it could not be read.
    pub status: Result<Status, String>,
    /// Accepted events per type (this process's counters).
    pub rates: Vec<EventRate>,
    /// Requests refused, by reason (this process's counters).
    pub rejections: Vec<(String, u64)>,
    /// The config revision in force.
    pub revision: Option<String>,
    /// Failing readiness checks (empty: ready).
    pub failing: Vec<(String, String)>,
    /// When the page was made (ms since the epoch).
    pub now_ms: i64,
}

/// `GET /`.
pub async fn status_page(State(state): State<AppState>) -> Response {
    let queue = state.queue.clone();
    let status = tokio::task::spawn_blocking(move || queue.status(PAGE_LIMIT, PAGE_RESYNCS))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| crate::http::error_chain(&e)));
    let failing = state
        .health
        .failing_checks(status.as_ref().ok().map(|s| &s.queue))
        .into_iter()
        .map(|(name, why)| (name.to_owned(), why))
        .collect();
    let view = View {
        status,
        rates: state.metrics.event_rates(),
        rejections: state
            .metrics
            .rejections()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        revision: state.health.revision(),
        failing,
        now_ms: queue::millis(SystemTime::now()),
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        render(&view).into_string(),
    )
        .into_response()
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1c2330}
header{background:#1c2330;color:#fff;padding:14px 24px;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:20px;margin:0}
header .sub{color:#b8c0cc}
header code{background:#2d3748;color:#fff}
main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(340px,1fr))}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;min-width:0;overflow-x:auto}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#4a5568;font-size:12px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num,td.when{white-space:nowrap}
td.reason,td.entity code{overflow-wrap:anywhere}
td.reason{min-width:16em}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}.warn{color:#9a6700;font-weight:600}
.muted{color:#6b7280}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f0f2f5;padding:1px 4px;border-radius:3px;overflow-wrap:break-word}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
dt{color:#4a5568}dd{margin:0;min-width:0}
.kinds{font-size:12px;color:#4a5568}
";

/// The page for `view`.
#[must_use]
pub fn render(view: &View) -> Markup {
    let lease = view.status.as_ref().ok().and_then(|s| s.lease.as_ref());
    let replica = lease.and_then(|l| l.replica.clone());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_SECS);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "adoport status" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "adoport" }
                    span.sub {
                        @match &replica {
                            Some(r) => { "replica " code { (r) } }
                            None => { "one process" }
                        }
                    }
                    span.sub { "as of " (status::when(view.now_ms)) }
                    @if view.failing.is_empty() {
                        span.ok id="readiness" { "ready" }
                    } @else {
                        span.bad id="readiness" { "not ready" }
                    }
                }
                main {
                    (overview(view, lease))
                    (queue_section(view))
                    (rates_section(view))
                    (resyncs_section(view))
                    (dead_section(view))
                }
            }
        }
    }
}

fn overview(view: &View, lease: Option<&LeaseInfo>) -> Markup {
    html! {
        section id="overview" {
            h2 { "Service" }
            dl {
                dt { "Config revision" }
                dd id="revision" {
                    @match &view.revision {
                        Some(r) => code { (r) },
                        None => span.muted { "a local folder (no git revision)" },
                    }
                }
                dt { "Resync lease" }
                dd id="lease" {
                    @match lease {
                        Some(l) => {
                            @if l.holder.is_some() {
                                (l.describe())
                            } @else {
                                span.warn { (l.describe()) }
                            }
                        }
                        None => "this process (one replica: no lease)",
                    }
                }
                @for (name, why) in &view.failing {
                    dt.bad { "Not ready: " (name) }
                    dd { (why) }
                }
            }
        }
    }
}

fn queue_section(view: &View) -> Markup {
    html! {
        section id="queue" {
            h2 { "Queue" }
            @match &view.status {
                Err(why) => p.bad { "The queue cannot be read: " (why) },
                Ok(s) => {
                    dl {
                        dt { "Waiting" } dd id="queue-pending" { (s.queue.pending) " signals (" (s.queue.due) " due now)" }
                        dt { "Oldest" } dd id="queue-age" {
                            @match s.queue.oldest_age_ms {
                                Some(ms) => { (status::age(ms)) " old" }
                                None => span.muted { "nothing waits" },
                            }
                        }
                        dt { "Dead letters" } dd id="queue-dead" {
                            @if s.queue.dead > 0 { span.bad { (s.queue.dead) } } @else { "0" }
                        }
                    }
                    @if !s.pending_by_kind.is_empty() {
                        table {
                            tr { th { "Kind" } th.num { "Waiting" } }
                            @for (kind, n) in &s.pending_by_kind {
                                tr { td { (kind) } td.num { (n) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rates_section(view: &View) -> Markup {
    let minutes = RATE_WINDOW.as_secs() / 60;
    html! {
        section id="events" {
            h2 { "Events by type" }
            @if view.rates.is_empty() {
                p.muted { "No event accepted since this process started." }
            } @else {
                table {
                    tr { th { "Event type" } th.num { "Per minute, last " (minutes) " min" } th.num { "Since start" } }
                    @for r in &view.rates {
                        tr { td { code { (r.event_type) } } td.num { (format!("{:.1}", r.per_minute)) } td.num { (r.total) } }
                    }
                }
            }
            @if !view.rejections.is_empty() {
                p.muted {
                    "Refused: "
                    @for (i, (why, n)) in view.rejections.iter().enumerate() {
                        @if i > 0 { ", " }
                        (why) " " (n)
                    }
                }
            }
            p.muted { "Counted by this replica." }
        }
    }
}

fn resync_row(r: &ResyncRecord) -> Markup {
    let took = r
        .finished_ms
        .map(|f| status::age(u64::try_from(f - r.started_ms).unwrap_or(0)));
    html! {
        tr {
            td.when { (status::when(r.started_ms)) }
            td { (r.trigger) }
            td { @if let Some(replica) = &r.replica { code { (replica) } } @else { span.muted { "—" } } }
            td {
                @match r.outcome.as_str() {
                    "ok" => span.ok { "ok" },
                    "running" => span.warn { "running" },
                    other => span.bad { (other) },
                }
                @if let Some(e) = &r.error { br; span.muted { (e) } }
            }
            td.num { @match &took { Some(t) => (t), None => "—" } }
            td {
                @if r.outcome == "running" {
                    span.muted { "—" }
                } @else if r.complete {
                    span.ok { "complete" }
                } @else {
                    span.bad { "incomplete" }
                    @if !r.incomplete.is_empty() { br; span.kinds { (r.incomplete.join(", ")) } }
                }
            }
            td.num { (r.created) ", " (r.updated) ", " (r.deleted) ", " (r.failed) }
            td.kinds {
                @for (i, (kind, n)) in r.entities.iter().enumerate() {
                    @if i > 0 { ", " }
                    (kind) " " (n)
                }
            }
        }
    }
}

fn resyncs_section(view: &View) -> Markup {
    html! {
        section.wide id="resyncs" {
            h2 { "Last resyncs" }
            @match &view.status {
                Err(_) => p.muted { "Unknown: the queue cannot be read." },
                Ok(s) if s.resyncs.is_empty() => p.muted { "None yet." },
                Ok(s) => {
                    table {
                        tr {
                            th { "Started" } th { "Trigger" } th { "Replica" } th { "Outcome" }
                            th.num { "Took" } th { "Read" }
                            th.num { "Created, updated, deleted, failed" } th { "Entities per kind" }
                        }
                        @for r in &s.resyncs { (resync_row(r)) }
                    }
                }
            }
        }
    }
}

fn dead_section(view: &View) -> Markup {
    html! {
        section.wide id="dead-letters" {
            h2 { "Dead letters" }
            @match &view.status {
                Err(_) => p.muted { "Unknown: the queue cannot be read." },
                Ok(s) if s.dead_letters.is_empty() => p.muted { "None." },
                Ok(s) => {
                    table {
                        tr {
                            th { "Given up" } th { "Kind" } th { "Entity" } th.num { "Attempts" }
                            th { "Last event" } th { "Reason" }
                        }
                        @for d in &s.dead_letters {
                            tr {
                                td.when { (status::when(d.dead_ms)) }
                                td { (d.signal.kind) }
                                td.entity { code { (serde_json::to_string(&d.signal.locator).unwrap_or_default()) } }
                                td.num { (d.attempts) }
                                td { code { (d.last_event) } " (" (d.events) " events)" }
                                td.reason { (d.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::events::{Locator, Signal};
    use crate::serve::queue::Stats;
    use crate::serve::status::DeadLetter;

    #[test]
    fn every_value_on_the_page_is_escaped() {
        let hostile = "<script>alert(1)</script>&\"'";
        let status = Status {
            queue: Stats::default(),
            pending_by_kind: [(hostile.to_owned(), 1)].into(),
            pending: Vec::new(),
            dead_letters: vec![DeadLetter {
                signal: Signal {
                    kind: hostile.into(),
                    locator: Locator::Repository { id: hostile.into() },
                    project: None,
                    deleted: false,
                },
                attempts: 1,
                reason: hostile.into(),
                last_event: hostile.into(),
                events: 1,
                first_seen_ms: 0,
                dead_ms: 0,
            }],
            resyncs: vec![ResyncRecord {
                trigger: hostile.into(),
                outcome: hostile.into(),
                error: Some(hostile.into()),
                replica: Some(hostile.into()),
                entities: [(hostile.to_owned(), 2)].into(),
                ..ResyncRecord::default()
            }],
            lease: Some(LeaseInfo {
                holder: Some(hostile.into()),
                renewed_ms: Some(0),
                ttl_ms: 1000,
                revision: Some(1),
                replica: Some(hostile.into()),
            }),
        };
        let view = View {
            status: Ok(status),
            rates: vec![EventRate {
                event_type: hostile.into(),
                per_minute: 1.0,
                total: 1,
            }],
            rejections: Vec::new(),
            revision: Some(hostile.into()),
            failing: vec![("queue".into(), hostile.into())],
            now_ms: 0,
        };
        let page = render(&view).into_string();
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;"),
            "{page}"
        );
    }
}
