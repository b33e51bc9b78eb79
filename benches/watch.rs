//! Watch mode: save → new plan latency with 10,000 cached snapshot items.
//!
//! A config folder with two files: `projects.yaml` maps 10,000 project items (parsed once,
//! kept in memory), `repos.yaml` maps 50 repositories. The catalog (SQLite) already holds
//! what the config maps, so each plan compares 10,050 entities. Measured:
//! - `step (small file edited)`: `Session::step` after an edit of `repos.yaml`: read the files,
//!   hash, build, lint, re-map the edited resource only (the 10,000 project entities come
//!   from the cache), plan against 10,050 catalog entities;
//! - `step (large resource edited)`: the same after an edit of `projects.yaml`, which
//!   re-maps all 10,000 items (the worst case);
//! - `end to end`: file written → `Event::Planned` received from `watch::run`, with the
//!   debounce set to 50 ms (the default is 300 ms; subtract the debounce for the work).
//!
//! Run: `cargo bench --bench watch`. Median and max of the runs are printed.

#![allow(clippy::print_stdout, missing_docs)] // a benchmark prints its results

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use adoport::ado::Listing;
use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::desired::Listings;
use adoport::pipeline::{Access, Options, Pipeline};
use adoport::watch::{Event, Session, WatchOptions};

const ITEMS: usize = 10_000;
const RUNS: usize = 15;

fn projects(prop: &str) -> String {
    format!(
        "resources:\n  - kind: project\n    selector:\n      query: \"true\"\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          title: .name\n          blueprint: '\"project\"'\n          properties:\n            about: {prop}\n            url: .url\n            state: .state\n"
    )
}

fn repos(prop: &str) -> String {
    format!(
        "resources:\n  - kind: repository\n    selector:\n      query: \"true\"\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          title: .name\n          blueprint: '\"service\"'\n          properties:\n            size: {prop}\n"
    )
}

fn listings() -> Listings {
    let mut l = Listings::default();
    let items = (0..ITEMS)
        .map(|i| {
            serde_json::json!({
                "id": format!("p{i}"), "name": format!("Project {i}"), "description": "text",
                "url": format!("https://dev.azure.com/acme/p{i}"), "state": "wellFormed",
                "lastUpdateTime": "2026-01-01T00:00:00Z", "visibility": "private",
            })
        })
        .collect();
    l.0.insert(
        "project".into(),
        Arc::new(Listing::complete("project", items)),
    );
    let repos = (0..50)
        .map(|i| serde_json::json!({"id": format!("r{i}"), "name": format!("repo {i}"), "size": i}))
        .collect();
    l.0.insert(
        "repository".into(),
        Arc::new(Listing::complete("repository", repos)),
    );
    l
}

fn write(dir: &Path, projects_prop: &str, repos_prop: &str) {
    std::fs::write(dir.join("mappings/projects.yaml"), projects(projects_prop)).unwrap();
    std::fs::write(dir.join("mappings/repos.yaml"), repos(repos_prop)).unwrap();
}

fn planned(e: Option<Event>) -> Box<adoport::watch::Planned> {
    match e {
        Some(Event::Planned(p)) => p,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<32} median {:>8.1} ms   max {:>8.1} ms   ({} runs)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config");
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    write(&dir, ".description", ".size");
    let catalog = Arc::new(SqliteCatalog::open(tmp.path().join("c.sqlite"), "adoport").unwrap());

    // Seed the catalog with what the config maps, so plans compare a full catalog.
    let pipeline = |catalog: Arc<dyn Catalog>| {
        Pipeline::new(
            Box::new(listings()),
            Some(catalog),
            &Access::default(),
            Options {
                reuse_mapped: true,
                ..Options::default()
            },
        )
        .unwrap()
    };
    let empty = Arc::new(SqliteCatalog::open(tmp.path().join("empty.sqlite"), "adoport").unwrap());
    let mut seed = Session::new(&dir, pipeline(empty), false);
    let first = planned(seed.step());
    catalog
        .seed(
            "adoport",
            &first
                .planned
                .plan
                .creates
                .to_vec()
                .expect("the plan reads back"),
        )
        .unwrap();

    let mut session = Session::new(&dir, pipeline(catalog.clone()), false);
    let warm = planned(session.step());
    assert!(
        !warm.planned.plan.has_changes(),
        "the seeded catalog matches"
    );

    let mut small = Vec::new();
    for i in 0..RUNS {
        write(&dir, ".description", &format!(".size + {}", i + 1));
        let t = Instant::now();
        let p = planned(session.step());
        small.push(t.elapsed());
        assert_eq!((p.planned.evaluated, p.planned.reused), (1, 1));
        assert_eq!(p.planned.plan.summary.update, 50);
    }
    report("step (small file edited)", small);

    let mut large = Vec::new();
    for i in 0..RUNS {
        write(
            &dir,
            &format!(".description + \"{i}\""),
            &format!(".size + {RUNS}"),
        );
        let t = Instant::now();
        let p = planned(session.step());
        large.push(t.elapsed());
        assert_eq!((p.planned.evaluated, p.planned.reused), (1, 1));
        // The 50 repositories differ from the catalog too: the edits above were not applied.
        assert_eq!(p.planned.plan.summary.update, ITEMS + 50);
    }
    report("step (large resource edited)", large);

    // End to end through the watcher, debounce 50 ms.
    let options = WatchOptions {
        debounce: Duration::from_millis(50),
        rescan: Duration::from_secs(60),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let loop_stop = stop.clone();
    let worker =
        std::thread::spawn(move || adoport::watch::run(session, &options, &tx, &loop_stop));
    let _ = rx.recv_timeout(Duration::from_secs(30)); // the first step
    let mut e2e = Vec::new();
    for i in 0..RUNS {
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        write(&dir, ".description", &format!(".size * {}", i + 2));
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Event::Planned(_)) => break,
                Ok(_) => continue,
                Err(e) => panic!("no plan: {e}"),
            }
        }
        e2e.push(t.elapsed());
    }
    report("end to end (debounce 50 ms)", e2e);
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = worker.join();
}
