//! Plan benchmark: 100,000 desired entities against a SQLite catalog holding 100,000 (10 %
//! changed). Times `list_owned` + `plan` and reports peak memory (`VmHWM`).
//!
//! Budget (DESIGN.md "Performance"): < 2 s and < 300 MB. Run: `cargo bench --bench plan`.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A benchmark's output is its report.

use std::time::Instant;

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::entity::Entity;
use adoport::reconcile::{Desired, Guards, plan, plan_catalog};
use serde_json::json;

const N: usize = 100_000;
const SEED_CHUNK: usize = 10_000;

/// A work-item-like entity: title, icon, 7 properties, 2 relations.
fn entity(i: usize, version: u32) -> Entity {
    let mut e = Entity::new(format!("{}", 100_000 + i), "workItem");
    e.title = Some(json!(format!("Fix the flaky pipeline step number {i}")));
    e.icon = Some(json!("AzureDevops"));
    let p = &mut e.properties;
    p.insert("type".into(), json!(["Bug", "Task", "User Story"][i % 3]));
    p.insert(
        "state".into(),
        json!(if version == 0 { "Active" } else { "Resolved" }),
    );
    p.insert("priority".into(), json!(i % 4 + 1));
    p.insert("effort".into(), json!((i % 13) as f64 / 2.0));
    p.insert("createdDate".into(), json!("2026-03-14T09:26:53.589Z"));
    p.insert(
        "assignee".into(),
        json!(format!("user{}@example.com", i % 250)),
    );
    p.insert(
        "link".into(),
        json!(format!(
            "https://dev.azure.com/org/project/_workitems/edit/{}",
            100_000 + i
        )),
    );
    e.relations
        .insert("project".into(), json!(format!("project-{}", i % 40)));
    e.relations
        .insert("parent".into(), json!(format!("{}", 100_000 + i / 10)));
    e
}

/// CPU time (user + system, all threads) of this process so far, in seconds: on a shared
/// machine wall time includes waiting for a core, CPU time does not.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // USER_HZ is 100 on Linux.
}

/// Peak resident memory of this process so far, in MB (Linux `VmHWM`).
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    // Each mode runs in its own process, so each `VmHWM` is its own.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (mode, path) = (&args[i + 1], &args[i + 2]);
        child(mode, std::path::Path::new(path));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.sqlite");
    let catalog = SqliteCatalog::open(&path, "adoport").expect("open catalog");
    let t = Instant::now();
    for start in (0..N).step_by(SEED_CHUNK) {
        let chunk: Vec<Entity> = (start..start + SEED_CHUNK).map(|i| entity(i, 0)).collect();
        catalog.seed("adoport", &chunk).expect("seed");
    }
    let seeded = t.elapsed();
    drop(catalog);
    let size_mb = std::fs::metadata(&path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    println!(
        "plan: {N} desired vs {N} in SQLite ({size_mb:.0} MB file, seeded in {seeded:.2?}), 10 % changed"
    );
    let exe = std::env::current_exe().expect("current exe");
    for mode in ["stream", "list"] {
        let out = std::process::Command::new(&exe)
            .args(["--child", mode])
            .arg(&path)
            .output()
            .expect("run child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// One measurement in a fresh process: `stream` (`plan_catalog`: the desired entities
/// sorted in memory and merged with the listing in key order, as watch plans) or `list`
/// (`list_owned`, then `plan` over the vector).
fn child(mode: &str, path: &std::path::Path) {
    let catalog = SqliteCatalog::open(path, "adoport").expect("open catalog");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Desired: the same entities, every tenth changed.
    let desired = || Desired {
        entities: (0..N).map(|i| entity(i, u32::from(i % 10 == 0))).collect(),
        ..Desired::default()
    };
    let d = desired();
    let before = peak_mb().unwrap_or(0.0);
    let cpu = cpu_s();
    let t = Instant::now();
    let p = match mode {
        "stream" => rt
            .block_on(plan_catalog(d, &catalog, &Guards::default()))
            .expect("plan"),
        _ => {
            let actual = rt.block_on(catalog.list_owned()).expect("list");
            let listed = t.elapsed();
            let p = plan(d, actual, &Guards::default());
            println!(
                "  [list]   list_owned {listed:.3?}, plan {:.3?}",
                t.elapsed() - listed
            );
            p
        }
    };
    let total = t.elapsed();
    let cpu = cpu_s() - cpu;
    let peak = peak_mb().unwrap_or(0.0);
    assert_eq!(p.summary.update, N / 10);
    assert_eq!(p.summary.unchanged, N - N / 10);
    drop(p);
    println!(
        "  [{mode}] list + plan {total:.3?} wall, {cpu:.2} s CPU (budget 2 s); peak memory {peak:.0} MB (budget 300 MB; desired alone {before:.0} MB)"
    );
    if mode == "list" {
        // The spawn_blocking hop, measured on a warm file: best of 3 each way.
        let best = |f: &dyn Fn()| {
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .min()
                .unwrap_or_default()
        };
        let hop = best(&|| drop(rt.block_on(catalog.list_owned()).expect("list")));
        let direct = best(&|| drop(catalog.list_owned_blocking().expect("list")));
        println!(
            "  [list]   list_owned via spawn_blocking {hop:.3?}, on the calling thread {direct:.3?}"
        );
    }
}
