//! The evaluation budget holds inside natives' own loops (regex searches, path walks), and
//! the run-wide time budget stops a run's jq work once it is spent.
//!
//! Each case uses a limit small enough that the loop inside one native call is what trips
//! it: before the natives charged the budget, these programs ran to the end (or, on large
//! inputs, for tens of seconds) whatever the limits said.

use std::time::Duration;

use adoport::jq::{DEFAULT_RUN_BUDGET, Engine, EngineOptions, Input, Limits, RunBudget};
use serde_json::{Value, json};

fn engine(limits: Limits) -> Engine {
    Engine::new(EngineOptions {
        limits,
        ..EngineOptions::default()
    })
}

fn eval(engine: &Engine, expr: &str, input: &Value) -> Result<Vec<Value>, String> {
    let program = engine.compile(expr).map_err(|e| e.message)?;
    program.all(&Input::new(input)).map_err(|e| e.message)
}

#[track_caller]
fn fails_with(engine: &Engine, expr: &str, input: &Value, message: &str) {
    match eval(engine, expr, input) {
        Err(e) => assert_eq!(e, message, "{expr}"),
        Ok(v) => panic!(
            "{expr} should fail with {message:?}, gave {} outputs",
            v.len()
        ),
    }
}

/// An array of `n` numbers, as an item field would hold it.
fn numbers(n: usize) -> Value {
    Value::Array((0..n).map(Value::from).collect())
}

#[test]
fn regex_loops_charge_a_step_per_match() {
    let e = engine(Limits {
        max_steps: 1_000,
        ..Limits::default()
    });
    let text = json!("a".repeat(5_000));
    for expr in [
        "[match(\"a\"; \"g\")] | length",
        "[scan(\"a\")] | length",
        "[splits(\"a\")] | length",
        "gsub(\"a\"; \"b\") | length",
        "[match(\"\"; \"g\")] | length",
    ] {
        fails_with(&e, expr, &text, "step budget exceeded");
    }
}

#[test]
fn regex_loops_read_the_clock_on_every_search() {
    // A deadline already passed: only a native that reads the clock itself can notice it
    // within a few steps.
    let e = engine(Limits {
        timeout: Duration::ZERO,
        ..Limits::default()
    });
    let text = json!("abc abc");
    for expr in [
        "test(\"b\")",
        "[match(\"b\"; \"g\")]",
        "capture(\"(?<x>b)\")",
        "sub(\"b\"; \"x\")",
        "[scan(\"c\")]",
    ] {
        fails_with(&e, expr, &text, "evaluation timed out");
    }
}

#[test]
fn regex_matches_count_against_the_output_size() {
    let e = engine(Limits {
        max_output_bytes: 4_096,
        ..Limits::default()
    });
    let text = json!("a".repeat(10_000));
    // Nothing large is output: the match objects built on the way are what is too large.
    fails_with(
        &e,
        "last(match(\"a\"; \"g\")) | .offset",
        &text,
        "output too large",
    );
    fails_with(
        &e,
        "gsub(\"a\"; \"bb\") | length",
        &text,
        "output too large",
    );
}

#[test]
fn catastrophic_backtracking_fails_the_field_instead_of_running_on() {
    let e = engine(Limits::default());
    let text = json!(format!("{}c", "a".repeat(40)));
    match eval(&e, "test(\"(a*)*\\\\1b\")", &text) {
        Err(msg) => assert!(msg.starts_with("regex failed"), "{msg}"),
        Ok(v) => panic!("should fail, gave {v:?}"),
    }
}

#[test]
fn path_walks_charge_a_step_per_value() {
    let e = engine(Limits {
        max_steps: 100,
        ..Limits::default()
    });
    let input = numbers(1_000);
    for expr in [
        "[paths] | length",
        "[paths(type == \"number\")] | length",
        "[..] | length",
        "last(..)",
        "walk(.) | length",
        "[tostream] | length",
    ] {
        fails_with(&e, expr, &input, "step budget exceeded");
    }
}

#[test]
fn path_walks_read_the_clock() {
    let e = engine(Limits {
        timeout: Duration::ZERO,
        ..Limits::default()
    });
    let input = numbers(1_000);
    for expr in ["[paths] | length", "last(..)"] {
        fails_with(&e, expr, &input, "evaluation timed out");
    }
}

#[test]
fn paths_count_against_the_output_size() {
    let e = engine(Limits {
        max_output_bytes: 2_048,
        ..Limits::default()
    });
    fails_with(&e, "last(paths)", &numbers(1_000), "output too large");
}

/// An engine whose evaluations may run long, under a run budget of `run`.
fn slow_engine(run: Duration) -> Engine {
    engine(Limits {
        max_steps: u64::MAX,
        timeout: Duration::from_secs(60),
        run_time: Some(run),
        ..Limits::default()
    })
}

const SPENT: &str = "the run's jq time budget of 0.2 s is spent; no further jq expressions \
                     are evaluated in this run";

#[test]
fn a_spent_run_budget_stops_the_evaluation_and_every_later_one() {
    let e = slow_engine(Duration::from_millis(200));
    let null = json!(null);
    assert!(!e.run_budget().is_exceeded());
    // An evaluation running when the budget runs out stops there, not at its own timeout.
    fails_with(&e, "last(range(1e15))", &null, SPENT);
    assert!(e.run_budget().is_exceeded());
    // Every later evaluation fails at once, whether it needs jaq or not.
    for expr in ["1 + 1", ".a", "\"literal\""] {
        fails_with(&e, expr, &json!({"a": 1}), SPENT);
    }
    // A caller serving one run after another starts afresh.
    e.run_budget().reset();
    assert_eq!(eval(&e, "1 + 1", &null), Ok(vec![json!(2)]));
}

#[test]
fn evaluations_charge_their_time_to_the_run_budget() {
    let e = slow_engine(Duration::from_secs(3600));
    assert_eq!(e.run_budget().spent(), Duration::ZERO);
    eval(&e, "[range(1000)] | length", &json!(null)).expect("runs");
    assert!(e.run_budget().spent() > Duration::ZERO);
    assert!(e.run_budget().remaining() < Some(Duration::from_secs(3600)));
}

#[test]
fn engines_can_share_one_run_budget() {
    let shared = RunBudget::new(Duration::from_millis(200));
    let a = slow_engine(Duration::from_secs(3600)).with_run_budget(shared.clone());
    let b = slow_engine(Duration::from_secs(3600)).with_run_budget(shared.clone());
    fails_with(&a, "last(range(1e15))", &json!(null), SPENT);
    fails_with(&b, "1 + 1", &json!(null), SPENT);
    assert!(shared.is_exceeded());
}

#[test]
fn the_run_budget_defaults_to_ten_minutes() {
    assert_eq!(DEFAULT_RUN_BUDGET, Duration::from_secs(600));
    assert_eq!(Limits::default().run_time, Some(DEFAULT_RUN_BUDGET));
    let e = Engine::new(EngineOptions::default());
    assert_eq!(e.run_budget().total(), Some(DEFAULT_RUN_BUDGET));
    let unlimited = engine(Limits {
        run_time: None,
        ..Limits::default()
    });
    assert_eq!(unlimited.run_budget().remaining(), None);
}
