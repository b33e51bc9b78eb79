//! The durable queue and the worker, in process: coalescing, versioned claims, retries,
//! dead letters, surviving a reopen, and resyncs superseding older signals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use adoport::serve::app::Health;
use adoport::serve::events::{Locator, Signal};
use adoport::serve::metrics::Metrics;
use adoport::serve::queue::{
    self, Claimed, Enqueued, EventMeta, Queue, ResyncRecord, SqliteQueue, Stats,
};
use adoport::serve::status::Status;
use adoport::serve::worker::{HandleError, Handled, Handler, Outcome, Pass, RetryPolicy, Worker};

use adoport::http::error_chain;

use super::Scratch;

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

/// How a scripted handler answers a batch.
type Answer = Box<dyn Fn(&[Signal]) -> Result<Handled, HandleError> + Send + Sync>;

/// A handler that answers from a script and records what it was given.
struct Scripted {
    answer: Answer,
    seen: Mutex<Vec<Vec<Signal>>>,
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, signals: &[Signal]) -> Result<Handled, HandleError> {
        self.seen.lock().unwrap().push(signals.to_vec());
        (self.answer)(signals)
    }
}

/// A handler that answers each signal of a batch by its work item's id.
fn by_work_item(outcome: fn(u64) -> Outcome) -> Arc<Scripted> {
    Arc::new(Scripted {
        answer: Box::new(move |signals| {
            Ok(Handled {
                outcomes: signals
                    .iter()
                    .map(|s| match s.locator {
                        Locator::WorkItem { id } => outcome(id),
                        _ => Outcome::Refused("not a work item".into()),
                    })
                    .collect(),
                summary: String::new(),
            })
        }),
        seen: Mutex::new(Vec::new()),
    })
}

fn worker(queue: Arc<dyn Queue>, handler: Arc<dyn Handler>, max_attempts: u32) -> Worker {
    Worker {
        queue,
        handler,
        metrics: Arc::new(Metrics::default()),
        health: Arc::new(Health::new(Duration::from_secs(60))),
        wake: Arc::new(tokio::sync::Notify::new()),
        policy: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts,
        },
        batch_size: 100,
    }
}

#[test]
fn signals_for_one_entity_coalesce_into_one_row_with_the_newest_signal() {
    let q = SqliteQueue::in_memory().unwrap();
    let first = q
        .enqueue(&event("workitem.created"), &[work_item(1), work_item(2)])
        .unwrap();
    assert_eq!((first.new, first.coalesced), (2, 0));
    let mut deleted = work_item(1);
    deleted.deleted = true;
    let second = q.enqueue(&event("workitem.deleted"), &[deleted]).unwrap();
    assert_eq!((second.new, second.coalesced), (0, 1));
    let rows = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].signal.locator,
        Locator::WorkItem { id: 1 },
        "in order of the first event"
    );
    assert!(rows[0].signal.deleted, "the newest signal wins");
    assert_eq!(
        (rows[0].events, rows[0].last_event.as_str()),
        (2, "workitem.deleted")
    );
}

#[test]
fn a_row_an_event_touched_while_it_was_handled_stays_for_another_pass() {
    let q = SqliteQueue::in_memory().unwrap();
    q.enqueue(&event("workitem.updated"), &[work_item(1), work_item(2)])
        .unwrap();
    let claimed = q.claim(10, SystemTime::now()).unwrap();
    q.enqueue(&event("workitem.updated"), &[work_item(2)])
        .unwrap();
    q.complete(&claimed).unwrap();
    let left = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].signal.locator, Locator::WorkItem { id: 2 });
}

#[test]
fn the_queue_survives_closing_and_reopening_its_file() {
    let s = Scratch::new();
    let path = s.path("state/queue.sqlite");
    {
        let q = SqliteQueue::open(&path).unwrap();
        q.enqueue(&event("workitem.created"), &[work_item(7)])
            .unwrap();
    }
    let q = SqliteQueue::open(&path).unwrap();
    let rows = q.claim(10, SystemTime::now()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].signal, work_item(7));
}

/// Two stores on one database file (as the queue, the traces and the cursors of one `serve`
/// are) writing at once: every write waits its turn, none is starved into failing busy.
#[test]
fn writers_on_one_file_take_turns_and_never_fail() {
    let s = Scratch::new();
    let path = s.path("queue.sqlite");
    let queues = [
        Arc::new(SqliteQueue::open(&path).unwrap()),
        Arc::new(SqliteQueue::open(&path).unwrap()),
    ];
    let threads: Vec<_> = queues
        .iter()
        .enumerate()
        .map(|(t, q)| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..300u64 {
                    // Shared ids: each insert first reads whether the row exists.
                    q.enqueue(&event("workitem.updated"), &[work_item(i % 50)])
                        .unwrap_or_else(|e| {
                            panic!("enqueue {i} on connection {t}: {}", error_chain(&e))
                        });
                    if i % 10 == 0 {
                        let rows = q
                            .claim(5, SystemTime::now())
                            .unwrap_or_else(|e| panic!("claim {i} on {t}: {}", error_chain(&e)));
                        q.complete(&rows)
                            .unwrap_or_else(|e| panic!("complete {i} on {t}: {}", error_chain(&e)));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_complete_resync_supersedes_older_signals_of_its_kinds_only() {
    let q = SqliteQueue::in_memory().unwrap();
    let before = SystemTime::now() - Duration::from_secs(60);
    q.enqueue(
        &EventMeta {
            event_type: "workitem.updated".into(),
            received: before,
        },
        &[work_item(1)],
    )
    .unwrap();
    let branch = Signal {
        kind: "branch".into(),
        locator: Locator::All,
        project: None,
        deleted: false,
    };
    q.enqueue(
        &EventMeta {
            event_type: "git.push".into(),
            received: before,
        },
        &[branch],
    )
    .unwrap();
    q.enqueue(&event("workitem.updated"), &[work_item(2)])
        .unwrap();
    let resync_started = SystemTime::now() - Duration::from_secs(30);
    let removed = q.supersede(&["work-item".into()], resync_started).unwrap();
    assert_eq!(
        removed, 1,
        "work item 1 came before the resync; 2 after it; branch is not read"
    );
    let left: Vec<String> = q
        .claim(10, SystemTime::now())
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[tokio::test]
async fn the_worker_retries_a_failing_batch_then_dead_letters_it_with_the_reason() {
    let q: Arc<SqliteQueue> = Arc::new(SqliteQueue::in_memory().unwrap());
    q.enqueue(&event("workitem.updated"), &[work_item(1)])
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handler = Arc::new(Scripted {
        answer: Box::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Err(HandleError::ApplyFailed {
                failed: 3,
                first: None,
            })
        }),
        seen: Mutex::new(Vec::new()),
    });
    let w = worker(q.clone(), handler, 3);
    for _ in 0..20 {
        w.pass().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        if q.stats(SystemTime::now()).unwrap().dead == 1 {
            break;
        }
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        3,
        "three attempts, then given up"
    );
    let stats = q.stats(SystemTime::now()).unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 1));
    let dead = q.dead_letters(10).unwrap();
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].reason, "3 catalog writes failed");
    assert_eq!(dead[0].signal, work_item(1));
}

#[tokio::test]
async fn each_signal_of_a_batch_gets_its_own_outcome() {
    let q: Arc<SqliteQueue> = Arc::new(SqliteQueue::in_memory().unwrap());
    q.enqueue(
        &event("workitem.updated"),
        &[work_item(1), work_item(2), work_item(3), work_item(4)],
    )
    .unwrap();
    let handler = by_work_item(|id| match id {
        1 => Outcome::Done,
        2 => Outcome::Skipped("no resource reads it".into()),
        3 => Outcome::Retry("the listing was cut short".into()),
        _ => Outcome::Refused("the PAT cannot read it".into()),
    });
    let w = worker(q.clone(), handler.clone(), 5);
    assert_eq!(w.pass().await.unwrap(), Pass::Handled(4));
    let status = q.pending(10).unwrap();
    assert_eq!(
        status.len(),
        1,
        "done and skipped leave, refused is dead, retry waits"
    );
    assert_eq!(status[0].signal, work_item(3));
    assert_eq!(
        (status[0].attempts, status[0].last_error.as_deref()),
        (1, Some("the listing was cut short"))
    );
    let dead = q.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].signal.clone(), dead[0].reason.as_str()),
        (work_item(4), "the PAT cannot read it")
    );
}

/// The SQLite queue, except that removing handled rows fails.
struct CompleteFails(SqliteQueue);

impl Queue for CompleteFails {
    fn enqueue(&self, event: &EventMeta, signals: &[Signal]) -> queue::Result<Enqueued> {
        self.0.enqueue(event, signals)
    }
    fn claim(&self, limit: usize, now: SystemTime) -> queue::Result<Vec<Claimed>> {
        self.0.claim(limit, now)
    }
    fn complete(&self, _: &[Claimed]) -> queue::Result<()> {
        Err(queue::Error::Interrupted)
    }
    fn retry(&self, row: &Claimed, not_before: SystemTime, reason: &str) -> queue::Result<()> {
        self.0.retry(row, not_before, reason)
    }
    fn dead_letter(&self, row: &Claimed, reason: &str, now: SystemTime) -> queue::Result<()> {
        self.0.dead_letter(row, reason, now)
    }
    fn supersede(&self, kinds: &[String], before: SystemTime) -> queue::Result<usize> {
        self.0.supersede(kinds, before)
    }
    fn next_due(&self) -> queue::Result<Option<SystemTime>> {
        self.0.next_due()
    }
    fn stats(&self, now: SystemTime) -> queue::Result<Stats> {
        self.0.stats(now)
    }
    fn resync_started(&self, trigger: &str, started: SystemTime) -> queue::Result<i64> {
        self.0.resync_started(trigger, started)
    }
    fn resync_finished(&self, id: i64, record: &ResyncRecord) -> queue::Result<()> {
        self.0.resync_finished(id, record)
    }
    fn status(&self, limit: usize, resyncs: usize) -> queue::Result<Status> {
        self.0.status(limit, resyncs)
    }
}

/// A failure to settle one row does not leave the others unsettled: the pass reports it,
/// and the failed signals are still retried and dead-lettered.
#[tokio::test]
async fn a_row_that_cannot_be_settled_does_not_keep_the_others_from_theirs() {
    let q = Arc::new(CompleteFails(SqliteQueue::in_memory().unwrap()));
    q.enqueue(
        &event("workitem.updated"),
        &[work_item(1), work_item(3), work_item(4)],
    )
    .unwrap();
    let handler = by_work_item(|id| match id {
        1 => Outcome::Done,
        3 => Outcome::Retry("cut short".into()),
        _ => Outcome::Refused("the PAT cannot read it".into()),
    });
    let w = worker(q.clone(), handler, 5);
    assert!(w.pass().await.is_err(), "the failed settle is reported");
    let pending = q.0.pending(10).unwrap();
    let retried = pending
        .iter()
        .find(|p| p.signal == work_item(3))
        .expect("the retried signal waits");
    assert_eq!(retried.attempts, 1);
    let dead = q.0.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].signal, work_item(4));
}

#[tokio::test]
async fn a_stopped_handler_leaves_the_batch_queued_without_counting_an_attempt() {
    let q: Arc<SqliteQueue> = Arc::new(SqliteQueue::in_memory().unwrap());
    q.enqueue(&event("workitem.updated"), &[work_item(1)])
        .unwrap();
    let handler = Arc::new(Scripted {
        answer: Box::new(|_| Err(HandleError::Stopped)),
        seen: Mutex::new(Vec::new()),
    });
    let w = worker(q.clone(), handler, 2);
    assert_eq!(w.pass().await.unwrap(), Pass::Stopped);
    let pending = q.pending(10).unwrap();
    assert_eq!((pending.len(), pending[0].attempts), (1, 0));
}

#[tokio::test]
async fn the_worker_stops_after_the_batch_in_hand() {
    let q: Arc<SqliteQueue> = Arc::new(SqliteQueue::in_memory().unwrap());
    q.enqueue(&event("workitem.updated"), &[work_item(1)])
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let trigger = stop.clone();
    let handler = Arc::new(Scripted {
        answer: Box::new(move |signals| {
            // Shutdown arrives while the batch is in hand.
            let _ = trigger.send(true);
            Ok(Handled {
                outcomes: vec![Outcome::Done; signals.len()],
                summary: String::new(),
            })
        }),
        seen: Mutex::new(Vec::new()),
    });
    let w = worker(q.clone(), handler.clone(), 2);
    tokio::time::timeout(Duration::from_secs(5), w.run(stopped))
        .await
        .expect("the worker stops");
    assert_eq!(
        q.stats(SystemTime::now()).unwrap().pending,
        0,
        "the batch in hand finished"
    );
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
}
