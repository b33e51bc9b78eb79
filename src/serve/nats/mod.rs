//! `--queue nats://HOST:PORT[/NAME]`: the queue of replicas, on NATS JetStream.
//!
//! Every replica's webhook publishes to, and every replica's worker takes from, the same
//! streams (NAME, default `adoport`, names them: `ADOPORT_SIGNALS`, subjects `adoport.…`):
//!
//! | stream / bucket | holds |
//! |---|---|
//! | `NAME_SIGNALS` | the signals: work-queue retention, file storage, one subject per entity (`NAME.signals.KIND.KEY`, the key in base64url) and at most one message per subject |
//! | consumer `workers` | the one pull consumer every replica's worker fetches from: explicit acks, redelivery after `ack_wait` |
//! | `NAME_DEAD` | dead letters, with their reasons (the newest 10,000) |
//! | `NAME_RESYNCS` | every resync's record, by any replica (the newest 1,000) |
//! | key-value `NAME_lease` | the resync lease ([`super::lease`]) |
//!
//! The [`Queue`] contract, as JetStream keeps it:
//!
//! - **Committed before 202.** [`Queue::enqueue`] returns once the server acknowledged the
//!   publish: the message is in the stream's file store (on a cluster, on a quorum of its
//!   replicas). A single server writes it to disk at once but syncs the disk every
//!   `sync_interval` (2 min by default; `sync_interval: always` in its config for more).
//! - **Coalescing.** A signal for an entity already queued replaces its message (the newest
//!   signal, the events counted, the first event's time kept): the publish is conditional
//!   on the subject's last sequence (`Nats-Expected-Last-Subject-Sequence`), so concurrent
//!   replicas cannot lose an event, and `max_msgs_per_subject: 1` removes the old message.
//!   Unlike SQLite, a coalesced signal moves to the end of the queue.
//! - **Claims are versioned.** A row's version is its stream sequence. [`Queue::complete`]
//!   acknowledges that message, after the catalog write; if an event replaced it meanwhile,
//!   the newer message stays queued and is handled again.
//! - **Retries and dead letters.** A failed signal is nak'd with the backoff as its delay;
//!   its attempts are JetStream's delivery count. A replica that dies holding messages
//!   never acks them: the server delivers them again after `ack_wait` (while a replica
//!   works on them it reports progress every third of `ack_wait`, so a slow batch is not
//!   taken twice). A message delivered more than `max_deliveries` times without an answer
//!   goes to the dead letters with that reason, as does one the worker gives up on.
//! - **Resyncs supersede.** A complete resync purges the signals of the kinds it read that
//!   were queued before it began (by stream sequence).
//!
//! The calls block, like [`SqliteQueue`](super::SqliteQueue)'s: the NATS client lives on a
//! small runtime of its own, which also serves `adoport status` (no runtime there).
//! What differs from SQLite: `status` shows no per-signal attempt counts or last errors of
//! waiting signals (JetStream keeps delivery counts per consumer, not per message).
//!
//! Here: the queue's calls. Beside it: `names` (the `--queue` URL and what it names),
//! `setup` (connecting, making the streams), `inspect` (reads for `status`), `error`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_nats::Subject;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream;
use async_nats::jetstream::{self, kv};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::events::Signal;
use super::lease::{Lease, LeaseInfo};
use super::queue::{
    self, Claimed, Enqueued, EventMeta, Queue, ResyncRecord, Stats, from_millis, millis,
};
use super::status::{DeadLetter, Status};
use crate::secrets::Secret;

mod error;
mod inspect;
mod names;
mod setup;

use error::{Cause, request};
pub use error::{Error, Result};

use names::Names;
pub use names::NatsSpec;
use setup::setup;

/// The name used when `--queue` gives none.
pub const DEFAULT_NAME: &str = "adoport";

/// Dead letters kept (the oldest go first).
pub const DEAD_LETTERS_KEPT: i64 = 10_000;

/// Resync records kept (the oldest go first).
pub const RESYNCS_KEPT: i64 = 1_000;

/// The consumer every replica's worker fetches from.
pub const CONSUMER: &str = "workers";

/// Messages handed out and not yet settled, across replicas, before the server waits.
const MAX_ACK_PENDING: i64 = 20_000;

/// How the client proves itself to the server.
#[derive(Clone, Debug, Default)]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// A token (`ADOPORT_NATS_TOKEN`).
    Token(Secret),
    /// A user and password (`ADOPORT_NATS_USER`, `ADOPORT_NATS_PASSWORD`).
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
}

/// How a replica uses the queue.
#[derive(Clone, Debug)]
pub struct NatsOptions {
    /// This replica's name (in resync records and the lease); `None` only reads (`status`).
    pub replica: Option<String>,
    /// How long a message taken by a replica that stopped answering waits before it is
    /// delivered again (the consumer's `ack_wait`, set when the consumer is made).
    pub ack_wait: Duration,
    /// How long the resync lease lives unless renewed (the bucket's `max_age`, set when the
    /// bucket is made).
    pub lease_ttl: Duration,
    /// Deliveries after which a message no replica settled goes to the dead letters.
    pub max_deliveries: u32,
    /// Credentials.
    pub auth: NatsAuth,
}

impl Default for NatsOptions {
    /// Read only; 30 s to redeliver, a 30 s lease, 8 deliveries.
    fn default() -> Self {
        NatsOptions {
            replica: None,
            ack_wait: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(30),
            max_deliveries: 8,
            auth: NatsAuth::None,
        }
    }
}

/// A queued signal, as the message carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Queued {
    key: String,
    signal: Signal,
    events: i64,
    first_seen_ms: i64,
    last_event: String,
}

/// The queue on a NATS server; see the module docs.
pub struct NatsQueue {
    runtime: Option<tokio::runtime::Runtime>,
    spec: NatsSpec,
    names: Names,
    client: async_nats::Client,
    js: jetstream::Context,
    signals: stream::Stream,
    dead: stream::Stream,
    resyncs: stream::Stream,
    consumer: Option<PullConsumer>,
    lease_kv: kv::Store,
    lease_ttl: Duration,
    options: NatsOptions,
    /// Messages this replica holds: stream sequence → the subject its ack goes to.
    inflight: Arc<Mutex<HashMap<u64, Subject>>>,
    /// Resyncs begun here: start (ms) → the last signal sequence then.
    marks: Mutex<BTreeMap<i64, u64>>,
}

impl std::fmt::Debug for NatsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsQueue")
            .field("spec", &self.spec)
            .field("replica", &self.options.replica)
            .finish_non_exhaustive()
    }
}

impl Drop for NatsQueue {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl NatsQueue {
    /// Connects as a replica (`options.replica` set): makes the streams, the consumer and
    /// the lease bucket when missing, and reports progress on held messages.
    pub fn connect(spec: &NatsSpec, options: NatsOptions) -> Result<NatsQueue> {
        Self::open(spec, options, true)
    }

    /// Connects to read only (`adoport status`): the queue must exist.
    pub fn inspect(spec: &NatsSpec, auth: NatsAuth) -> Result<NatsQueue> {
        let options = NatsOptions {
            auth,
            ..NatsOptions::default()
        };
        Self::open(spec, options, false)
    }

    fn open(spec: &NatsSpec, options: NatsOptions, create: bool) -> Result<NatsQueue> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("adoport-nats")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let names = Names {
            name: spec.name.clone(),
        };
        let parts = runtime.block_on(setup(spec, &names, &options, create))?;
        let inflight = Arc::new(Mutex::new(HashMap::new()));
        if let Some(consumer) = &parts.consumer {
            let ack_wait = consumer.cached_info().config.ack_wait;
            runtime.spawn(report_progress(
                parts.client.clone(),
                inflight.clone(),
                (ack_wait / 3).max(Duration::from_millis(100)),
            ));
        }
        Ok(NatsQueue {
            runtime: Some(runtime),
            spec: spec.clone(),
            names,
            client: parts.client,
            js: parts.js,
            signals: parts.signals,
            dead: parts.dead,
            resyncs: parts.resyncs,
            consumer: parts.consumer,
            lease_kv: parts.lease_kv,
            lease_ttl: parts.lease_ttl,
            options,
            inflight,
            marks: Mutex::new(BTreeMap::new()),
        })
    }

    /// The queue's server and name.
    #[must_use]
    pub fn spec(&self) -> &NatsSpec {
        &self.spec
    }

    /// This replica's side of the resync lease (`None` when only reading).
    #[must_use]
    pub fn lease(&self) -> Option<Lease> {
        let replica = self.options.replica.clone()?;
        Some(Lease::new(self.lease_kv.clone(), replica, self.lease_ttl))
    }

    /// When the newest resync recorded by any replica began.
    pub fn last_resync_started(&self) -> queue::Result<Option<SystemTime>> {
        let newest = self.run(self.newest_resyncs(4))?;
        Ok(newest.iter().map(|r| r.started_ms).max().map(from_millis))
    }

    /// Runs `future` on the client's runtime, blocking this thread (never an async one).
    fn run<T>(&self, future: impl Future<Output = Result<T>>) -> queue::Result<T> {
        match &self.runtime {
            Some(runtime) => Ok(runtime.block_on(future)?),
            None => Err(Error::Stopped.into()),
        }
    }

    fn consumer(&self) -> Result<&PullConsumer> {
        self.consumer.as_ref().ok_or(Error::Stopped)
    }

    /// Publishes `payload` and waits for the stream's acknowledgement.
    async fn publish(&self, subject: String, payload: Vec<u8>, what: &'static str) -> Result<u64> {
        let ack = self
            .js
            .publish(subject, payload.into())
            .await
            .map_err(|e| request(what)(e.into()))?
            .await
            .map_err(|e| request(what)(e.into()))?;
        Ok(ack.sequence)
    }

    /// Sends `kind` (`+ACK`, `-NAK …`) for a held message and waits for the server.
    async fn settle(&self, sequence: u64, kind: jetstream::AckKind) -> Result<()> {
        let reply = lock(&self.inflight).remove(&sequence);
        if let Some(reply) = reply {
            self.client
                .request(reply, bytes::Bytes::from(kind))
                .await
                .map_err(|e| request("settle a signal")(e.into()))?;
        }
        Ok(())
    }

    async fn enqueue_one(&self, event: &EventMeta, signal: &Signal) -> Result<bool> {
        let key = signal.key();
        let subject = self.names.signal_subject(&signal.kind, &key);
        // The subject's last message decides what the new one carries; the publish is
        // conditional on it, so a concurrent enqueue makes us read again, never lose one.
        for _ in 0..32 {
            let last = match self.signals.get_last_raw_message_by_subject(&subject).await {
                Ok(message) => Some(message),
                Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => None,
                Err(e) => return Err(request("read the queue")(e.into())),
            };
            let earlier = last
                .as_ref()
                .and_then(|m| serde_json::from_slice::<Queued>(&m.payload).ok());
            let queued = Queued {
                key: key.clone(),
                signal: signal.clone(),
                events: earlier.as_ref().map_or(1, |q| q.events.saturating_add(1)),
                first_seen_ms: earlier
                    .as_ref()
                    .map_or(millis(event.received), |q| q.first_seen_ms),
                last_event: event.event_type.clone(),
            };
            let payload =
                serde_json::to_vec(&queued).map_err(|e| request("queue a signal")(e.into()))?;
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .expected_last_subject_sequence(last.as_ref().map_or(0, |m| m.sequence));
            let acked = self
                .js
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|e| request("queue a signal")(e.into()))?
                .await;
            match acked {
                Ok(_) => return Ok(last.is_some()),
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {}
                Err(e) => return Err(request("queue a signal")(e.into())),
            }
        }
        Err(request("queue a signal")(
            "the entity's subject kept changing under concurrent publishes".into(),
        ))
    }

    async fn claim_batch(&self, limit: usize) -> Result<Vec<Claimed>> {
        let mut taken = Vec::new();
        let claimed = self.claim_into(limit, &mut taken).await;
        if claimed.is_err() {
            // The batch is not handed out: give back what it held at once (a message left
            // held would get progress reports, and so never be delivered again).
            for sequence in taken {
                let _ = self.settle(sequence, jetstream::AckKind::Nak(None)).await;
            }
        }
        claimed
    }

    /// [`NatsQueue::claim_batch`]'s reading; `taken` gets the sequence of every message
    /// held, settled or not.
    async fn claim_into(&self, limit: usize, taken: &mut Vec<u64>) -> Result<Vec<Claimed>> {
        let mut batch = self
            .consumer()?
            .fetch()
            .max_messages(limit)
            .messages()
            .await
            .map_err(|e| request("hand out signals")(e.into()))?;
        let mut out = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| request("hand out signals")(e))?;
            let (sequence, delivered) = match message.info() {
                Ok(info) => (info.stream_sequence, info.delivered),
                Err(e) => return Err(request("hand out signals")(e)),
            };
            let Some(reply) = message.reply.clone() else {
                continue;
            };
            lock(&self.inflight).insert(sequence, reply);
            taken.push(sequence);
            let queued: Queued = match serde_json::from_slice(&message.payload) {
                Ok(q) => q,
                Err(e) => {
                    // Not a signal this version reads: it can never be handled here.
                    tracing::error!(subject = %message.subject, error = %e,
                        "a queued message is not a signal this version reads; dropping it");
                    self.settle(sequence, jetstream::AckKind::Term).await?;
                    continue;
                }
            };
            let claimed = Claimed {
                key: queued.key,
                signal: queued.signal,
                version: i64::try_from(sequence).unwrap_or(i64::MAX),
                attempts: u32::try_from(delivered.saturating_sub(1)).unwrap_or(u32::MAX),
                events: queued.events,
                last_event: queued.last_event,
                first_seen: from_millis(queued.first_seen_ms),
            };
            if delivered > i64::from(self.options.max_deliveries.max(1)) {
                let reason = format!(
                    "delivered {delivered} times and never settled: each replica that took it stopped while handling it"
                );
                tracing::warn!(kind = %claimed.signal.kind, key = %claimed.key, "{reason}");
                self.bury(&claimed, &reason, SystemTime::now()).await?;
                continue;
            }
            out.push(claimed);
        }
        Ok(out)
    }

    /// Moves a held message to the dead letters, unless an event replaced it meanwhile
    /// (the newer one then gets attempts of its own).
    async fn bury(&self, row: &Claimed, reason: &str, now: SystemTime) -> Result<()> {
        let sequence = u64::try_from(row.version).unwrap_or(0);
        let subject = self.names.signal_subject(&row.signal.kind, &row.key);
        let current = match self.signals.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => message.sequence == sequence,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => false,
            Err(e) => return Err(request("read the queue")(e.into())),
        };
        if current {
            let dead = DeadLetter {
                signal: row.signal.clone(),
                attempts: row.attempts.saturating_add(1),
                reason: crate::secrets::scrub(reason).into_owned(),
                last_event: row.last_event.clone(),
                events: row.events,
                first_seen_ms: millis(row.first_seen),
                dead_ms: millis(now),
            };
            let payload =
                serde_json::to_vec(&dead).map_err(|e| request("record a dead letter")(e.into()))?;
            self.publish(self.names.dead_subject(), payload, "record a dead letter")
                .await?;
        }
        self.settle(sequence, jetstream::AckKind::Ack).await
    }
}

/// Reports progress (`+WPI`) on every held message every `period`, so that a slow batch is
/// not delivered to another replica while this one still works on it.
async fn report_progress(
    client: async_nats::Client,
    inflight: Arc<Mutex<HashMap<u64, Subject>>>,
    period: Duration,
) {
    loop {
        tokio::time::sleep(period).await;
        let held: Vec<Subject> = lock(&inflight).values().cloned().collect();
        for reply in held {
            let _ = client
                .publish(reply, bytes::Bytes::from(jetstream::AckKind::Progress))
                .await;
        }
    }
}

impl Queue for NatsQueue {
    fn enqueue(&self, event: &EventMeta, signals: &[Signal]) -> queue::Result<Enqueued> {
        self.run(async {
            let mut done = Enqueued::default();
            for signal in signals {
                if self.enqueue_one(event, signal).await? {
                    done.coalesced += 1;
                } else {
                    done.new += 1;
                }
            }
            Ok(done)
        })
    }

    fn claim(&self, limit: usize, _now: SystemTime) -> queue::Result<Vec<Claimed>> {
        self.run(self.claim_batch(limit.max(1)))
    }

    fn complete(&self, rows: &[Claimed]) -> queue::Result<()> {
        self.run(async {
            let acks = rows.iter().map(|row| {
                self.settle(
                    u64::try_from(row.version).unwrap_or(0),
                    jetstream::AckKind::Ack,
                )
            });
            for result in futures_util::future::join_all(acks).await {
                result?;
            }
            Ok(())
        })
    }

    fn retry(&self, row: &Claimed, not_before: SystemTime, reason: &str) -> queue::Result<()> {
        tracing::debug!(kind = %row.signal.kind, key = %row.key, reason = %crate::secrets::scrub(reason),
            "signal to be tried again");
        let delay = not_before
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        self.run(self.settle(
            u64::try_from(row.version).unwrap_or(0),
            jetstream::AckKind::Nak(Some(delay)),
        ))
    }

    fn dead_letter(&self, row: &Claimed, reason: &str, now: SystemTime) -> queue::Result<()> {
        self.run(self.bury(row, reason, now))
    }

    fn supersede(&self, kinds: &[String], before: SystemTime) -> queue::Result<usize> {
        let mark = {
            let mut marks = lock(&self.marks);
            let at = millis(before);
            let mark = marks.get(&at).copied();
            marks.retain(|started, _| *started > at);
            mark
        };
        let Some(last) = mark else {
            return Ok(0);
        };
        self.run(async {
            let mut purged = 0u64;
            for kind in kinds {
                let response = self
                    .signals
                    .purge()
                    .filter(self.names.kind_signals(kind))
                    .sequence(last + 1)
                    .await
                    .map_err(|e| request("clear superseded signals")(e.into()))?;
                purged += response.purged;
            }
            Ok(usize::try_from(purged).unwrap_or(usize::MAX))
        })
    }

    fn next_due(&self) -> queue::Result<Option<SystemTime>> {
        let held = lock(&self.inflight).len();
        self.run(async {
            let info = self
                .consumer()?
                .get_info()
                .await
                .map_err(|e| request("describe the queue")(e.into()))?;
            let now = SystemTime::now();
            Ok(if info.num_pending > 0 {
                Some(now)
            } else if info.num_ack_pending > held {
                // Held elsewhere or waiting out a retry delay: look again soon.
                Some(now + Duration::from_secs(1))
            } else {
                None
            })
        })
    }

    fn stats(&self, now: SystemTime) -> queue::Result<Stats> {
        self.run(self.stats_now(now))
    }

    fn resync_started(&self, trigger: &str, started: SystemTime) -> queue::Result<i64> {
        self.run(async {
            let last = self
                .signals
                .get_info()
                .await
                .map_err(|e| request("describe the queue")(e.into()))?
                .state
                .last_sequence;
            lock(&self.marks).insert(millis(started), last);
            let id = fastrand::i64(1..i64::MAX);
            let record = ResyncRecord {
                trigger: trigger.to_owned(),
                started_ms: millis(started),
                outcome: "running".to_owned(),
                replica: self.options.replica.clone(),
                ..ResyncRecord::default()
            };
            let payload =
                serde_json::to_vec(&record).map_err(|e| request("record a resync")(e.into()))?;
            self.publish(self.names.resync_subject(id), payload, "record a resync")
                .await?;
            Ok(id)
        })
    }

    fn resync_finished(&self, id: i64, record: &ResyncRecord) -> queue::Result<()> {
        let mut record = record.clone();
        record.replica.clone_from(&self.options.replica);
        record.error = record
            .error
            .as_deref()
            .map(|e| crate::secrets::scrub(e).into_owned());
        self.run(async {
            let payload =
                serde_json::to_vec(&record).map_err(|e| request("record a resync")(e.into()))?;
            self.publish(self.names.resync_subject(id), payload, "record a resync")
                .await
                .map(|_| ())
        })
    }

    fn status(&self, limit: usize, resyncs: usize) -> queue::Result<Status> {
        self.run(self.read_status(limit, resyncs))
    }

    fn resync_lease(&self) -> queue::Result<Option<LeaseInfo>> {
        self.run(self.read_lease()).map(Some)
    }
}
