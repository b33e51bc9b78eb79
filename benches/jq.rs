//! jq engine benchmark: cost per evaluation of a fast-path leaf, the same leaf through jaq,
//! a `gsub` leaf and a 14-field entity mapping on a ~2.6 KB ADO work item.
//!
//! Run: `cargo bench --bench jq`

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use adoport::jq::{Engine, EngineOptions, Input};
use serde_json::Value;

/// The 14 leaves of a typical work-item entity mapping.
const MAPPING: [&str; 14] = [
    ".id | tostring",
    ".fields[\"System.Title\"]",
    ".fields[\"System.State\"]",
    ".fields[\"System.WorkItemType\"] | ascii_downcase | gsub(\" \"; \"-\")",
    ".fields[\"System.AssignedTo\"].uniqueName // null",
    ".fields[\"System.AreaPath\"] | split(\"\\\\\") | last",
    ".fields[\"System.Tags\"] // \"\" | split(\";\") | map(trim) | map(select(length > 0))",
    ".fields[\"Microsoft.VSTS.Common.Priority\"]",
    ".fields[\"Microsoft.VSTS.Scheduling.StoryPoints\"] // 0",
    ".fields[\"System.CreatedDate\"] | sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdateiso8601 | todate",
    ".fields[\"System.ChangedDate\"]",
    "[.relations[]? | select(.rel == \"System.LinkTypes.Hierarchy-Reverse\") | .url | split(\"/\") | last] | first",
    ".fields[\"System.State\"] == \"Closed\" or .fields[\"System.State\"] == \"Resolved\"",
    "._links.html.href",
];

fn work_item() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jq/port_cases/inputs.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut all: Value = serde_json::from_str(&text).expect("json");
    let mut item = all["workItem"].take();
    // Pad the description to bring the item to ~2.6 KB, like a real work item.
    item["fields"]["System.History"] = Value::String("Updated acceptance criteria. ".repeat(10));
    item
}

fn time(label: &str, iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
    println!("{label:<48} {ns:>10.0} ns/eval");
    ns
}

fn main() {
    let engine = Engine::new(EngineOptions::default());
    let item = work_item();
    println!(
        "work item: {} bytes of JSON",
        serde_json::to_string(&item).map_or(0, |s| s.len())
    );

    let fast = engine
        .compile(".fields[\"System.Title\"]")
        .expect("compiles");
    assert!(fast.is_fast_path());
    let slow = engine
        .compile(".fields[\"System.Title\"] | .")
        .expect("compiles");
    let gsub = engine
        .compile(".fields[\"System.Title\"] | gsub(\"[^a-zA-Z0-9]+\"; \"-\") | ascii_downcase")
        .expect("compiles");
    let mapping: Vec<_> = MAPPING
        .iter()
        .map(|e| engine.compile(e).expect("compiles"))
        .collect();

    // Leaves on an input that is already converted (the mapping evaluator shares one Input).
    let input = Input::new(&item);
    let _ = slow.first(&input);
    let f = time(
        "fast-path leaf .fields[\"System.Title\"]",
        1_000_000,
        || {
            black_box(fast.first(black_box(&input)).ok());
        },
    );
    let s = time("same leaf through jaq (`| .`)", 200_000, || {
        black_box(slow.first(black_box(&input)).ok());
    });
    println!("{:<48} {:>10.1} x", "fast-path speed-up", s / f);
    time("gsub leaf", 50_000, || {
        black_box(gsub.first(black_box(&input)).ok());
    });
    time("14-field mapping (input converted once)", 20_000, || {
        let input = Input::new(black_box(&item));
        for p in &mapping {
            black_box(p.first(&input).ok());
        }
    });
    let input = Input::new(&item);
    for (expr, p) in MAPPING.iter().zip(&mapping) {
        let label: String = expr.chars().take(46).collect();
        time(&format!("  {label}"), 20_000, || {
            black_box(p.first(black_box(&input)).ok());
        });
    }
    time(
        "input conversion (Input::new + `.`-free leaf)",
        20_000,
        || {
            let input = Input::new(black_box(&item));
            black_box(mapping[0].first(&input).ok());
        },
    );
    time("compile (cache hit)", 1_000_000, || {
        black_box(engine.compile(black_box(MAPPING[3])).ok());
    });
    let fresh = EngineOptions::default();
    time("compile (cache miss, new engine)", 200, || {
        let e = Engine::new(fresh.clone());
        black_box(e.compile(black_box(MAPPING[9])).ok());
    });
}
