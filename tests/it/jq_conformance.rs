//! jq 1.8.1's own test suite (`tests/fixtures/upstream/jq-1.8.1/*.test`) run through the engine.
//!
//! The format is jq's `jq_test.c`: a program line, an input line, expected output lines up
//! to a blank line; `%%FAIL` / `%%FAIL IGNORE MSG` blocks hold a program that must not
//! compile followed by jq's message. Outputs are compared as JSON values the way `jv_equal`
//! does (1 == 1.0, key order ignored); an error after all expected outputs is tolerated, as
//! `jq_test.c` does. jaq reports compile errors in its own words, so `%%FAIL` cases pass when
//! compilation fails, whatever the message.
//!
//! `tests/fixtures/jq/known-failures.txt` lists each failing case (`file:line`, reason,
//! program); the test fails on any unlisted failure and on any listed case that passes.
//! `tests/fixtures/jq/set-aside.txt` lists cases that cannot arise in a mapping; they are
//! left out of the denominator. Every failure is printed (`-- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use adoport::jq::{Engine, EngineOptions, Input};
use serde_json::Value;

/// One case of a `.test` file.
#[derive(Debug)]
struct Case {
    id: String,
    program: String,
    fail: bool,
    input: String,
    expected: Vec<String>,
}

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/jq-1.8.1")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jq")
        .join(name)
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    let skip = |l: &str| l.trim().is_empty() || l.starts_with('#');
    while i < lines.len() {
        if skip(lines[i]) {
            i += 1;
            continue;
        }
        let mut fail = false;
        if lines[i].starts_with("%%FAIL") {
            fail = true;
            i += 1;
        }
        let Some(program) = lines.get(i) else { break };
        let id = format!("{file}:{}", i + 1);
        i += 1;
        if fail {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            cases.push(Case {
                id,
                program: (*program).to_owned(),
                fail,
                input: String::new(),
                expected: vec![],
            });
            continue;
        }
        let input = lines.get(i).copied().unwrap_or("null").to_owned();
        i += 1;
        let mut expected = Vec::new();
        // As in `jq_test.c`, a blank or comment line ends the expected outputs.
        while i < lines.len() && !skip(lines[i]) {
            expected.push(lines[i].to_owned());
            i += 1;
        }
        cases.push(Case {
            id,
            program: (*program).to_owned(),
            fail,
            input,
            expected,
        });
    }
    cases
}

/// Parses a JSON line; numbers beyond f64 (`1E1000`) go through the engine as jq literals.
fn json(engine: &Engine, text: &str) -> Option<Value> {
    let text = text.trim_start_matches('\u{feff}');
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let null = Value::Null;
    engine.compile(text).ok()?.first(&Input::new(&null)).ok()?
}

/// `jv_equal`: numbers by value, objects regardless of key order.
fn jv_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| jv_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| jv_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case; `Err` says why it failed.
fn run_case(engine: &Engine, case: &Case) -> Result<(), String> {
    let compiled = engine.compile(&case.program);
    if case.fail {
        return match compiled {
            Err(_) => Ok(()),
            Ok(_) => Err("compiled, but jq rejects it".into()),
        };
    }
    let program = compiled.map_err(|e| format!("compile error: {}", e.message))?;
    let input = json(engine, &case.input).ok_or("unreadable input")?;
    let expected: Vec<Value> = case
        .expected
        .iter()
        .map(|l| json(engine, l).ok_or_else(|| format!("unreadable expected {l}")))
        .collect::<Result<_, _>>()?;
    let outputs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        collect_outputs(&program, &Input::new(&input), expected.len())
    }))
    .map_err(|_| "panicked".to_owned())?;
    let (got, err) = outputs;
    for (k, want) in expected.iter().enumerate() {
        match got.get(k) {
            Some(v) if jv_equal(v, want) => {}
            Some(v) => return Err(format!("output {k}: expected {want}, got {v}")),
            None => {
                return Err(match &err {
                    Some(e) => format!("error instead of output {k} ({want}): {e}"),
                    None => format!("missing output {k}: expected {want}"),
                });
            }
        }
    }
    if got.len() > expected.len() {
        return Err(format!("superfluous output {}", got[expected.len()]));
    }
    Ok(())
}

/// Outputs up to `want + 1`, and the error that ended the stream, if any.
fn collect_outputs(
    program: &adoport::jq::Program,
    input: &Input,
    want: usize,
) -> (Vec<Value>, Option<String>) {
    let mut got = Vec::new();
    let result = program.each(input, |v| {
        got.push(v);
        got.len() <= want
    });
    (got, result.err().map(|e| e.message))
}

/// Reads `id<TAB>reason<TAB>program` lines.
fn read_list(name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            Some((
                parts.next()?.to_owned(),
                parts.next().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

// The pass rate is reported on stdout.
#[allow(clippy::print_stdout)]
#[test]
fn jq_suite_passes_except_for_listed_cases() {
    // jq's suite runs with PAGER=less in the environment (man.test reads it).
    let engine = Engine::new(EngineOptions {
        env_allow_list: vec!["PAGER".to_owned()],
        env: [("PAGER".to_owned(), "less".to_owned())].into(),
        // The suite's date loops take seconds in debug builds.
        limits: adoport::jq::Limits {
            timeout: std::time::Duration::from_secs(60),
            ..adoport::jq::Limits::default()
        },
    });
    let known = read_list("known-failures.txt");
    let set_aside = read_list("set-aside.txt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .expect("tests/fixtures/upstream/jq-1.8.1")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let (mut passed, mut applicable, mut aside) = (0, 0, 0);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    let mut seen = BTreeSet::new();
    for path in &files {
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(path).expect("readable test file");
        for case in parse_cases(&file, &text) {
            seen.insert(case.id.clone());
            if set_aside.contains_key(&case.id) {
                aside += 1;
                continue;
            }
            applicable += 1;
            let result = run_case(&engine, &case);
            match (&result, known.contains_key(&case.id)) {
                (Ok(()), false) => passed += 1,
                (Ok(()), true) => {
                    passed += 1;
                    now_passing.push(format!("{}\t{}", case.id, case.program));
                }
                (Err(why), listed) => {
                    println!("FAIL\t{}\t{}\t{}", case.id, why, case.program);
                    if !listed {
                        unexpected.push(format!("{}\t{why}\t{}", case.id, case.program));
                    }
                }
            }
        }
    }
    let stale: Vec<_> = known
        .keys()
        .chain(set_aside.keys())
        .filter(|id| !seen.contains(*id))
        .collect();
    let rate = 100.0 * passed as f64 / applicable.max(1) as f64;
    println!("jq 1.8.1 suite: {passed} / {applicable} passed ({rate:.1} %), {aside} set aside");
    assert!(
        stale.is_empty(),
        "listed cases that do not exist: {stale:?}"
    );
    assert!(
        unexpected.is_empty(),
        "unlisted failures:\n{}",
        unexpected.join("\n")
    );
    assert!(
        now_passing.is_empty(),
        "listed as failing but pass now:\n{}",
        now_passing.join("\n")
    );
    assert!(
        rate >= 93.0,
        "pass rate {rate:.1} % is below the 93 % floor"
    );
}

#[test]
fn parser_reads_programs_inputs_outputs_and_fail_blocks() {
    let text = "# comment\n.a\n{\"a\":1}\n1\n\n%%FAIL\n{(0):1}\njq: error: x\n\n%%FAIL IGNORE MSG\n.[\nmsg\n\n.[]\n[1,2]\n1\n2\n";
    let cases = parse_cases("t.test", text);
    assert_eq!(cases.len(), 4);
    assert_eq!(
        (
            cases[0].id.as_str(),
            cases[0].program.as_str(),
            cases[0].expected.len()
        ),
        ("t.test:2", ".a", 1)
    );
    assert!(cases[1].fail && cases[2].fail);
    assert_eq!(cases[3].expected, vec!["1", "2"]);
}
