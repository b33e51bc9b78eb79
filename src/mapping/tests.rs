use serde_json::json;

use super::*;
use crate::config::{ConfigFiles, build_config};
use crate::jq::EngineOptions;

fn resource(json: Value) -> Resource {
    let doc = json!({ "resources": [json] });
    let loaded = build_config(ConfigFiles {
        mappings: vec![("t.yaml".into(), doc.to_string().into_bytes())],
        ..ConfigFiles::default()
    });
    let config = loaded.config.expect("the test mapping loads");
    config
        .mapping
        .resources
        .into_iter()
        .next()
        .expect("one resource")
}

fn run(mappings: Value, query: &str, items: &[Value]) -> ResourceResult {
    let r = resource(json!({
        "kind": "project",
        "selector": { "query": query },
        "port": { "entity": { "mappings": mappings } },
    }));
    evaluate(&r, items, &Engine::new(EngineOptions::default()))
}

fn projects(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({ "id": format!("p{i}"), "name": format!("Project {i}") }))
        .collect()
}

#[test]
fn a_leaf_that_does_not_compile_is_null_on_every_item_with_one_counted_diagnostic() {
    let got = run(
        json!({ "identifier": ".id", "blueprint": "'p'", "properties": { "bad": ".name |" } }),
        "true",
        &projects(5),
    );
    assert_eq!(got.entities.len(), 5);
    assert!(
        got.entities
            .iter()
            .all(|e| e.json()["properties"]["bad"].is_null())
    );
    assert_eq!(got.diagnostics.len(), 1);
    let d = &got.diagnostics[0];
    assert_eq!(
        (d.field.as_str(), d.diagnostic, d.count),
        ("properties.bad", DiagnosticKind::Compile, 5)
    );
    assert_eq!(
        d.examples,
        ["p0", "p1", "p2"],
        "only the first few ids are kept"
    );
    assert!(got.is_complete(), "field diagnostics are not item errors");
}

#[test]
fn a_selector_that_gives_no_boolean_is_an_item_error_and_the_result_is_incomplete() {
    let got = run(
        json!({ "identifier": ".id", "blueprint": "'p'" }),
        ".name",
        &projects(2),
    );
    assert_eq!(got.item_errors, 2);
    assert!(got.entities.is_empty());
    assert!(!got.is_complete());
    assert_eq!(got.diagnostics[0].diagnostic, DiagnosticKind::Selector);
    assert_eq!(got.diagnostics[0].field, "selector.query");
}

#[test]
fn rejected_items_are_listed_and_not_mapped() {
    let got = run(
        json!({ "identifier": ".id", "blueprint": "'p'", "title": ".nope.x" }),
        ".id == \"p1\"",
        &projects(3),
    );
    let rejected: Vec<&str> = got.rejected.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(rejected, ["p0", "p2"]);
    assert_eq!(got.entities.len(), 1);
    assert_eq!(
        got.diagnostics[0].count, 1,
        "only the mapped item is evaluated"
    );
}

#[test]
fn an_empty_identifier_drops_the_item_as_an_item_error() {
    let items = vec![
        json!({ "id": "" }),
        json!({ "id": null }),
        json!({ "id": "x" }),
    ];
    let got = run(
        json!({ "identifier": ".id", "blueprint": "'p'" }),
        "true",
        &items,
    );
    assert_eq!(
        (got.dropped, got.entities.len(), got.item_errors),
        (2, 1, 2)
    );
    assert!(!got.is_complete());
    assert!(
        got.diagnostics
            .iter()
            .any(|d| d.diagnostic == DiagnosticKind::NoIdentity && d.count == 2)
    );
}

#[test]
fn an_item_that_is_not_an_object_is_an_item_error_never_an_entity() {
    let items = vec![
        json!(42),
        json!("x"),
        json!([]),
        json!(null),
        json!({}),
        json!({ "id": "ok" }),
    ];
    let got = run(
        json!({ "identifier": ".id | tostring", "blueprint": "'p'" }),
        "true",
        &items,
    );
    assert_eq!((got.entities.len(), got.item_errors), (1, 5));
    assert_eq!(got.entities[0].json()["identifier"], "ok");
}

#[test]
fn only_mapped_fields_are_present_and_a_mapped_null_is_kept() {
    let got = run(
        json!({ "identifier": ".id", "blueprint": "'p'", "title": ".t" }),
        "true",
        &projects(1),
    );
    assert_eq!(
        got.entities[0].json(),
        json!({ "identifier": "p0", "blueprint": "p", "title": null })
    );
    let entity = got.entities[0]
        .entity
        .as_ref()
        .expect("a string identifier gives an entity");
    assert_eq!(
        (entity.title.clone(), entity.icon.clone()),
        (Some(Value::Null), None)
    );
}

#[test]
fn a_number_identifier_is_kept_in_the_json_and_becomes_its_text_in_the_entity() {
    let got = run(
        json!({ "identifier": ".n", "blueprint": "'p'" }),
        "true",
        &[json!({ "n": 18 })],
    );
    assert_eq!(got.entities[0].json()["identifier"], json!(18));
    assert_eq!(
        got.entities[0]
            .entity
            .as_ref()
            .map(|e| e.identifier.as_str()),
        Some("18")
    );
}

#[test]
fn items_to_parse_without_a_deletable_path_skips_the_item_with_a_diagnostic() {
    let r = resource(json!({
        "kind": "team",
        "selector": { "query": "true" },
        "port": {
            "entity": { "mappings": { "identifier": ".item", "blueprint": "'m'" } },
            "itemsToParse": "[.members[] | select(. != \"b\")]",
        },
    }));
    let items = [json!({ "id": "t", "members": ["a", "b"] })];
    let got = evaluate(&r, &items, &Engine::new(EngineOptions::default()));
    assert_eq!((got.skipped, got.entities.len()), (1, 0));
    assert_eq!(got.diagnostics[0].diagnostic, DiagnosticKind::Skipped);
}

#[test]
fn items_to_parse_yields_one_item_per_element_without_the_source_array() {
    let r = resource(json!({
        "kind": "team",
        "selector": { "query": "true" },
        "port": {
            "entity": { "mappings": {
                "identifier": ".m", "blueprint": "'m'",
                "properties": { "team": ".id", "hasMembers": "has(\"members\")" },
            } },
            "itemsToParse": ".members",
            "itemsToParseName": "m",
        },
    }));
    let items = [json!({ "id": "t", "members": ["a", "b"] })];
    let got = evaluate(&r, &items, &Engine::new(EngineOptions::default()));
    let ids: Vec<Value> = got
        .entities
        .iter()
        .map(|e| e.json()["identifier"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b")]);
    assert_eq!(
        got.entities[1].json()["properties"],
        json!({ "team": "t", "hasMembers": false })
    );
    assert_eq!(got.entities[1].item.element, Some(1));
}

#[test]
fn items_are_read_from_a_json_array_or_json_lines() {
    assert_eq!(
        parse_items("[{\"a\":1},{\"a\":2}]").map(|v| v.len()).ok(),
        Some(2)
    );
    assert_eq!(
        parse_items("{\"a\":1}\n\n{\"a\":2}\n")
            .map(|v| v.len())
            .ok(),
        Some(2)
    );
    assert!(matches!(
        parse_items("{\"a\":1}\nnope"),
        Err(Error::BadLine { line: 2, .. })
    ));
}

#[test]
fn parse_all_maps_rejected_items_into_rejected_entities() {
    let r = resource(json!({
        "kind": "project",
        "selector": { "query": ".id != \"p1\"" },
        "port": { "entity": { "mappings": { "identifier": ".id", "blueprint": "'p'" } } },
    }));
    let engine = Engine::new(EngineOptions::default());
    let got = evaluate_with(
        &r,
        &projects(3),
        &engine,
        Options {
            parse_all: true,
            ..Options::default()
        },
    );
    assert_eq!(got.entities.len(), 2);
    let rejected: Vec<Value> = got
        .rejected_entities
        .iter()
        .map(MappedEntity::json)
        .collect();
    assert_eq!(rejected, [json!({ "identifier": "p1", "blueprint": "p" })]);
    assert_eq!(got.rejected.len(), 1);
    let resync = evaluate(&r, &projects(3), &engine);
    assert!(
        resync.rejected_entities.is_empty(),
        "a resync does not map rejected items"
    );
}
