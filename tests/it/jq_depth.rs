//! Deeply nested values and programs fail their field with a clear error, never the process.
//!
//! jaq, serde_json and the engine's natives recurse over values and programs on the native
//! stack; before the engine bounded nesting, these inputs overflowed it and aborted the
//! whole process, `try` or not. Every test runs on the test harness's own thread (a 2 MiB
//! stack), which is what a mapping worker gets.

use adoport::jq::{Engine, EngineOptions, Input};
use serde_json::{Value, json};

/// The error every refused value reports.
const TOO_DEEP: &str = "too deeply nested (limit 512)";

fn eval(expr: &str, input: &Value) -> Result<Vec<Value>, String> {
    let engine = Engine::new(EngineOptions::default());
    let program = engine.compile(expr).map_err(|e| e.message)?;
    program.all(&Input::new(input)).map_err(|e| e.message)
}

#[track_caller]
fn fails_too_deep(expr: &str, input: &Value) {
    match eval(expr, input) {
        Err(e) => assert!(e.contains(TOO_DEEP), "{expr}: {e}"),
        Ok(v) => panic!("{expr} should fail, gave {} outputs", v.len()),
    }
    // A `try` catches it like any jq error, and the process carries on.
    let caught = format!("try ({expr}) catch \"caught\"");
    assert_eq!(eval(&caught, input), Ok(vec![json!("caught")]), "{caught}");
}

/// `[[[…]]]` nested `levels` deep, built without recursion.
fn nested_json(levels: usize) -> Value {
    let mut v = json!(0);
    for _ in 0..levels {
        v = Value::Array(vec![v]);
    }
    v
}

/// Drops a deep `serde_json` value without recursion (its own `Drop` recurses).
fn dismantle(v: Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.into_iter().map(|(_, x)| x)),
            _ => {}
        }
    }
}

#[test]
fn fromjson_of_a_100000_deep_text_fails_the_field_not_the_process() {
    fails_too_deep("(\"[\" * 100000) | fromjson", &json!(null));
    assert_eq!(
        eval("try ((\"[\" * 100000) | fromjson) catch .", &json!(null)),
        Ok(vec![json!("JSON text too deeply nested (limit 512)")])
    );
    // Brackets inside strings do not count.
    assert_eq!(
        eval(
            "(\"\\\"\" + \"[\" * 100000 + \"\\\"\") | fromjson | length",
            &json!(null)
        ),
        Ok(vec![json!(100_000)])
    );
}

#[test]
fn a_deep_json_text_in_an_item_field_fails_fromjson_cleanly() {
    let text = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let item = json!({"id": 1, "fields": {"Custom.Json": text}});
    fails_too_deep(".fields[\"Custom.Json\"] | fromjson", &item);
    fails_too_deep(".fields[\"Custom.Json\"] | fromjson | flatten", &item);
}

#[test]
fn values_built_20000_deep_fail_at_the_limit_whatever_builds_them() {
    for expr in [
        "reduce range(20000) as $i (0; [.])",
        "reduce range(20000) as $i (0; [.]) | flatten",
        "reduce range(20000) as $i (0; [.]) | walk(.)",
        "reduce range(20000) as $i (0; [.]) | tojson",
        "reduce range(20000) as $i (0; [.]) | [paths]",
        "reduce range(20000) as $i (0; [.]) | [..] | length",
        "reduce range(20000) as $i (0; [.]) | . == .",
        "[reduce range(20000) as $i (0; [.]), 1] | sort",
        "reduce range(20000) as $i (0; {a: .})",
        "reduce range(20000) as $i (\"0\"; \"[\" + . + \"]\") | fromjson",
        "reduce range(20000) as $i ([0]; group_by(.))",
        "reduce range(20000) as $i ([0]; to_entries)",
        "reduce range(20000) as $i ([0]; JOIN({}; tostring))",
        "reduce range(20000) as $i (0; INDEX(.; \"k\"))",
        "reduce range(20000) as $i (0; first(path_value(.)))",
        "reduce range(20000) as $i (0; . as $x | null | first(path(.[$x])))",
        "reduce range(20000) as $i (0; . as $x | {} | .a = $x)",
        "null | setpath([range(20000) | 0]; 1)",
        "fromstream([[range(20000) | 0], 1], [[0]])",
    ] {
        fails_too_deep(expr, &json!(null));
    }
}

#[test]
fn the_deepest_allowed_value_goes_through_every_recursive_builtin() {
    // 511 levels: `to_entries` may still wrap it once.
    let build = "reduce range(511) as $i (0; [.])";
    for (expr, expected) in [
        ("flatten", json!([0])),
        ("walk(.) == .", json!(true)),
        (
            "walk(if type == \"number\" then . + 1 else . end) | flatten",
            json!([1]),
        ),
        ("tojson | length", json!(1023)),
        ("(tostring | fromjson) == .", json!(true)),
        ("[paths] | length", json!(511)),
        ("[paths(type == \"number\")] | length", json!(1)),
        ("[..] | length", json!(512)),
        (". == .", json!(true)),
        ("[., .] | sort | length", json!(2)),
        ("[., .] | unique | length", json!(1)),
        ("group_by(.) | length", json!(1)),
        ("contains(.)", json!(true)),
        ("[tostream] | length", json!(512)),
        ("to_entries | length", json!(1)),
        ("del(.. | select(. == 0)) | flatten", json!([])),
        (
            "(.. | select(type == \"number\")) |= 7 | flatten",
            json!([7]),
        ),
        ("getpath([range(510) | 0]) ", json!([0])),
    ] {
        let program = format!("{build} | {expr}");
        assert_eq!(eval(&program, &json!(null)), Ok(vec![expected]), "{expr}");
    }
}

#[test]
fn an_input_item_nested_20000_deep_is_refused_without_overflow() {
    // Built by hand: `json!` would serialize the deep value recursively.
    let mut fields = serde_json::Map::new();
    fields.insert("x".to_owned(), nested_json(20_000));
    let mut item = serde_json::Map::new();
    item.insert("id".to_owned(), json!(7));
    item.insert("fields".to_owned(), Value::Object(fields));
    let deep = Value::Object(item);
    for (expr, what) in [
        (".", "output"),
        (".fields", "output"),
        (".id | tostring", "input"),
        ("length", "input"),
        (".fields.x | flatten", "input"),
    ] {
        match eval(expr, &deep) {
            Err(e) => assert_eq!(e, format!("{what} {TOO_DEEP}"), "{expr}"),
            Ok(v) => panic!("{expr} should fail, gave {v:?}"),
        }
    }
    // A plain path to a shallow part of the item still works.
    assert_eq!(eval(".id", &deep), Ok(vec![json!(7)]));
    dismantle(deep);
}

#[test]
fn programs_nested_too_deeply_are_refused_at_compile_time() {
    let engine = Engine::new(EngineOptions::default());
    for program in [
        format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{}1{}", "{a:".repeat(1_000), "}".repeat(1_000)),
        format!("1{}", " + 1".repeat(100_000)),
        format!(".{}", " | .".repeat(1_000)),
        format!("[1{}]", ", 1".repeat(1_000)),
        format!("{}1{}", "\"\\(".repeat(1_000), ")\"".repeat(1_000)),
    ] {
        match engine.compile(&program) {
            Err(e) => assert_eq!(e.message, "program too deeply nested (limit 128)"),
            Ok(_) => panic!("{}… should not compile", &program[..20]),
        }
    }
    // Right at the limit, a program compiles (on a thread of its own) and runs here.
    for program in [
        format!("{}1{}", "{a:".repeat(128), "}".repeat(128)),
        format!("1{}", " + 1".repeat(127)),
    ] {
        let compiled = engine.compile(&program).expect("compiles");
        assert!(compiled.first(&Input::new(&json!(null))).is_ok());
    }
}
