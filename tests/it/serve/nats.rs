//! The NATS JetStream queue against a real `nats-server` (started here on 127.0.0.1 with
//! JetStream and a scratch store): the `Queue` contract as SQLite keeps it — coalescing,
//! versioned claims, retries and dead letters with reasons, superseding — plus what only
//! replicas need: messages a dead replica held come back after the ack wait, a message no
//! replica ever settles ends in the dead letters, resync records are shared, and the
//! resync lease has one holder, changes hands when its holder stops renewing, and is
//! given up on a clean stop.
//!
//! Without `nats-server` on the PATH these tests say so loudly and pass, unless
//! `ADOPORT_REQUIRE_NATS` is set (CI sets it): then they fail.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use adoport::serve::app::Health;
use adoport::serve::events::{Locator, Signal};
use adoport::serve::metrics::Metrics;
use adoport::serve::nats::{NatsAuth, NatsOptions, NatsQueue, NatsSpec};
use adoport::serve::queue::{EventMeta, Queue, ResyncRecord};
use adoport::serve::worker::{HandleError, Handled, Handler, RetryPolicy, Worker};

use super::wait_for;

/// A `nats-server -js` of this test's own, stopped when dropped.
pub struct NatsServer {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

/// Whether a tool is on the PATH.
pub fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What a test does when `tool` is missing: fail when `require` is set, else skip loudly.
// A skipped test must be seen in the test output; whether it may skip is the environment's
// (CI's) to say.
#[allow(clippy::print_stderr, clippy::disallowed_methods)]
pub fn missing(tool: &str, require: &str, install: &str) {
    assert!(
        std::env::var_os(require).is_none(),
        "{tool} is not installed and {require} is set: {install}"
    );
    eprintln!(
        "\n*** SKIPPED: {tool} is not installed ({install}); set {require} to make this a failure ***\n"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl NatsServer {
    /// Starts `nats-server -js` on a free port of 127.0.0.1 and waits until it is ready;
    /// `None` (after saying so) when it is not installed and not required.
    pub fn start() -> Option<NatsServer> {
        if !installed("nats-server") {
            missing(
                "nats-server",
                "ADOPORT_REQUIRE_NATS",
                "apt-get install -y nats-server",
            );
            return None;
        }
        let store = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let log: PathBuf = store.path().join("nats.log");
            let mut child = Command::new("nats-server")
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                .arg(store.path().join("js"))
                .arg("-l")
                .arg(&log)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("Server is ready") {
                    return Some(NatsServer {
                        child,
                        port,
                        _store: store,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // The port was taken meanwhile: try another.
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("nats-server did not become ready");
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The queue `name` on this server.
    pub fn spec(&self, name: &str) -> NatsSpec {
        NatsSpec::parse(&format!("{}/{name}", self.url())).unwrap()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replica(nats: &NatsServer, name: &str, ack_wait: Duration, max_deliveries: u32) -> NatsQueue {
    NatsQueue::connect(
        &nats.spec("contract"),
        NatsOptions {
            replica: Some(name.to_owned()),
            ack_wait,
            lease_ttl: Duration::from_secs(1),
            max_deliveries,
            auth: NatsAuth::None,
        },
    )
    .expect("connects")
}

fn work_item(id: u64) -> Signal {
    Signal {
        kind: "work-item".into(),
        locator: Locator::WorkItem { id },
        project: None,
        deleted: false,
    }
}

fn event(t: &str) -> EventMeta {
    EventMeta {
        event_type: t.into(),
        received: SystemTime::now(),
    }
}

#[test]
fn signals_for_one_entity_coalesce_into_one_message_that_keeps_the_first_events_time() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let q = replica(&nats, "r1", Duration::from_secs(30), 8);
    let first = EventMeta {
        event_type: "workitem.created".into(),
        received: SystemTime::now() - Duration::from_secs(60),
    };
    let done = q.enqueue(&first, &[work_item(1), work_item(2)]).unwrap();
    assert_eq!((done.new, done.coalesced), (2, 0));
    let mut deleted = work_item(1);
    deleted.deleted = true;
    let done = q.enqueue(&event("workitem.deleted"), &[deleted]).unwrap();
    assert_eq!((done.new, done.coalesced), (0, 1));
    let stats = q.stats(SystemTime::now()).unwrap();
    assert_eq!((stats.pending, stats.due), (2, 2));
    assert!(stats.oldest_age_ms.unwrap() >= 60_000, "{stats:?}");

    let rows = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(rows.len(), 2);
    let one = rows
        .iter()
        .find(|r| r.signal.locator == Locator::WorkItem { id: 1 })
        .unwrap();
    assert!(one.signal.deleted, "the newest signal wins");
    assert_eq!(
        (one.events, one.last_event.as_str()),
        (2, "workitem.deleted")
    );
    assert_eq!(
        adoport::serve::queue::millis(one.first_seen),
        adoport::serve::queue::millis(first.received)
    );
    q.complete(&rows).unwrap();
    assert_eq!(q.stats(SystemTime::now()).unwrap().pending, 0);
}

#[test]
fn a_message_an_event_replaced_while_it_was_handled_stays_for_another_pass() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let q = replica(&nats, "r1", Duration::from_secs(30), 8);
    q.enqueue(&event("workitem.updated"), &[work_item(1), work_item(2)])
        .unwrap();
    let claimed = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(claimed.len(), 2);
    q.enqueue(&event("workitem.updated"), &[work_item(2)])
        .unwrap();
    q.complete(&claimed).unwrap();
    let left = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].signal.locator, Locator::WorkItem { id: 2 });
    assert_eq!(left[0].events, 2, "both events are counted");
}

#[test]
fn every_replica_takes_from_the_one_queue_and_no_signal_is_handed_out_twice() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = replica(&nats, "a", Duration::from_secs(30), 8);
    let b = replica(&nats, "b", Duration::from_secs(30), 8);
    let signals: Vec<Signal> = (1..=40).map(work_item).collect();
    a.enqueue(&event("workitem.updated"), &signals[..20])
        .unwrap();
    b.enqueue(&event("workitem.updated"), &signals[20..])
        .unwrap();
    let from_a = a.claim(25, SystemTime::now()).unwrap();
    let from_b = b.claim(25, SystemTime::now()).unwrap();
    assert_eq!(from_a.len() + from_b.len(), 40);
    let mut keys: Vec<&str> = from_a
        .iter()
        .chain(&from_b)
        .map(|r| r.key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 40, "each signal went to one replica");
}

#[test]
fn signals_a_dead_replica_held_are_delivered_again_after_the_ack_wait() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let ack_wait = Duration::from_secs(1);
    let doomed = replica(&nats, "doomed", ack_wait, 8);
    doomed
        .enqueue(&event("workitem.updated"), &[work_item(7)])
        .unwrap();
    assert_eq!(doomed.claim(10, SystemTime::now()).unwrap().len(), 1);
    drop(doomed); // Dies holding it: no ack, no nak, no more progress reports.

    let survivor = replica(&nats, "survivor", ack_wait, 8);
    let mut rows = Vec::new();
    wait_for("the redelivery", Duration::from_secs(20), || {
        rows = survivor.claim(10, SystemTime::now()).unwrap();
        !rows.is_empty()
    });
    assert_eq!(rows[0].signal, work_item(7));
    assert_eq!(
        rows[0].attempts, 1,
        "the lost delivery counts as an attempt"
    );
    survivor.complete(&rows).unwrap();
}

#[test]
fn a_replica_working_on_a_batch_longer_than_the_ack_wait_keeps_it() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let ack_wait = Duration::from_secs(1);
    let slow = replica(&nats, "slow", ack_wait, 8);
    let other = replica(&nats, "other", ack_wait, 8);
    slow.enqueue(&event("workitem.updated"), &[work_item(3)])
        .unwrap();
    let rows = slow.claim(10, SystemTime::now()).unwrap();
    assert_eq!(rows.len(), 1);
    // Three ack waits of work: progress reports keep the message with this replica.
    std::thread::sleep(ack_wait * 3);
    assert!(other.claim(10, SystemTime::now()).unwrap().is_empty());
    slow.complete(&rows).unwrap();
    assert_eq!(other.stats(SystemTime::now()).unwrap().pending, 0);
}

#[test]
fn a_message_no_replica_ever_settles_goes_to_the_dead_letters_after_max_deliveries() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let ack_wait = Duration::from_secs(1);
    {
        let first = replica(&nats, "first", ack_wait, 2);
        first
            .enqueue(&event("workitem.updated"), &[work_item(9)])
            .unwrap();
        assert_eq!(first.claim(10, SystemTime::now()).unwrap().len(), 1);
    }
    let mut deliveries = 1;
    let last = replica(&nats, "last", ack_wait, 2);
    wait_for(
        "the message to be given up on",
        Duration::from_secs(30),
        || {
            let rows = {
                let again = replica(&nats, "again", ack_wait, 2);
                again.claim(10, SystemTime::now()).unwrap()
            };
            deliveries += rows.len();
            last.stats(SystemTime::now()).unwrap().dead == 1
        },
    );
    assert_eq!(deliveries, 2, "delivered twice, then dead on the third");
    let status = last.status(10, 0).unwrap();
    assert_eq!(status.queue.pending, 0);
    let dead = &status.dead_letters[0];
    assert_eq!(dead.signal, work_item(9));
    assert_eq!(dead.attempts, 3);
    assert!(
        dead.reason
            .starts_with("delivered 3 times and never settled"),
        "{}",
        dead.reason
    );
}

/// A handler that always fails the batch the same way.
struct Failing;

#[async_trait]
impl Handler for Failing {
    async fn handle(&self, _: &[Signal]) -> Result<Handled, HandleError> {
        Err(HandleError::ApplyFailed {
            failed: 2,
            first: None,
        })
    }
}

#[test]
fn the_worker_retries_through_the_nats_queue_then_dead_letters_with_the_reason() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let q = Arc::new(replica(&nats, "r1", Duration::from_secs(30), 3));
    q.enqueue(&event("workitem.updated"), &[work_item(1)])
        .unwrap();
    let worker = Worker {
        queue: q.clone(),
        handler: Arc::new(Failing),
        metrics: Arc::new(Metrics::default()),
        health: Arc::new(Health::new(Duration::from_secs(60))),
        wake: Arc::new(tokio::sync::Notify::new()),
        policy: RetryPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(100),
            max_attempts: 3,
        },
        batch_size: 10,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut passes = 0;
    wait_for("the dead letter", Duration::from_secs(20), || {
        if runtime.block_on(worker.pass()).unwrap() != adoport::serve::worker::Pass::Idle {
            passes += 1;
        }
        q.stats(SystemTime::now()).unwrap().dead == 1
    });
    assert_eq!(passes, 3, "three attempts, the nak delays between them");
    let dead = q.status(10, 0).unwrap().dead_letters;
    assert_eq!(
        (dead[0].attempts, dead[0].reason.as_str()),
        (3, "2 catalog writes failed")
    );
}

#[test]
fn a_complete_resync_supersedes_the_signals_of_its_kinds_queued_before_it_began() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let q = replica(&nats, "r1", Duration::from_secs(30), 8);
    let branch = Signal {
        kind: "branch".into(),
        locator: Locator::All,
        project: None,
        deleted: false,
    };
    q.enqueue(&event("workitem.updated"), &[work_item(1)])
        .unwrap();
    q.enqueue(&event("git.push"), &[branch]).unwrap();
    let started = SystemTime::now();
    let id = q.resync_started("interval", started).unwrap();
    q.enqueue(&event("workitem.updated"), &[work_item(2)])
        .unwrap();
    let removed = q.supersede(&["work-item".into()], started).unwrap();
    assert_eq!(
        removed, 1,
        "work item 1 came before; 2 after; branch was not read"
    );
    q.resync_finished(
        id,
        &ResyncRecord {
            trigger: "interval".into(),
            started_ms: adoport::serve::queue::millis(started),
            outcome: "ok".into(),
            complete: true,
            ..ResyncRecord::default()
        },
    )
    .unwrap();
    let status = q.status(10, 5).unwrap();
    assert_eq!(status.queue.pending, 2);
    assert_eq!(
        status.pending_by_kind,
        [("branch".to_owned(), 1), ("work-item".to_owned(), 1)].into()
    );
    assert_eq!(
        status.resyncs.len(),
        1,
        "the finished record replaced the running one"
    );
    assert_eq!(status.resyncs[0].outcome, "ok");
    assert_eq!(status.resyncs[0].replica.as_deref(), Some("r1"));
}

#[test]
fn the_resync_lease_has_one_holder_changes_hands_when_it_stops_renewing_and_is_given_up_on_stop() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = replica(&nats, "a", Duration::from_secs(30), 8);
    let b = replica(&nats, "b", Duration::from_secs(30), 8);
    let (lease_a, lease_b) = (a.lease().unwrap(), b.lease().unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(runtime.block_on(lease_a.renew()), "a takes the free lease");
    assert!(
        !runtime.block_on(lease_b.renew()),
        "b cannot while a holds it"
    );
    assert!(runtime.block_on(lease_a.renew()), "a renews");
    let info = a.resync_lease().unwrap().unwrap();
    assert_eq!(info.holder.as_deref(), Some("a"));
    assert!(info.held_here());
    assert!(!b.resync_lease().unwrap().unwrap().held_here());

    // a stops renewing (as if it died): its entry expires after the TTL (1 s).
    let started = Instant::now();
    wait_for("b to take the lease over", Duration::from_secs(10), || {
        runtime.block_on(lease_b.renew())
    });
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not before the TTL"
    );
    assert!(
        !runtime.block_on(lease_a.renew()),
        "a learns it lost the lease"
    );
    assert_eq!(
        a.resync_lease().unwrap().unwrap().holder.as_deref(),
        Some("b")
    );

    // b stops cleanly: the lease is free at once.
    runtime.block_on(lease_b.release());
    assert_eq!(b.resync_lease().unwrap().unwrap().holder, None);
    assert!(runtime.block_on(lease_a.renew()), "a takes it at once");
}

#[test]
fn status_reads_a_nats_queue_and_refuses_one_that_does_not_exist() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let q = replica(&nats, "r1", Duration::from_secs(30), 8);
    q.enqueue(&event("workitem.updated"), &[work_item(4)])
        .unwrap();
    let lease = q.lease().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(runtime.block_on(lease.renew()));

    let out = crate::support::adoport(&["status", "--queue", &format!("{}/contract", nats.url())]);
    crate::support::assert_exit(&out, 0);
    let text = crate::support::stdout(&out);
    assert!(
        text.starts_with("queue: 1 pending (1 due), oldest "),
        "{text}"
    );
    assert!(text.contains(", 0 dead letters\n"), "{text}");
    assert!(text.contains("  work-item: 1"), "{text}");
    assert!(text.contains("resync lease: held by r1"), "{text}");

    let out = crate::support::adoport(&["status", "--queue", &format!("{}/nothing", nats.url())]);
    crate::support::assert_exit(&out, 1);
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("there is no adoport queue nothing on"),
        "{err}"
    );

    assert!(NatsQueue::inspect(&nats.spec("nothing"), NatsAuth::None).is_err());
}

#[test]
fn serve_refuses_nats_flags_without_nats_credentials_in_the_url_and_an_unreachable_server() {
    let work = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "serve".to_owned(),
            "--config".into(),
            crate::support::root()
                .join("examples/config-repo")
                .display()
                .to_string(),
            "--source".into(),
            format!(
                "snapshot:{}",
                crate::support::root()
                    .join("examples/ado-snapshot")
                    .display()
            ),
            "--target".into(),
            format!("sqlite:{}", work.path().join("c.sqlite").display()),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--insecure-no-webhook-auth".into(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = crate::support::adoport(&args);
        crate::support::assert_exit(&out, 1);
        crate::support::stderr(&out)
    };
    let queue = format!("sqlite:{}", work.path().join("q.sqlite").display());
    let err = run(&["--queue", &queue, "--lease-ttl", "5s"]);
    assert!(
        err.contains("--lease-ttl applies to a nats:// queue only"),
        "{err}"
    );

    let err = run(&["--queue", "nats://me:hunter2-secret@127.0.0.1:4222"]);
    assert!(err.contains("put them in ADOPORT_NATS_TOKEN"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let err = run(&["--queue", "nats://127.0.0.1:1/adoport"]);
    assert!(
        err.contains("could not connect to the NATS server at nats://127.0.0.1:1"),
        "{err}"
    );

    let err = run(&["--queue", "nats://127.0.0.1:4222/a.b"]);
    assert!(
        err.contains("is not a NATS queue: use nats://HOST:PORT"),
        "{err}"
    );
}
