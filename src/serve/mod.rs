//! `adoport serve`: the always-on integration. ADO service hooks arrive on a webhook, become
//! signals in a durable queue, and a worker brings the catalog in line with ADO for them;
//! a full resync runs on an interval and follows the config.
//!
//! ```text
//! ADO ──POST /webhook──► app (auth, body limit, strict envelope)
//!                          │ events: eventType → signals (kind + ids)
//!                          ▼
//!                        queue (SQLite, committed before 202; coalesced per entity)
//!                          │ worker: batches → Handler (EventHandler: targeted plan + apply)
//!                          ▼                      ▲
//!                        runner (the pipeline thread) ◄── resync (every resync.interval,
//!                          │         ▲                       config re-read and gated;
//!                          │         └ traces, cursors       incremental passes between)
//!                          ▼
//!                        catalog
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`app`] | the router (`POST /webhook`, `/healthz`, `/readyz`, `/metrics`), state, errors as responses, the thin `serve` |
//! | [`auth`] | the webhook's basic auth, compared in constant time |
//! | [`events`] | the event-type registry and envelope → [`events::Signal`]s |
//! | [`queue`] | the durable queue: coalescing, versioned claims, retries, dead letters, resync records |
//! | [`worker`] | the [`worker::Handler`] trait, the retry policy, the drain loop |
//! | [`handler`] | [`handler::EventHandler`]: a batch of signals → one targeted plan + apply |
//! | [`runner`] | the pipeline thread: full, targeted and incremental runs, traces recorded |
//! | [`traces`] | which ADO item each entity came from (how a gone item's entities are found) |
//! | [`cursors`] | the incremental passes' cursor per kind |
//! | [`resync`] | the interval loop (full resyncs, incremental passes between), durations, following the config |
//! | [`hooks`] | service-hook subscriptions: plan and apply, idempotently |
//! | [`metrics`] | counters and the Prometheus text |
//! | [`status`] | `adoport status`: reading the queue database |
//! | [`server`] | wiring the parts, and a bounded graceful shutdown |
//!
//! Events are signals to read current state, never changes to apply: at-least-once
//! delivery, duplicates and any order all converge (DESIGN.md "Live events", "Scaling").

pub mod app;
pub mod auth;
pub mod cursors;
pub mod events;
pub mod handler;
pub mod hooks;
pub mod metrics;
pub mod queue;
pub mod resync;
pub mod runner;
pub mod server;
pub mod status;
pub mod traces;
pub mod worker;

pub use app::{AppState, Health, router, serve};
pub use events::{EVENT_TYPES, Envelope, Locator, Signal};
pub use handler::EventHandler;
pub use queue::{Queue, SqliteQueue};
pub use runner::Runner;
pub use worker::{HandleError, Handled, Handler, Outcome};
