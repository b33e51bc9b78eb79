//! `adoport serve`: the always-on integration. ADO service hooks arrive on a webhook, become
//! signals in a durable queue, and a worker brings the catalog in line with ADO for them;
//! a full resync runs on an interval and follows the config.
//!
//! ```text
//! ADO ──POST /webhook──► app (auth, body limit, strict envelope)
//!                          │ events: eventType → signals (kind + ids)
//!                          ▼
//!                        queue (SQLite, or NATS JetStream shared by replicas; committed
//!                          │    before 202; coalesced per entity)
//!                          │ worker: batches → Handler (EventHandler: targeted plan + apply)
//!                          ▼                      ▲
//!                        runner (the pipeline thread) ◄── resync (every resync.interval,
//!                          │         ▲                       config re-read and gated;
//!                          │         └ traces, cursors       incremental passes between;
//!                          ▼                                 with NATS: on the lease holder)
//!                        catalog
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`app`] | the router (`POST /webhook`, `/`, `/healthz`, `/readyz`, `/metrics`), state, errors as responses, the thin `serve` |
//! | [`auth`] | the webhook's basic auth, compared in constant time |
//! | [`events`] | the event-type registry and envelope → [`events::Signal`]s |
//! | [`queue`] | the [`Queue`] contract and the SQLite queue: coalescing, versioned claims, retries, dead letters, resync records |
//! | [`nats`] | the same contract on NATS JetStream, shared by replicas (`--queue nats://`) |
//! | [`lease`] | the resync lease in JetStream's key-value store, and the resync loop of a replica |
//! | [`worker`] | the [`worker::Handler`] trait, the retry policy, the drain loop |
//! | [`handler`] | [`handler::EventHandler`]: a batch of signals → one targeted plan + apply |
//! | [`runner`] | the pipeline thread: full, targeted and incremental runs, traces recorded |
//! | [`traces`] | which ADO item each entity came from (how a gone item's entities are found) |
//! | [`cursors`] | the incremental passes' cursor per kind |
//! | `state_db` | one connection per state file and process, so the stores sharing it never starve each other |
//! | [`resync`] | the interval loop (full resyncs, incremental passes between), durations, following the config |
//! | [`hooks`] | service-hook subscriptions: plan and apply, idempotently |
//! | [`metrics`] | counters, event rates and the Prometheus text |
//! | [`status`] | `adoport status`: what a queue says, as data and as text |
//! | [`page`] | the status page, `GET /` |
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
pub mod lease;
pub mod metrics;
pub mod nats;
pub mod page;
pub mod queue;
pub mod resync;
pub mod runner;
pub mod server;
mod state_db;
pub mod status;
pub mod traces;
pub mod worker;

pub use app::{AppState, Health, router, serve};
pub use events::{EVENT_TYPES, Envelope, Locator, Signal};
pub use handler::EventHandler;
pub use nats::NatsQueue;
pub use queue::{Queue, QueueSpec, SqliteQueue};
pub use runner::Runner;
pub use worker::{HandleError, Handled, Handler, Outcome};
