//! Live events end to end: the release `adoport serve` between the fake ADO server and the
//! Port API emulator, `workitem.updated` events posted at a steady rate.
//!
//! `cargo bench --bench serve_events [-- --rate 500 --seconds 60 --work-items 2000]`
//!
//! For each event, the fake ADO server's work item changes first (its title carries the
//! event's sequence number), then the event naming it is posted; *accepted* is the 202.
//! The emulator keeps a log of its writes: an event is *written* when the emulator first
//! stores its work item with a title of this event's number or a later one (a later event
//! for the same work item may be coalesced with it in the queue, and that write carries
//! both). The latency is written − accepted (0 when the write came first: the work item was
//! read again for an earlier event after this change). An event never written is *lost*.
//! `serve`'s memory (VmRSS) is read at the start (after its first resync), halfway and at
//! the end; the load average before and after, since the machine may be shared.

// A benchmark's report is its stdout.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator};
use adoport::testkit::synthetic_org::{OrgSpec, generate};

const SECRET: &str = "bench-webhook-secret";

/// When an event was accepted (its 202), by its sequence number: the work item it named and
/// the instant.
type Accepted = Option<(u64, Instant)>;
const BLUEPRINT: &str = "azureDevopsWorkItem";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|at| args.get(at + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rate = arg("--rate", 500).max(1);
    let seconds = arg("--seconds", 60).max(1);
    let work_items = usize::try_from(arg("--work-items", 2000)).unwrap_or(2000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let load_before = load_average();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let org = generate(&OrgSpec {
        work_items,
        ..OrgSpec::small()
    });
    let fake = runtime
        .block_on(FakeAdo::start(org.clone(), FakeConfig::default()))
        .expect("the fake ADO server starts");
    let mut options = EmulatorOptions::default();
    for file in std::fs::read_dir(root.join("mappings/blueprints")).expect("blueprints") {
        options = options
            .with_blueprint_file(file.expect("a blueprint").path())
            .expect("a blueprint file");
    }
    let emu = runtime
        .block_on(PortEmulator::start(options))
        .expect("the emulator starts");

    let scratch = tempfile::tempdir().expect("a scratch folder");
    let queue = scratch.path().join("queue.sqlite");
    let (mut serve, addr) = start_serve(&root, scratch.path(), &queue, &fake, &emu);
    let started = Instant::now();
    wait("the first resync", Duration::from_secs(600), || {
        queue.exists()
            && adoport::serve::status::read(&queue, 1, 1)
                .is_ok_and(|s| s.resyncs.iter().any(|r| r.finished_ms.is_some()))
    });
    println!("first resync: {:.1} s", started.elapsed().as_secs_f64());
    let rss_start = rss_kib(serve.id());

    emu.keep_writes();
    let fake = Arc::new(fake);
    let ids: Vec<(u64, Value)> = org
        .work_items
        .iter()
        .map(|w| {
            let name = &w["fields"]["System.TeamProject"];
            let project = org.projects.iter().find(|p| p["name"] == *name);
            (
                w["id"].as_u64().unwrap_or(0),
                project.map_or(Value::Null, |p| p["id"].clone()),
            )
        })
        .collect();
    let template: Value = serde_json::from_slice(
        &std::fs::read(root.join("examples/webhooks/workitem.updated.json"))
            .expect("the sample event"),
    )
    .expect("JSON");
    let total = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let accepted: Arc<Mutex<Vec<Accepted>>> =
        Arc::new(Mutex::new(vec![None; usize::try_from(total).unwrap_or(0)]));
    // Posts not answered 202, by why (a status code, or the client's error).
    let refused: Arc<Mutex<std::collections::BTreeMap<String, u64>>> = Arc::default();
    let rss_middle = Arc::new(Mutex::new(None));
    // reqwest is built without a default TLS provider (plain HTTP here, but it asks).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client");
    let url = format!("http://{addr}/webhook");
    let auth = adoport::serve::auth::basic_header("adoport", SECRET);
    let serve_pid = serve.id();
    let posting = Instant::now();
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let begin = tokio::time::Instant::now();
        for i in 0..total {
            tokio::time::sleep_until(begin + period * u32::try_from(i).unwrap_or(u32::MAX)).await;
            if i == total / 2 {
                *rss_middle.lock().unwrap() = rss_kib(serve_pid);
            }
            let (id, project) = &ids[usize::try_from(i).unwrap_or(0) % ids.len()];
            let id = *id;
            fake.edit(|org| {
                org.work_items[usize::try_from(id).unwrap_or(1) - 1]["fields"]["System.Title"] =
                    json!(format!("Work item {id} #{i}"));
            });
            let mut body = template.clone();
            body["resource"]["id"] = json!(i + 1);
            body["resource"]["workItemId"] = json!(id);
            body["resource"]["revision"]["id"] = json!(id);
            body["resourceContainers"]["project"]["id"] = project.clone();
            let client = client.clone();
            let (url, auth) = (url.clone(), auth.clone());
            let (accepted, refused) = (accepted.clone(), refused.clone());
            tasks.spawn(async move {
                let sent = client
                    .post(url)
                    .header("authorization", auth)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body).unwrap_or_default())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().as_u16() == 202 => {
                        accepted.lock().unwrap()[usize::try_from(i).unwrap_or(0)] =
                            Some((id, Instant::now()));
                    }
                    Ok(r) => {
                        *refused
                            .lock()
                            .unwrap()
                            .entry(r.status().to_string())
                            .or_default() += 1;
                    }
                    Err(e) => {
                        let why = if e.is_timeout() {
                            "timeout"
                        } else if e.is_connect() {
                            "connect"
                        } else {
                            "transport"
                        };
                        *refused.lock().unwrap().entry(why.to_owned()).or_default() += 1;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let posted_in = posting.elapsed();
    wait("the queue to drain", Duration::from_secs(600), || {
        adoport::serve::status::read(&queue, 1, 1).is_ok_and(|s| s.queue.pending == 0)
    });
    let drained_in = posting.elapsed();
    let rss_end = rss_kib(serve.id());
    let load_after = load_average();

    // When each work item was written with each version.
    let mut writes: HashMap<u64, Vec<(u64, Instant)>> = HashMap::new();
    for w in emu.take_writes() {
        if w.blueprint != BLUEPRINT {
            continue;
        }
        let version = w.entity["title"]
            .as_str()
            .and_then(|t| t.rsplit_once(" #"))
            .and_then(|(_, n)| n.parse::<u64>().ok());
        if let (Some(v), Ok(id)) = (version, w.identifier.parse::<u64>()) {
            writes.entry(id).or_default().push((v, w.at));
        }
    }
    let accepted = accepted.lock().unwrap().clone();
    let mut latencies = Vec::new();
    let mut lost = 0u64;
    for (i, event) in accepted.iter().enumerate() {
        let Some((id, at)) = event else { continue };
        let i = i as u64;
        let written = writes
            .get(id)
            .and_then(|ws| ws.iter().filter(|(v, _)| *v >= i).map(|(_, t)| *t).min());
        match written {
            Some(t) => latencies.push(t.saturating_duration_since(*at)),
            None => lost += 1,
        }
    }
    latencies.sort();
    let final_ok = fake
        .current()
        .work_items
        .iter()
        .filter(|w| {
            let id = w["id"].as_u64().unwrap_or(0).to_string();
            emu.entity(BLUEPRINT, &id)
                .is_some_and(|e| e["title"] == w["fields"]["System.Title"])
        })
        .count();
    let status = adoport::serve::status::read(&queue, 1, 10).ok();
    let _ = serve.kill();
    let _ = serve.wait();

    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let accepted_n = accepted.iter().filter(|a| a.is_some()).count();
    println!("serve_events: {total} events at {rate}/s for {seconds} s, {work_items} work items");
    println!("load average before: {load_before}");
    println!("load average after:  {load_after}");
    println!(
        "posted in {:.1} s ({:.0}/s), accepted (202) {accepted_n}, refused {:?}",
        posted_in.as_secs_f64(),
        total as f64 / posted_in.as_secs_f64(),
        refused.lock().unwrap()
    );
    println!(
        "queue drained {:.1} s after the first post",
        drained_in.as_secs_f64()
    );
    println!(
        "accepted → written: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "lost: {lost}; work items whose catalog title is ADO's last: {final_ok} of {}",
        ids.len()
    );
    if let Some(s) = status {
        println!("dead letters: {}", s.queue.dead);
    }
    let mib =
        |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "serve RSS: start {}, middle {}, end {}",
        mib(rss_start),
        mib(*rss_middle.lock().unwrap()),
        mib(rss_end)
    );
}

/// Starts the release `adoport serve` over the fakes; returns it and the address it
/// listens on. Its log goes to `dir/serve.log`.
fn start_serve(
    root: &Path,
    dir: &Path,
    queue: &Path,
    fake: &FakeAdo,
    emu: &PortEmulator,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_adoport"))
        .arg("serve")
        .args(["--config", &root.join("mappings").display().to_string()])
        .args(["--source", "ado", "--target", "port"])
        .args(["--queue", &format!("sqlite:{}", queue.display())])
        .args(["--listen", "127.0.0.1:0", "--retry-base", "100ms"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat())
        .env("PORT_CLIENT_ID", CLIENT_ID)
        .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT_BASE_URL", emu.base_url())
        .env("ADOPORT_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("adoport serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = dir.join("serve.log");
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(log).ok();
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && let Some(at) = line.find("listening on ") {
                let addr = line[at + 13..].split_whitespace().next().unwrap_or("");
                let _ = tx.send(addr.to_owned());
                sent = true;
            }
            if let Some(f) = &mut file {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve listens");
    (child, addr)
}

fn wait(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// A process's resident memory, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
