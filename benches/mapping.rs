//! Mapping benchmark: 100,000 parsed work items (~2.8 KB each, with `__project`
//! enrichment) through Port's default work-item mapping, single-threaded
//! (budget ≥ 100,000 entities per second per core; Port's Python does ~670).
//!
//! Run: `cargo bench --bench mapping`.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use adoport::config;
use adoport::jq::{Engine, EngineOptions};
use adoport::mapping;
use serde_json::Value;

const ITEMS: usize = 100_000;
const RUNS: usize = 5;

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping");
    // Port's own default mapping, kept in the test fixtures.
    let defaults = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/ocean-ado-defaults/port-app-config.yaml");
    let loaded = config::load(&defaults).expect("the default mapping reads");
    let cfg = loaded.config.expect("the default mapping loads");
    let resource = cfg
        .mapping
        .resources
        .iter()
        .find(|r| r.kind == "work-item")
        .expect("a work-item resource");
    let text = std::fs::read_to_string(fixtures.join("work-item.json")).expect("work item");
    let template: Value = serde_json::from_str(&text).expect("work item json");
    let size = template.to_string().len();
    let items: Vec<Value> = (0..ITEMS)
        .map(|i| {
            let mut item = template.clone();
            item["id"] = Value::from(i + 1);
            item["fields"]["System.Title"] = Value::from(format!("Work item number {i}"));
            item["url"] = Value::from(format!(
                "https://dev.azure.com/fabrikam/31440986/_apis/wit/workItems/{}",
                i + 1
            ));
            item
        })
        .collect();
    let engine = Engine::new(EngineOptions::default());
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    for run in 0..RUNS {
        let start = Instant::now();
        let cpu_start = thread_cpu_seconds();
        let result = mapping::evaluate(resource, &items, &engine);
        let secs = start.elapsed().as_secs_f64();
        let cpu = thread_cpu_seconds()
            .zip(cpu_start)
            .map(|(end, start)| end - start);
        assert_eq!(result.entities.len(), ITEMS, "every item maps");
        if run == 0 {
            let first = result.entities[0].json();
            println!("first entity: {first}");
            println!("diagnostics: {}", result.diagnostics.len());
        }
        println!(
            "run {run}: {ITEMS} items in {secs:.3} s wall = {:.0} entities/s; {} CPU",
            ITEMS as f64 / secs,
            cpu.map_or("no".to_owned(), |c| format!(
                "{c:.3} s = {:.0} entities/s",
                ITEMS as f64 / c
            )),
        );
        best = best.min(secs);
        best_cpu = best_cpu.min(cpu.unwrap_or(f64::MAX));
    }
    println!(
        "best of {RUNS}: {:.0} entities/s wall, {:.0} entities per CPU-second of the thread \
         ({size} bytes per item; budget 100,000 per core)",
        ITEMS as f64 / best,
        ITEMS as f64 / best_cpu
    );
}

/// CPU time this thread has run (not waited for a core), from the kernel's scheduler
/// statistics: on a shared machine, wall time counts other processes' turns too.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}
