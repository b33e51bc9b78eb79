//! Mapping parity: every case of the corpus generated with Port's own processor
//! (`tests/fixtures/mapping/parity/generate.py`, port-ocean 0.56.2) maps to identical
//! entities, and `adoport map` reproduces Port's processor over the published example.
//!
//! Numbers compare by value: Port's jq binding hands integral doubles to Python as `int`
//! (`1.0` → `1`), which is the same JSON number.

use std::path::{Path, PathBuf};

use adoport::config::{ConfigFiles, Resource, build_config};
use adoport::jq::{Engine, EngineOptions};
use adoport::mapping::{MappedEntity, Options, ResourceResult, evaluate_with};
use serde_json::{Value, json};

/// Differences from Port that belong to the jq engine, not to the mapping, each with why.
/// A listed path that starts to match is reported too, so the list only shrinks.
const KNOWN_JQ_GAPS: &[(&str, &str, &str)] = &[];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A one-resource config, as the loader builds it (JSON is YAML).
pub(crate) fn resource(json: &Value) -> Resource {
    let doc = serde_json::json!({ "resources": [json] });
    let loaded = build_config(ConfigFiles {
        mappings: vec![("case.yaml".into(), doc.to_string().into_bytes())],
        ..ConfigFiles::default()
    });
    let Some(config) = loaded.config else {
        panic!(
            "the case's mapping does not load: {:#?}",
            loaded.diagnostics
        );
    };
    config
        .mapping
        .resources
        .into_iter()
        .next()
        .expect("one resource")
}

/// JSON equality with numbers compared by value.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Where two values differ, as `path: ours != port` lines.
pub(crate) fn diff(port: &Value, ours: &Value, at: &str) -> String {
    match (port, ours) {
        (Value::Object(p), Value::Object(o)) => {
            let mut keys: Vec<&String> = p.keys().chain(o.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| {
                    !same(
                        &p.get(*k)
                            .cloned()
                            .unwrap_or(Value::String("<absent>".into())),
                        &o.get(*k)
                            .cloned()
                            .unwrap_or(Value::String("<absent>".into())),
                    )
                })
                .map(|k| {
                    let absent = Value::String("<absent>".into());
                    diff(
                        p.get(k).unwrap_or(&absent),
                        o.get(k).unwrap_or(&absent),
                        &format!("{at}.{k}"),
                    )
                })
                .collect::<Vec<_>>()
                .join("")
        }
        _ => format!("\n  {at}: ours {ours}, Port {port}"),
    }
}

fn count(results: &[Value], outcome: &str) -> usize {
    results.iter().filter(|r| r["outcome"] == outcome).count()
}

/// Differences between our result and Port's, as readable lines.
fn compare(
    case: &Value,
    got: &ResourceResult,
    gaps_hit: &mut std::collections::BTreeSet<(String, String)>,
) -> Vec<String> {
    let expected = &case["expected"];
    let results = expected["results"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    let name = case["name"].as_str().unwrap_or_default();
    let lists = [
        ("entity", &got.entities),
        ("rejected_entity", &got.rejected_entities),
    ];
    for (outcome, ours) in lists {
        compare_entities(name, outcome, &results, ours, gaps_hit, &mut out);
    }
    let checks = [
        (
            "rejected",
            got.rejected.len(),
            count(&results, "rejected")
                + count(&results, "rejected_entity")
                + count(&results, "rejected_dropped"),
        ),
        (
            "dropped",
            got.dropped,
            count(&results, "dropped") + count(&results, "rejected_dropped"),
        ),
        // Port drops an item whose identifier or blueprint is empty, silently; here each is
        // also an item error (its kind must not be pruned on a field that failed).
        (
            "item errors",
            got.item_errors,
            count(&results, "selector_error")
                + count(&results, "invalid")
                + count(&results, "dropped")
                + count(&results, "rejected_dropped"),
        ),
        (
            "skipped",
            got.skipped,
            expected["skipped"].as_array().map_or(0, Vec::len),
        ),
    ];
    for (what, ours, port) in checks {
        if ours != port {
            out.push(format!("{what}: {ours}, Port {port}"));
        }
    }
    out
}

/// Compares the entities of one outcome (`entity`, or `rejected_entity` with parse_all).
fn compare_entities(
    name: &str,
    outcome: &str,
    results: &[Value],
    ours: &[MappedEntity],
    gaps_hit: &mut std::collections::BTreeSet<(String, String)>,
    out: &mut Vec<String>,
) {
    let want: Vec<&Value> = results
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .map(|r| &r["entity"])
        .collect();
    if want.len() != ours.len() {
        out.push(format!(
            "{} {outcome} results, Port has {}",
            ours.len(),
            want.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(ours).enumerate() {
        if !same(w, &g.json()) {
            let lines: Vec<String> = diff(w, &g.json(), "")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter(|l| {
                    let gap = KNOWN_JQ_GAPS.iter().find(|(case, path, _)| {
                        *case == name && l.trim_start().starts_with(&format!("{path}:"))
                    });
                    if let Some((case, path, _)) = gap {
                        gaps_hit.insert((case.to_string(), path.to_string()));
                    }
                    gap.is_none()
                })
                .map(str::to_owned)
                .collect();
            if !lines.is_empty() {
                out.push(format!("entity {i}:\n{}", lines.join("\n")));
            }
        }
        if let Some(entity) = &g.entity {
            let as_json = serde_json::to_value(entity).expect("entity serializes");
            let ok = as_json.get("identifier").is_some()
                && as_json["blueprint"].is_string()
                && ["title", "icon", "team"]
                    .iter()
                    .all(|k| same(&as_json[k], &g.json()[k]));
            if !ok {
                out.push(format!(
                    "entity {i}: Entity {as_json} disagrees with {}",
                    g.json()
                ));
            }
        }
    }
}

#[test]
fn every_parity_case_maps_to_the_entities_ports_processor_produces() {
    let engine = Engine::new(EngineOptions::default());
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("parity"))
        .expect("parity corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut cases, mut failures) = (0, Vec::new());
    let mut gaps_hit = std::collections::BTreeSet::new();
    for file in &files {
        let corpus = read_json(file);
        let items = corpus["items"].as_array().cloned().unwrap_or_default();
        for case in corpus["cases"].as_array().into_iter().flatten() {
            cases += 1;
            let options = Options {
                parse_all: case["parse_all"] == true,
                ..Options::default()
            };
            let got = evaluate_with(&resource(&case["resource"]), &items, &engine, options);
            let diffs = compare(case, &got, &mut gaps_hit);

            if !diffs.is_empty() {
                failures.push(format!(
                    "{} / {}:\n{}",
                    corpus["kind"],
                    case["name"],
                    diffs.join("\n")
                ));
            }
        }
    }
    assert!(cases >= 60, "the corpus has {cases} cases");
    let stale: Vec<_> = KNOWN_JQ_GAPS
        .iter()
        .filter(|(case, path, _)| !gaps_hit.contains(&(case.to_string(), path.to_string())))
        .collect();
    assert!(
        stale.is_empty(),
        "known gaps that no longer differ (remove them): {stale:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from Port:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `adoport map` over Port's published example reproduces what Port's processor produces
/// (`example-output.ocean.json`, generated by `generate.py`).
///
/// Port's published `example-output.json` differs from both in one place: its release
/// entity carries seven properties its own `example-mappings.yaml` does not map
/// (`definitionName`, `definitionSnapshotRevision`, `description`, `keepForever`,
/// `logsContainerUrl`, `releaseNameFormat`, `variables`): the file was made with an older
/// mapping. The column and board entities are identical.
#[test]
fn adoport_map_over_the_published_example_reproduces_ports_processor() {
    // Port's own `ocean-ado-examples` (data, mapping, published output), kept in fixtures.
    let reference = crate::support::upstream("ocean-ado-examples");
    let data = read_json(&reference.join("example-data.json"));
    let items = data.as_array().expect("example data is an array");
    // The kind of each item of example-data.json, in order.
    let kinds = ["column", "board", "release"];
    let dir = tempfile::tempdir().expect("temp dir");
    let mut entities = Vec::new();
    for (i, (item, kind)) in items.iter().zip(kinds).enumerate() {
        // One item per run, as JSON lines.
        let input = dir.path().join(format!("{i}.jsonl"));
        std::fs::write(&input, format!("{item}\n")).expect("write input");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
            .args(["map", "--format", "json", "--kind", kind, "--config"])
            .arg(reference.join("example-mappings.yaml"))
            .arg("--input")
            .arg(&input)
            .output()
            .expect("adoport runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json output");
        for resource in doc["resources"].as_array().into_iter().flatten() {
            entities.extend(resource["entities"].as_array().cloned().unwrap_or_default());
        }
    }
    let truth = read_json(&fixtures().join("example-output.ocean.json"));
    let entities = Value::Array(entities);
    assert!(
        same(&entities, &truth),
        "ours:\n{entities:#}\nPort's processor:\n{truth:#}"
    );
}

mod cli {
    use super::*;
    use crate::support::{adoport, stdout};

    const CONFIG: &str = "tests/fixtures/mapping/cli/mapping.yaml";
    const ITEMS: &str = "tests/fixtures/mapping/cli/projects.jsonl";

    #[test]
    fn map_shows_entities_rejections_and_counted_field_diagnostics_and_exits_0() {
        let out = adoport(&[
            "map", "--config", CONFIG, "--kind", "project", "--input", ITEMS,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!("map_text", stdout(&out));
    }

    #[test]
    fn map_json_is_one_document_with_every_resource_of_the_kind() {
        let out = adoport(&[
            "map", "--config", CONFIG, "--kind", "project", "--input", ITEMS, "--format", "json",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        let resources = doc["resources"].as_array().expect("resources");
        assert_eq!(resources.len(), 2);
        assert_eq!(resources[0]["entities"].as_array().map(Vec::len), Some(3));
        // Two items have no identifier: item errors, so the kind is incomplete.
        assert_eq!(resources[0]["item_errors"], 2);
        assert_eq!(resources[0]["complete"], false);
        assert_eq!(
            resources[1]["item_errors"], 6,
            "a string selector fails every item"
        );
        assert_eq!(resources[1]["complete"], false);
        let bad = resources[0]["diagnostics"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["field"] == "properties.bad"))
            .expect("a diagnostic for properties.bad");
        assert_eq!(
            (&bad["diagnostic"], &bad["count"]),
            (&json!("runtime"), &json!(5))
        );
    }

    #[test]
    fn map_reads_a_json_array_from_stdin() {
        let items: Vec<Value> = std::fs::read_to_string(support_path(ITEMS))
            .expect("items")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
            .args([
                "map", "--config", CONFIG, "--kind", "project", "--input", "-", "--format", "json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("adoport runs");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(Value::Array(items).to_string().as_bytes())
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("adoport ends");
        assert_eq!(out.status.code(), Some(0));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["items"], 6);
    }

    #[test]
    fn map_exits_1_when_the_config_or_the_input_cannot_be_loaded() {
        let cases: [&[&str]; 3] = [
            &[
                "--config",
                "tests/fixtures/mapping/cli/broken.yaml",
                "--input",
                ITEMS,
            ],
            &[
                "--config",
                CONFIG,
                "--input",
                "tests/fixtures/mapping/cli/mapping.yaml",
            ],
            &[
                "--config",
                CONFIG,
                "--input",
                "tests/fixtures/mapping/cli/nope.json",
            ],
        ];
        for args in cases {
            let mut all = vec!["map", "--kind", "project"];
            all.extend_from_slice(args);
            let out = adoport(&all);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(out.stdout.is_empty(), "{args:?}");
        }
    }

    #[test]
    fn map_exits_1_when_the_mapping_has_no_resource_of_the_kind() {
        let out = adoport(&[
            "map", "--config", CONFIG, "--kind", "build", "--input", ITEMS,
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no resource of kind `build`"));
    }

    /// `adoport map` parses, maps and renders windows of items on every core: over an input
    /// of many windows (with items that fail, are rejected or lack fields) its document is
    /// exactly what one thread mapping every item in order gives, from an array and from
    /// JSON lines alike.
    #[test]
    fn map_on_every_core_writes_what_the_single_threaded_mapper_gives() {
        let base: Vec<Value> = std::fs::read_to_string(support_path(ITEMS))
            .expect("items")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        // Past three windows of 1,024, in uneven parts, ids varied so each item is its own.
        let items: Vec<Value> = (0..3_500)
            .map(|n| {
                let mut item = base[n % base.len()].clone();
                if item["id"].as_str().is_some_and(|id| id.len() > 8) {
                    item["id"] = json!(format!("{n}-{}", item["id"].as_str().unwrap_or("")));
                }
                item
            })
            .collect();
        // As the command names it (relative), so findings name the same origin.
        let config = adoport::config::load(Path::new(CONFIG))
            .expect("the mapping reads")
            .config
            .expect("the mapping loads");
        let engine = Engine::new(EngineOptions::default());
        let expected: Vec<Value> = config
            .mapping
            .resources
            .iter()
            .filter(|r| r.kind == "project")
            .map(|r| {
                let one = evaluate_with(r, &items, &engine, Options::default());
                json!({
                    "entities": one.entities.iter().map(MappedEntity::json).collect::<Vec<_>>(),
                    "items": one.items,
                    "rejected": one.rejected,
                    "item_errors": one.item_errors,
                    "dropped": one.dropped,
                    "diagnostics": one.diagnostics,
                })
            })
            .collect();
        assert_eq!(expected.len(), 2);
        let dir = tempfile::tempdir().expect("temp dir");
        let array = dir.path().join("items.json");
        std::fs::write(&array, Value::Array(items.clone()).to_string()).expect("write");
        let lines = dir.path().join("items.jsonl");
        let text: String = items.iter().map(|i| format!("{i}\n")).collect();
        std::fs::write(&lines, text).expect("write");
        for input in [&array, &lines] {
            let input = input.to_str().expect("utf-8 path");
            let out = adoport(&[
                "map", "--config", CONFIG, "--kind", "project", "--input", input, "--format",
                "json",
            ]);
            assert_eq!(out.status.code(), Some(0), "{input}");
            let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(doc["items"], 3_500);
            let got: Vec<Value> = doc["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .map(|r| {
                    json!({
                        "entities": r["entities"], "items": r["items"], "rejected": r["rejected"],
                        "item_errors": r["item_errors"], "dropped": r["dropped"],
                        "diagnostics": r["diagnostics"],
                    })
                })
                .collect();
            assert!(
                got == expected,
                "{input}: {}",
                diff(&json!(expected), &json!(got), "")
            );
        }
    }

    fn support_path(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

/// The shipped default mapping over `mappings/samples/items.json` gives exactly what real
/// jq 1.8 gives (`entities.json`, written by `mappings/samples/evaluate.py` with PyPI `jq`).
#[test]
fn the_default_mapping_over_its_samples_matches_real_jq() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = adoport::config::load(&root.join("mappings")).expect("the default mapping reads");
    let config = loaded.config.expect("the default mapping loads");
    let items = read_json(&root.join("mappings/samples/items.json"));
    let truth = read_json(&root.join("mappings/samples/entities.json"));
    let engine = Engine::new(EngineOptions::default());
    let mut ours = Vec::new();
    for resource in &config.mapping.resources {
        let raw: Vec<Value> = items[&resource.kind]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let result = evaluate_with(resource, &raw, &engine, Options::default());
        ours.extend(result.entities.iter().map(MappedEntity::json));
    }
    let ours = Value::Array(ours);
    assert!(same(&ours, &truth), "{}", diff(&truth, &ours, ""));
}

/// The parallel mapper is the single-threaded one spread over the cores: on every parity
/// case, with the corpus items repeated past the size that splits a batch, the entities,
/// rejections, counts and findings (examples included) are identical, in the same order.
#[test]
fn the_parallel_mapper_gives_exactly_what_the_single_threaded_one_gives() {
    use adoport::mapping::evaluate_parallel;
    let engine = Engine::new(EngineOptions::default());
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("parity"))
        .expect("parity corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut compared = 0;
    for file in &files {
        let corpus = read_json(file);
        let base = corpus["items"].as_array().cloned().unwrap_or_default();
        if base.is_empty() {
            continue;
        }
        // Past the 256 items below which a batch stays on one thread, in uneven parts.
        let items: Vec<Value> = base.iter().cycle().take(601).cloned().collect();
        for case in corpus["cases"].as_array().into_iter().flatten() {
            let options = Options {
                parse_all: case["parse_all"] == true,
                ..Options::default()
            };
            let r = resource(&case["resource"]);
            let single = evaluate_with(&r, &items, &engine, options);
            let parallel = evaluate_parallel(&r, &items, &engine, options);
            assert_eq!(single, parallel, "{}", case["name"]);
            compared += 1;
        }
    }
    assert!(compared >= 60, "{compared} cases compared");
}
