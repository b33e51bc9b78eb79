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
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};
use serde_json::{Map, Value};

/// Latency per request unless `--latency-ms N` says otherwise.
const LATENCY_MS: u64 = 20;

fn spec(now_secs: i64) -> OrgSpec {
    OrgSpec {
        now: jiff::Timestamp::from_second(now_secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
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
            .map(|k| (k.name.to_owned(), Map::new())),
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
    let port = port_requests(&org, now);
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

/// Requests Port's integration (v0.12.2) would send for the same data and kinds:
/// page size 50 everywhere, `$top`/`$skip` lists end with an extra empty page,
/// pull requests in three passes per repository, WIQL + 200-id batches per project.
fn port_requests(org: &SyntheticOrg, now: i64) -> BTreeMap<&'static str, u64> {
    let page = 50u64;
    let by_token = |n: u64| n.div_ceil(page).max(1);
    // `$skip` lists end with an empty page: ceil(n/50) pages with items, plus one.
    let by_skip = |n: u64| n.div_ceil(page) + 1;
    let projects = org.projects.len() as u64;
    let repos = org.repos.len() as u64;
    let teams = org.teams.len() as u64;
    let per_project = |f: &dyn Fn(&Value, &Value) -> bool, items: &[Value]| -> Vec<u64> {
        org.projects
            .iter()
            .map(|p| items.iter().filter(|i| f(p, i)).count() as u64)
            .collect()
    };
    let mut out = BTreeMap::new();
    out.insert("project", by_token(projects));
    out.insert("team", by_skip(teams));
    out.insert("user", by_token(org.entitlements.len() as u64));
    out.insert("repository", projects);
    out.insert("repository-policy", repos);
    out.insert(
        "branch",
        org.repos
            .iter()
            .map(|r| by_token(org.refs[r["id"].as_str().unwrap_or_default()].len() as u64))
            .sum(),
    );
    let since =
        jiff::Timestamp::from_second(now - 7 * 86_400).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut prs = 0;
    for repo in &org.repos {
        for status in ["active", "abandoned", "completed"] {
            let n = org
                .pull_requests
                .iter()
                .filter(|pr| pr["repository"]["id"] == repo["id"] && pr["status"] == status)
                .filter(|pr| {
                    status == "active"
                        || pr["closedDate"]
                            .as_str()
                            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                            .is_some_and(|d| d >= since)
                })
                .count() as u64;
            let n = if status == "active" { n } else { n.min(100) };
            prs += if status != "active" && n == 100 {
                2
            } else {
                by_skip(n)
            };
        }
    }
    out.insert("pull-request", prs);
    let pipelines = per_project(
        &|p, pl| {
            org.pipeline_project
                .get(&pl["id"].as_u64().unwrap_or(0))
                .map(String::as_str)
                == p["id"].as_str()
        },
        &org.pipelines,
    );
    out.insert("pipeline", pipelines.iter().map(|n| by_token(*n)).sum());
    let builds = per_project(&|p, b| b["project"]["id"] == p["id"], &org.builds);
    out.insert("build", builds.iter().map(|n| by_token(*n)).sum());
    let releases = per_project(
        &|p, r| r["projectReference"]["id"] == p["id"],
        &org.releases,
    );
    out.insert("release", releases.iter().map(|n| by_token(*n)).sum());
    let items = per_project(
        &|p, w| w["fields"]["System.TeamProject"] == p["name"],
        &org.work_items,
    );
    out.insert(
        "work-item",
        items
            .iter()
            .map(|n| n.div_ceil(19_999).max(1) + n.div_ceil(200))
            .sum(),
    );
    let boards: u64 = org.boards.values().map(|b| b.len() as u64).sum();
    out.insert(
        "board",
        projects * by_skip(teams / projects.max(1)) + teams + boards,
    );
    out.insert("column", 0);
    // The organization family. Team and group lists are cached by Port like ours (shared
    // with `team`/`group`), so only what hangs below them counts; graph pages are the server's
    // (Port's `$top` means nothing to the graph), taken as 500.
    let members: u64 = org
        .team_members
        .values()
        .map(|m| by_skip(m.len() as u64))
        .sum();
    out.insert("member", members);
    out.insert("group", (org.groups.len() as u64).div_ceil(500).max(1));
    out.insert(
        "group-member",
        org.memberships_down
            .values()
            .map(|m| 1 + (m.len() as u64).div_ceil(500))
            .sum(),
    );
    out.insert("iteration", projects + teams);
    out.insert("area-path", projects);
    out.insert(
        "advanced-security-alert",
        org.repos
            .iter()
            .map(|r| {
                org.alerts
                    .get(r["id"].as_str().unwrap_or_default())
                    .map_or(1, |a| by_token(a.len() as u64))
            })
            .sum(),
    );
    let wikis: u64 = org
        .wikis
        .values()
        .flatten()
        .map(|w| {
            let pages = org.wiki_pages.get(w["id"].as_str().unwrap_or_default());
            by_token(pages.map_or(0, Vec::len) as u64)
        })
        .sum();
    out.insert("wiki", projects + wikis);
    out
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
