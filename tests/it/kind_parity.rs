//! Kind parity: items of all 29 kinds, recorded from the fake ADO server, map to the very
//! entities Port's own processor makes of them.
//!
//! The corpus is `tests/fixtures/parity-kinds/` (`regen.sh` rebuilds it by hand): `items/` is
//! a snapshot of every kind, recorded by `adoport fetch` with each selector of the mappings
//! below and sampled; `expected/KIND.json` holds, for every resource of Port's default
//! mapping, Port's published example mapping and adoport's shipped mapping, what port-ocean's
//! `JQEntityProcessor` (the version Port's Azure DevOps integration locks) made of those
//! items. Here the same items, replayed through the snapshot source, go through adoport's
//! mapping as `plan` runs it, and the entities must be identical, in the same order.
//!
//! Numbers compare by value (Port's jq binding hands integral doubles to Python as `int`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use adoport::ado::{KINDS, Snapshot};
use adoport::jq::{Engine, EngineOptions};
use adoport::mapping::{Options, ResourceResult, evaluate_parallel};
use serde_json::Value;

use crate::mapping::{diff, resource, same};

/// Intended differences from Port's processor, as (case name, entity path, why). Empty: on
/// these items adoport and Port agree everywhere. A listed difference that stops differing
/// fails the test, so the list only shrinks.
const INTENDED_DIFFERENCES: &[(&str, &str, &str)] = &[];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity-kinds")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `expected/KIND.json`, by kind.
fn expected_files() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("expected"))
        .expect("the expected entities")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|f| read_json(f)).collect()
}

#[test]
fn the_corpus_records_every_kind_and_maps_each_with_at_least_one_mapping() {
    let snapshot = Snapshot::open(corpus().join("items")).expect("the recorded items");
    let recorded: BTreeSet<&str> = snapshot
        .manifest()
        .kinds
        .keys()
        .map(String::as_str)
        .collect();
    let kinds: BTreeSet<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(recorded, kinds, "regenerate with regen.sh");
    assert_eq!(kinds.len(), 29);
    let files = expected_files();
    let mapped: BTreeSet<&str> = files
        .iter()
        .filter(|f| f["cases"].as_array().is_some_and(|c| !c.is_empty()))
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert_eq!(mapped, kinds);
    // Port's own mappings are in: its default mapping and its published example.
    let names: Vec<&str> = files
        .iter()
        .flat_map(|f| f["cases"].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect();
    for source in [
        "ocean-ado-defaults/port-app-config.yaml",
        "ocean-ado-examples/example-mappings.yaml",
    ] {
        assert!(names.iter().any(|n| n.contains(source)), "{source}");
    }
}

#[test]
fn every_kind_maps_to_the_entities_ports_processor_makes_of_the_same_recorded_items() {
    let snapshot = Snapshot::open(corpus().join("items")).expect("the recorded items");
    let engine = Engine::new(EngineOptions::default());
    let (mut cases, mut entities, mut failures) = (0, 0, Vec::new());
    let mut hit = BTreeSet::new();
    for file in expected_files() {
        let kind = file["kind"].as_str().expect("kind");
        let listing = snapshot.listing(kind);
        assert!(listing.complete, "{kind}: {:?}", listing.error);
        assert_eq!(Some(listing.items.len() as u64), file["items"].as_u64());
        for case in file["cases"].as_array().into_iter().flatten() {
            cases += 1;
            let name = case["name"].as_str().unwrap_or_default();
            let got = evaluate_parallel(
                &resource(&case["resource"]),
                &listing.items,
                &engine,
                Options::default(),
            );
            entities += got.entities.len();
            let diffs = compare(name, case, &got, &mut hit);
            if !diffs.is_empty() {
                failures.push(format!("{kind} / {name}:\n{}", diffs.join("\n")));
            }
        }
    }
    assert!(cases >= 50, "the corpus has {cases} cases");
    assert!(entities >= 400, "the corpus maps {entities} entities");
    let stale: Vec<_> = INTENDED_DIFFERENCES
        .iter()
        .filter(|(case, path, _)| !hit.contains(&(*case, *path)))
        .collect();
    assert!(
        stale.is_empty(),
        "intended differences that no longer differ (remove them): {stale:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from Port's processor:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Differences between adoport's result for one case and Port's, as readable lines.
fn compare(
    name: &str,
    case: &Value,
    got: &ResourceResult,
    hit: &mut BTreeSet<(&'static str, &'static str)>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(error) = case["batchError"].as_str() {
        out.push(format!("Port failed the whole batch: {error}"));
    }
    let want = case["entities"].as_array().cloned().unwrap_or_default();
    if want.len() != got.entities.len() {
        out.push(format!(
            "{} entities, Port has {}",
            got.entities.len(),
            want.len()
        ));
    }
    for (i, (port, ours)) in want.iter().zip(&got.entities).enumerate() {
        let json = ours.json();
        let lines: Vec<String> = diff(port, &json, "")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| {
                let intended = INTENDED_DIFFERENCES.iter().find(|(case, path, _)| {
                    *case == name && l.trim_start().starts_with(&format!("{path}:"))
                });
                if let Some((case, path, _)) = intended {
                    hit.insert((*case, *path));
                }
                intended.is_none()
            })
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() {
            out.push(format!(
                "entity {i} ({}):\n{}",
                ours.item.id,
                lines.join("\n")
            ));
        }
        // What the plan writes is the same entity.
        match &ours.entity {
            Some(entity) => {
                let planned = serde_json::to_value(entity).expect("an entity serializes");
                if !same(&planned, &json) {
                    out.push(format!("entity {i}: planned {planned} but mapped {json}"));
                }
            }
            None => out.push(format!("entity {i}: mapped but not planned: {json}")),
        }
    }
    // Port maps an item or fails it; what is left, its selector rejected or it was dropped
    // for an empty identifier or blueprint (Port counts those together, adoport apart, and
    // also counts a drop as an item error).
    let errors = case["errors"].as_array().map_or(0, Vec::len);
    if got.item_errors - got.dropped != errors {
        out.push(format!(
            "{} items failed, Port failed {errors}",
            got.item_errors - got.dropped
        ));
    }
    let left = got.items - want.len() - errors;
    if got.rejected.len() + got.dropped != left {
        out.push(format!(
            "{} rejected and {} dropped, Port left out {left}",
            got.rejected.len(),
            got.dropped
        ));
    }
    out
}
