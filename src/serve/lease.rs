//! The resync lease: which of the replicas sharing a NATS queue runs the interval resync.
//!
//! The lease is one key of a JetStream key-value bucket whose entries live for the lease's
//! TTL (the bucket's `max_age`). A replica takes it with a create (which succeeds only when
//! the key is absent) and keeps it with revision-checked updates every third of the TTL; an
//! update that finds another revision means the lease was lost. When the holder dies its
//! entry expires after the TTL and the next replica to try takes it, so a holder killed
//! outright is replaced within TTL + TTL/3. A holder that stops cleanly deletes the key at
//! once (revision-checked too).
//!
//! [`run_leased`] is the resync loop of a replica: while it holds the lease it runs a
//! resync whenever the last one recorded *by any replica* began an interval ago, so a new
//! holder keeps the schedule instead of starting over, and the resync runs once per
//! interval across the replicas. Right before each run the holder renews the lease: a
//! revision-checked write only one replica can win, so two replicas never both start one.
//! The other replicas read the config again every interval, so that every replica's worker
//! maps events with the config the holder resyncs with.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::kv;
use serde::Serialize;
use tokio::sync::{Mutex, watch};

use super::nats::NatsQueue;
use super::queue;
use super::resync::Resync;

/// The key of the lease in its bucket.
pub const LEASE_KEY: &str = "resync";

/// The lease as the bucket shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseInfo {
    /// The replica holding it; `None` when nobody does (its holder stopped or died and the
    /// entry expired, and no replica has taken it yet).
    pub holder: Option<String>,
    /// When the holder last took or renewed it (ms since the epoch).
    pub renewed_ms: Option<i64>,
    /// How long an entry lives unless renewed.
    pub ttl_ms: u64,
    /// The entry's revision: it grows with every renewal.
    pub revision: Option<u64>,
    /// The replica answering, when it is one (`serve`, not `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

impl LeaseInfo {
    /// Whether the replica answering holds it.
    #[must_use]
    pub fn held_here(&self) -> bool {
        self.replica.is_some() && self.holder == self.replica
    }

    /// One line for people: who holds it, since when, and whether that is the one asking.
    #[must_use]
    pub fn describe(&self) -> String {
        let ttl = super::status::age(self.ttl_ms);
        match (&self.holder, self.renewed_ms) {
            (Some(holder), renewed) => {
                let mut out = format!("held by {holder}");
                if let Some(ms) = renewed {
                    let ago = queue::millis(SystemTime::now()) - ms;
                    out.push_str(&format!(
                        ", renewed {} ago",
                        super::status::age(u64::try_from(ago).unwrap_or(0))
                    ));
                }
                out.push_str(&format!(" (TTL {ttl})"));
                if self.held_here() {
                    out.push_str(": this replica");
                }
                out
            }
            (None, _) => format!("free: no replica holds it (TTL {ttl})"),
        }
    }
}

/// What a replica knows of its own hold on the lease.
#[derive(Clone, Copy, Debug, Default)]
struct Hold {
    /// The revision of our last write, while we hold it.
    revision: Option<u64>,
    /// When that write was confirmed.
    confirmed: Option<Instant>,
}

/// One replica's side of the lease.
pub struct Lease {
    kv: kv::Store,
    replica: String,
    ttl: Duration,
    hold: Mutex<Hold>,
    held: watch::Sender<bool>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("replica", &self.replica)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// The lease in `kv` (whose entries live `ttl`), sought by `replica`.
    #[must_use]
    pub fn new(kv: kv::Store, replica: impl Into<String>, ttl: Duration) -> Lease {
        Lease {
            kv,
            replica: replica.into(),
            ttl,
            hold: Mutex::new(Hold::default()),
            held: watch::Sender::new(false),
        }
    }

    /// The replica seeking or holding it.
    #[must_use]
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How often the lease is renewed, or sought when another replica holds it.
    #[must_use]
    pub fn period(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(100))
    }

    /// Whether this replica holds the lease, as far as it knows: its last write was
    /// confirmed less than a TTL ago.
    #[must_use]
    pub fn held(&self) -> bool {
        *self.held.borrow()
    }

    /// Takes the lease if it is free, renews it if held; returns whether it is held now.
    /// The write is revision-checked: of two replicas, only one can succeed.
    pub async fn renew(&self) -> bool {
        let mut hold = self.hold.lock().await;
        let value = bytes::Bytes::from(self.replica.clone());
        let written = match hold.revision {
            Some(revision) => match self.kv.update(LEASE_KEY, value, revision).await {
                Ok(next) => Some(next),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    tracing::warn!(replica = %self.replica,
                        "lost the resync lease: another replica took it");
                    *hold = Hold::default();
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the resync lease");
                    None
                }
            },
            None => match self.kv.create(LEASE_KEY, value).await {
                Ok(revision) => {
                    tracing::info!(replica = %self.replica, "took the resync lease");
                    Some(revision)
                }
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => None,
                Err(e) => {
                    tracing::warn!(error = %e, "could not take the resync lease");
                    None
                }
            },
        };
        if let Some(revision) = written {
            *hold = Hold {
                revision: Some(revision),
                confirmed: Some(Instant::now()),
            };
        }
        // A hold whose last confirmation is a TTL old has expired on the server.
        let held =
            hold.revision.is_some() && hold.confirmed.is_some_and(|at| at.elapsed() < self.ttl);
        self.held
            .send_if_modified(|h| std::mem::replace(h, held) != held);
        held
    }

    /// Gives the lease up, if held, so that another replica takes it at once.
    pub async fn release(&self) {
        let mut hold = self.hold.lock().await;
        if let Some(revision) = hold.revision.take() {
            match self
                .kv
                .delete_expect_revision(LEASE_KEY, Some(revision))
                .await
            {
                Ok(()) => tracing::info!(replica = %self.replica, "released the resync lease"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not release the resync lease; it expires by itself")
                }
            }
        }
        *hold = Hold::default();
        self.held.send_replace(false);
    }

    /// Renews (or seeks) the lease every [`Lease::period`] until `stop`, then releases it.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            self.renew().await;
            tokio::select! {
                () = tokio::time::sleep(self.period()) => {}
                _ = stop.changed() => {}
            }
        }
        self.release().await;
    }
}

/// The lease as stored in `kv`, read by anyone (`status`, the status page).
pub async fn read(
    kv: &kv::Store,
    ttl: Duration,
    replica: Option<&str>,
) -> Result<LeaseInfo, kv::EntryError> {
    let entry = kv.entry(LEASE_KEY).await?;
    let live = entry.filter(|e| e.operation == kv::Operation::Put);
    Ok(LeaseInfo {
        holder: live
            .as_ref()
            .map(|e| String::from_utf8_lossy(&e.value).into_owned()),
        renewed_ms: live.as_ref().map(|e| {
            i64::try_from(e.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
        }),
        ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        revision: live.as_ref().map(|e| e.revision),
        replica: replica.map(str::to_owned),
    })
}

/// The resync loop of a replica sharing a NATS queue (see the module docs), until `stop`.
/// A resync in progress when `stop` comes is abandoned to the pipeline thread, as in
/// [`run_loop`](super::resync::run_loop).
pub async fn run_leased(
    resync: &dyn Resync,
    lease: &Lease,
    queue: Arc<NatsQueue>,
    mut stop: watch::Receiver<bool>,
) {
    let mut followed = Instant::now();
    // The last full resync or incremental pass this replica ran.
    let mut last_pass = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let interval = resync.interval();
        let mut wait = lease.period();
        if lease.held() {
            let q = queue.clone();
            match tokio::task::spawn_blocking(move || q.last_resync_started()).await {
                Ok(Ok(last)) => {
                    let now = SystemTime::now();
                    let due = last.map_or(now, |t| t + interval);
                    if due <= now {
                        if lease.renew().await {
                            let trigger = if last.is_some() { "interval" } else { "start" };
                            tokio::select! {
                                _ = resync.resync(trigger) => {}
                                _ = stop.changed() => return,
                            }
                            followed = Instant::now();
                            last_pass = Instant::now();
                            continue;
                        }
                    } else {
                        // Between full resyncs, the holder runs the incremental passes.
                        if let Some(every) = resync.incremental_interval() {
                            if last_pass.elapsed() >= every && lease.renew().await {
                                tokio::select! {
                                    () = resync.incremental() => {}
                                    _ = stop.changed() => return,
                                }
                                last_pass = Instant::now();
                                continue;
                            }
                            wait = wait.min(every.saturating_sub(last_pass.elapsed()));
                        }
                        wait = wait.min(due.duration_since(now).unwrap_or(Duration::ZERO));
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %crate::http::error_chain(&e),
                    "could not read when the last resync ran"),
                Err(e) => tracing::error!(error = %e, "reading the last resync panicked"),
            }
        } else if followed.elapsed() >= interval {
            resync.follow().await;
            followed = Instant::now();
        }
        tokio::select! {
            () = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
            _ = stop.changed() => return,
        }
    }
}
