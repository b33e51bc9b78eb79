//! End-to-end fetch of the reference organization from the fake ADO server.
//!
//! `cargo bench --bench fetch [-- --latency-ms N --kinds a,b]`: the fake server runs in a child process (this binary run
//! with `--serve-fake`) with 20 ms of latency per request, so the wall time, CPU time and
//! peak memory printed are the client's alone. It also prints the requests the fetch made
//! per endpoint, and what Port's integration's paging (page size 50, per-repository
//! pull-request passes, empty-page `$skip` termination) would need for the same data.

// A benchmark's report is its stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adoport::ado::record::{self, KindFetch};
use adoport::ado::{
    AdoSource, Client, ClientOptions, KINDS, OrgUrl, Pat, SnapshotWriter, Source, SourceOptions,
};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_paging::{FILE_SELECTOR, FOLDER_SELECTOR, port_requests};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::{Map, Value};

/// Latency per request unless `--latency-ms N` says otherwise.
const LATENCY_MS: u64 = 20;

fn spec(now_secs: i64) -> OrgSpec {
    OrgSpec {
        now: org_now(now_secs),
        ..OrgSpec::reference()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|at| args.get(at + 1))
    };
    let latency = Duration::from_millis(
        arg("--latency-ms")
            .and_then(|s| s.parse().ok())
            .unwrap_or(LATENCY_MS),
    );
    if let Some(now) = arg("--serve-fake") {
        serve(now.parse().unwrap_or(0), latency);
        return;
    }
    let now = jiff::Timestamp::now().as_second();
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--serve-fake",
            &now.to_string(),
            "--latency-ms",
            &latency.as_millis().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("read the fake server URL");
    let (url, pat) = line.trim().split_once(' ').expect("URL and PAT");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let client = Client::new(
        OrgUrl::parse(url).expect("url"),
        &Pat::new(pat),
        ClientOptions::default(),
    )
    .expect("client");
    let source: Arc<dyn Source> =
        Arc::new(AdoSource::new(client.clone(), SourceOptions::default()));
    // `--kinds a,b` fetches only those kinds (all by default).
    let only: Vec<String> = arg("--kinds")
        .map(|k| k.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let fetches: Vec<KindFetch> = record::plan(
        KINDS
            .iter()
            .filter(|k| only.is_empty() || only.iter().any(|o| o == k.name))
            .map(|k| (k.name.to_owned(), selector(k.name))),
    );
    let mut writer = SnapshotWriter::create(dir.path(), url).expect("snapshot");
    let mut done_at = BTreeMap::new();
    let outcomes = runtime
        .block_on(record::fetch_and_record(
            source,
            &fetches,
            &mut writer,
            |o| {
                done_at.insert(o.kind.clone(), started.elapsed());
            },
        ))
        .expect("record");
    let wall = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let _ = child.kill();
    let _ = child.wait();

    let org = generate(&spec(now));
    println!(
        "reference org: 10 projects, 200 repos, 2,000 PRs, 20,000 work items, 500 pipelines, 5,000 builds"
    );
    println!("latency per request: {} ms", latency.as_millis());
    for o in &outcomes {
        let at = done_at.get(&o.kind).map_or(0.0, Duration::as_secs_f64);
        println!(
            "  {:<18} {:>6} items  complete={}  done at {at:.2} s",
            o.kind, o.count, o.complete
        );
    }
    println!("requests (adoport): {}", client.request_count());
    let port = port_requests(&org, org_now(now));
    let port_total: u64 = port.values().sum();
    println!("requests (Port's paging, same org): {port_total}");
    for (kind, n) in &port {
        println!("  {kind:<18} {n:>6}");
    }
    println!("wall time: {:.2} s", wall.as_secs_f64());
    println!(
        "ideal wall time at 16 in flight: {:.2} s",
        client.request_count() as f64 * latency.as_secs_f64() / 16.0
    );
    println!("CPU time (client): {cpu:.2} s");
    println!("peak memory (client, VmHWM): {} MiB", peak_rss_kib() / 1024);
}

/// Port's default selector for `kind`, and for `file` and `folder` (which need one) the
/// selectors `port_paging` counts with.
fn selector(kind: &str) -> Map<String, Value> {
    let text = match kind {
        "file" => FILE_SELECTOR,
        "folder" => FOLDER_SELECTOR,
        _ => "{}",
    };
    serde_json::from_str(text).expect("a selector")
}

fn org_now(now_secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(now_secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn serve(now: i64, latency: Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = FakeConfig {
            latency,
            ..FakeConfig::default()
        };
        let pat = config.pat.clone();
        let fake = FakeAdo::start(generate(&spec(now)), config)
            .await
            .expect("fake server");
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} {pat}", fake.org_url()).expect("stdout");
        out.flush().expect("stdout");
        drop(out);
        std::future::pending::<()>().await;
    });
}

fn cpu_seconds() -> f64 {
    // utime and stime (fields 14 and 15 of /proc/self/stat) in clock ticks of 1/100 s.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
