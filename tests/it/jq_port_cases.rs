//! Port-style jq mappings over ADO-like items, checked against outputs recorded from real jq
//! (PyPI `jq` 1.12.0, the library Port's integrations run): see
//! `tests/fixtures/jq/port_cases/generate.py`. Every case must match: the same outputs as
//! JSON values, or an error on both sides.

use std::path::PathBuf;

use adoport::jq::{Engine, EngineOptions, Input};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jq/port_cases")
        .join(name)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// jq's `jv_equal`: numbers by value, objects regardless of key order.
fn same(a: &Value, b: &Value) -> bool {
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

// The match count is reported on stdout.
#[allow(clippy::print_stdout)]
#[test]
fn port_style_mappings_match_real_jq() {
    let inputs = read_json("inputs.json");
    let cases = read_json("cases.json");
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 150, "at least 150 cases");
    let engine = Engine::new(EngineOptions::default());
    let mut mismatches = Vec::new();
    for case in cases {
        let expr = case["expr"].as_str().unwrap_or_default();
        let input = &inputs[case["input"].as_str().unwrap_or_default()];
        let got = engine
            .compile(expr)
            .map_err(|e| e.message)
            .and_then(|p| p.all(&Input::new(input)).map_err(|e| e.message));
        let ok = match (&got, case.get("outputs")) {
            (Ok(outs), Some(Value::Array(want))) => {
                outs.len() == want.len() && outs.iter().zip(want).all(|(a, b)| same(a, b))
            }
            (Err(_), None) => true,
            _ => false,
        };
        if !ok {
            let want = case
                .get("outputs")
                .cloned()
                .unwrap_or_else(|| case["error"].clone());
            mismatches.push(format!("{expr}\n    jq:     {want}\n    engine: {got:?}"));
        }
    }
    println!(
        "Port-style cases: {} / {} match",
        cases.len() - mismatches.len(),
        cases.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
