//! Past one machine: `nats-server` and three `adoport serve` replicas (real processes of
//! the binary) against the fake Azure DevOps server and the Port API emulator, sharing one
//! NATS queue and one catalog.
//!
//! ADO changes in generations (every work item gets a new title, served live by the fake);
//! after each, one `workitem.updated` event per work item is posted, round-robin across the
//! replicas. Midway the replica holding the resync lease is killed with SIGKILL; posts it
//! can no longer answer go to the next replica, as ADO retries a delivery. Then every
//! work item's newest title must be in the catalog (none lost), nothing may be in the dead
//! letters, the interval resync must have started exactly once per interval across the
//! replicas (each start between one and two intervals after the one before, none
//! overlapping the one before), and a surviving replica must hold the lease, and have
//! resynced, within two intervals of the kill.
//!
//! `ADOPORT_SCALE_EVENTS` sets how many events are posted (default 2,000, which runs well
//! within a minute in a debug build on two cores); BENCHMARKS.md has a run with 10,000.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use adoport::serve::auth::basic_header;
use adoport::serve::nats::{NatsAuth, NatsQueue};
use adoport::serve::queue::{Queue, ResyncRecord, millis};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};

use super::fakes::SECRET;
use super::nats::NatsServer;
use super::{ServeProcess, request, sample, wait_for};
use crate::support::root;

/// The resync interval of the replicas' config.
const INTERVAL: Duration = Duration::from_secs(5);
/// How long the lease outlives its holder (`--lease-ttl`): well within the interval.
const LEASE_TTL: &str = "2s";
/// How long a dead replica's messages wait before another takes them (`--ack-wait`).
const ACK_WAIT: &str = "2s";
const REPLICAS: usize = 3;
const POSTERS: usize = 4;

/// How many events to post: `ADOPORT_SCALE_EVENTS`, default 2,000.
#[allow(clippy::disallowed_methods)] // The test's own knob, read where the test starts.
fn events_to_post() -> usize {
    std::env::var("ADOPORT_SCALE_EVENTS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(2_000)
}

/// A config of the work-item kind alone, resynced every [`INTERVAL`].
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("adoport.yaml"),
        format!(
            "datasource: adoport-replicas\nresync:\n  interval: {}s\n",
            INTERVAL.as_secs()
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("mappings")).unwrap();
    std::fs::write(
        dir.path().join("mappings/work-items.yaml"),
        r#"createMissingRelatedEntities: true
resources:
  - kind: work-item
    selector:
      query: 'true'
      wiql: "[System.State] NOT IN ('Removed')"
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .fields."System.Title"
          blueprint: '"azureDevopsWorkItem"'
          properties:
            state: .fields."System.State"
"#,
    )
    .unwrap();
    dir
}

fn title(id: usize, generation: usize) -> String {
    format!("Work item {id}, revision {generation}")
}

/// ADO in `generation`: the first `count` work items retitled.
fn retitle(org: &mut SyntheticOrg, generation: usize, count: usize) {
    for (i, item) in org.work_items.iter_mut().take(count).enumerate() {
        item["fields"]["System.Title"] = json!(title(i + 1, generation));
    }
}

/// The sample `workitem.updated` event, about work item `id`.
fn event_for(template: &Value, id: usize) -> Vec<u8> {
    let mut event = template.clone();
    event["resource"]["workItemId"] = json!(id);
    event["resource"]["revision"]["id"] = json!(id);
    serde_json::to_vec(&event).unwrap()
}

/// Posts, round-robin over the live replicas; a replica that cannot answer passes the
/// event to the next, as ADO retries a delivery.
struct Poster {
    addrs: Vec<std::net::SocketAddr>,
    dead: Mutex<Option<usize>>,
    auth: String,
    accepted: AtomicUsize,
    passed_on: AtomicUsize,
}

impl Poster {
    fn post(&self, k: usize, body: &[u8]) {
        for attempt in 0..(REPLICAS * 3) {
            let at = (k + attempt) % REPLICAS;
            if *self.dead.lock().unwrap() == Some(at) {
                continue;
            }
            let (status, text) =
                request(self.addrs[at], "POST", "/webhook", Some(&self.auth), body);
            if status == 202 {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            assert!(status == 0 || status >= 500, "event {k}: {status} {text}");
            self.passed_on.fetch_add(1, Ordering::Relaxed);
        }
        panic!("no replica accepted event {k}");
    }
}

#[test]
fn three_replicas_share_the_events_lose_none_to_a_kill_and_resync_once_per_interval() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let events = events_to_post();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut org = generate(&OrgSpec::small());
    let items = org.work_items.len();
    retitle(&mut org, 0, items);
    let ado = runtime
        .block_on(FakeAdo::start(org.clone(), FakeConfig::default()))
        .unwrap();
    let blueprints = root().join("examples/config-repo/blueprints/azureDevopsWorkItem.json");
    let port = runtime
        .block_on(PortEmulator::start(
            EmulatorOptions::default()
                .with_blueprint_file(blueprints)
                .unwrap(),
        ))
        .unwrap();
    let config = config_dir();
    let work = tempfile::tempdir().unwrap();
    let env = vec![
        ("AZURE_DEVOPS_ORG_URL", ado.org_url()),
        ("AZURE_DEVOPS_PAT", ado.pat()),
        ("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_BASE_URL", port.base_url().to_owned()),
    ];
    let mut replicas: Vec<Option<ServeProcess>> = (1..=REPLICAS)
        .map(|n| {
            let args: Vec<String> = [
                "--config",
                &config.path().display().to_string(),
                "--source",
                "ado",
                "--target",
                "port",
                "--queue",
                &nats.url(),
                "--replica-id",
                &format!("replica-{n}"),
                "--listen",
                "127.0.0.1:0",
                "--ack-wait",
                ACK_WAIT,
                "--lease-ttl",
                LEASE_TTL,
                "--retry-base",
                "100ms",
                "--retry-max",
                "500ms",
            ]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
            let dir = work.path().join(format!("replica-{n}"));
            std::fs::create_dir(&dir).unwrap();
            Some(ServeProcess::start(&dir, &args, &env))
        })
        .collect();
    let logs = |replicas: &[Option<ServeProcess>]| -> String {
        replicas
            .iter()
            .flatten()
            .map(ServeProcess::log)
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let queue = NatsQueue::inspect(&nats.spec("adoport"), NatsAuth::None).unwrap();
    let titles = || -> BTreeMap<usize, String> {
        (1..=items)
            .filter_map(|id| {
                let entity = port.entity("azureDevopsWorkItem", &id.to_string())?;
                Some((id, entity["title"].as_str()?.to_owned()))
            })
            .collect()
    };
    wait_for("the first resync", Duration::from_secs(90), || {
        titles().len() == items
    });

    let template: Value = serde_json::from_slice(&sample("workitem.updated")).unwrap();
    let poster = Arc::new(Poster {
        addrs: replicas.iter().flatten().map(|r| r.addr).collect(),
        dead: Mutex::new(None),
        auth: basic_header("adoport", SECRET),
        accepted: AtomicUsize::new(0),
        passed_on: AtomicUsize::new(0),
    });
    let generations = events.div_ceil(items);
    let posting_started = Instant::now();
    let mut killed: Option<(String, SystemTime)> = None;
    let mut watcher = None;
    let mut last_generation = 0;
    for generation in 1..=generations {
        let count = (events - (generation - 1) * items).min(items);
        retitle(&mut org, generation, count);
        ado.replace_org(org.clone());
        last_generation = generation;
        let bodies: Vec<(usize, Vec<u8>)> = (0..count)
            .map(|i| ((generation - 1) * items + i, event_for(&template, i + 1)))
            .collect();
        let bodies = Arc::new(bodies);
        let before = poster.accepted.load(Ordering::Relaxed);
        let threads: Vec<_> = (0..POSTERS)
            .map(|t| {
                let (poster, bodies) = (poster.clone(), bodies.clone());
                std::thread::spawn(move || {
                    for (k, body) in bodies.iter().skip(t).step_by(POSTERS) {
                        poster.post(*k, body);
                    }
                })
            })
            .collect();
        if generation == generations / 2 + 1 {
            // Midway, while events are being posted: kill the replica holding the resync
            // lease, outright. Posts it can no longer answer go to the next replica.
            while poster.accepted.load(Ordering::Relaxed) < before + count / 2 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let holder = queue
                .resync_lease()
                .unwrap()
                .and_then(|l| l.holder)
                .expect("a replica holds the lease");
            let at = holder
                .strip_prefix("replica-")
                .and_then(|n| n.parse::<usize>().ok())
                .expect("a replica's name")
                - 1;
            let mut process = replicas[at].take().unwrap();
            process.child.kill().unwrap();
            process.child.wait().unwrap();
            let killed_at = SystemTime::now();
            *poster.dead.lock().unwrap() = Some(at);
            killed = Some((holder.clone(), killed_at));
            // Watches the lease from the kill on: who takes it over, and when.
            let spec = nats.spec("adoport");
            watcher = Some(std::thread::spawn(move || {
                let queue = NatsQueue::inspect(&spec, NatsAuth::None).unwrap();
                let until = Instant::now() + INTERVAL * 4;
                while Instant::now() < until {
                    let now = queue.resync_lease().unwrap().and_then(|l| l.holder);
                    if let Some(new) = now.filter(|h| *h != holder) {
                        return Some((new, SystemTime::now()));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                None
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
    }
    let posting = posting_started.elapsed();
    let (killed_name, killed_at) = killed.clone().expect("a replica was killed");
    assert_eq!(poster.accepted.load(Ordering::Relaxed), events);

    // Every event's effect is in the catalog: each work item bears its newest title.
    wait_for("the queue to drain", Duration::from_secs(120), || {
        queue.stats(SystemTime::now()).unwrap().pending == 0
    });
    let drained = posting_started.elapsed();
    let status = queue.status(20, 0).unwrap();
    assert!(
        status.dead_letters.is_empty(),
        "{:?}\n{}",
        status.dead_letters,
        logs(&replicas)
    );
    let wanted: BTreeMap<usize, String> = (1..=items)
        .map(|id| {
            // The last generation may have posted fewer than all items.
            let last = if (events - (last_generation - 1) * items) >= id {
                last_generation
            } else {
                last_generation - 1
            };
            (id, title(id, last))
        })
        .collect();
    let got = titles();
    let stale: Vec<_> = wanted
        .iter()
        .filter(|(id, t)| got.get(id) != Some(t))
        .map(|(id, t)| format!("{id}: wanted {t:?}, got {:?}", got.get(id)))
        .collect();
    assert!(stale.is_empty(), "{stale:#?}\n{}", logs(&replicas));

    // A new holder took the lease over within two intervals of the kill.
    let (new_holder, took_over_at) = watcher
        .unwrap()
        .join()
        .unwrap()
        .unwrap_or_else(|| panic!("no replica took the lease over\n{}", logs(&replicas)));
    assert!(
        took_over_at.duration_since(killed_at).unwrap() < INTERVAL * 2,
        "{new_holder} took over {:?} after the kill",
        took_over_at.duration_since(killed_at)
    );

    // Let the new holder's schedule show: two resyncs begun after the kill.
    let after_kill = |records: &[ResyncRecord]| {
        records
            .iter()
            .filter(|r| r.started_ms > millis(killed_at))
            .count()
    };
    wait_for("two resyncs after the kill", INTERVAL * 4, || {
        after_kill(&queue.status(0, 200).unwrap().resyncs) >= 2
    });
    let mut resyncs = queue.status(0, 200).unwrap().resyncs;
    resyncs.sort_by_key(|r| r.started_ms);
    let shown: Vec<String> = resyncs
        .iter()
        .map(|r| {
            format!(
                "{} {} {} on {:?} took {:?}ms",
                r.started_ms,
                r.trigger,
                r.outcome,
                r.replica,
                r.finished_ms.map(|f| f - r.started_ms)
            )
        })
        .collect();
    let interval_ms = i64::try_from(INTERVAL.as_millis()).unwrap();
    for pair in resyncs.windows(2) {
        let gap = pair[1].started_ms - pair[0].started_ms;
        assert!(
            (interval_ms..2 * interval_ms).contains(&gap),
            "a resync began {gap} ms after the one before: {shown:#?}"
        );
        if let Some(finished) = pair[0].finished_ms {
            assert!(finished <= pair[1].started_ms, "overlap: {shown:#?}");
        }
    }
    assert_eq!(resyncs[0].trigger, "start", "{shown:#?}");
    // Each ran to success, but the newest (it may still run) and one the kill cut short.
    for (i, r) in resyncs.iter().enumerate() {
        let cut_short = r.replica.as_deref() == Some(killed_name.as_str());
        let newest = i + 1 == resyncs.len();
        assert!(
            r.outcome == "ok" || ((cut_short || newest) && r.outcome == "running"),
            "{shown:#?}"
        );
    }
    let first_after = resyncs
        .iter()
        .find(|r| r.started_ms > millis(killed_at))
        .unwrap();
    assert_ne!(first_after.replica.as_deref(), Some(killed_name.as_str()));
    assert!(
        first_after.started_ms - millis(killed_at) < 2 * interval_ms,
        "{shown:#?}"
    );

    let gaps: Vec<i64> = resyncs
        .windows(2)
        .map(|p| p[1].started_ms - p[0].started_ms)
        .collect();
    #[allow(clippy::print_stderr)] // The measured numbers, for BENCHMARKS.md.
    {
        eprintln!(
            "replicas: {events} events posted in {posting:?} ({:.0}/s), drained {drained:?} after \
             the first post; {} passed on by the dead replica; {} resyncs, {}-{} ms apart; lease \
             {killed_name} -> {new_holder} {:?} after the kill, its first resync {} ms after it",
            events as f64 / posting.as_secs_f64(),
            poster.passed_on.load(Ordering::Relaxed),
            resyncs.len(),
            gaps.iter().min().unwrap_or(&0),
            gaps.iter().max().unwrap_or(&0),
            took_over_at.duration_since(killed_at).unwrap(),
            first_after.started_ms - millis(killed_at),
        );
    }
}
