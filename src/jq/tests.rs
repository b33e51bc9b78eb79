use super::*;
use serde_json::{Value, json};

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

pub(crate) fn all(expr: &str, input: Value) -> Result<Vec<Value>, EvalError> {
    let e = engine();
    let p = e.compile(expr).map_err(|c| EvalError::new(c.message))?;
    p.all(&Input::new(&input))
}

pub(crate) fn one(expr: &str, input: Value) -> Value {
    match all(expr, input) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("{expr}: {other:?}"),
    }
}

pub(crate) fn fails(expr: &str, input: Value) -> String {
    match all(expr, input) {
        Err(e) => e.message,
        Ok(v) => panic!("{expr} should fail, gave {v:?}"),
    }
}

#[test]
fn runs_a_program_end_to_end() {
    assert_eq!(one("[.a[] | . * 2]", json!({"a": [1, 2]})), json!([2, 4]));
}

#[test]
fn first_returns_the_first_output_or_none() {
    let e = engine();
    let v = json!({"tags": ["a", "b"]});
    assert_eq!(
        e.compile(".tags[]")
            .unwrap()
            .first(&Input::new(&v))
            .unwrap(),
        Some(json!("a"))
    );
    assert_eq!(
        e.compile("empty").unwrap().first(&Input::new(&v)).unwrap(),
        None
    );
}

#[test]
fn caches_compiled_programs_by_source_text() {
    let e = engine();
    let a = e.compile(".a | length").unwrap();
    let b = e.compile(".a | length").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn fast_path_and_jaq_agree_on_paths() {
    let v = json!({"fields": {"System.Title": "T", "n": 1}});
    assert_eq!(one(".fields[\"System.Title\"]", v.clone()), json!("T"));
    assert_eq!(one(".fields[\"System.Title\"] | .", v.clone()), json!("T"));
    assert_eq!(one(".missing.deeper", v.clone()), json!(null));
    assert!(fails(".fields.n.x", v).contains("Cannot index number with string (\"x\")"));
}

#[test]
fn rewrites_single_quotes_before_compiling() {
    assert_eq!(one(".a + '-suffix'", json!({"a": "x"})), json!("x-suffix"));
}

#[test]
fn env_is_empty_unless_allow_listed() {
    let mut env = BTreeMap::new();
    env.insert("ADO_PAT".to_owned(), "secret".to_owned());
    env.insert("TEAM".to_owned(), "core".to_owned());
    let closed = Engine::new(EngineOptions {
        env: env.clone(),
        ..EngineOptions::default()
    });
    let null = json!(null);
    for expr in ["$ENV", "env"] {
        let out = closed
            .compile(expr)
            .unwrap()
            .first(&Input::new(&null))
            .unwrap();
        assert_eq!(out, Some(json!({})));
    }
    let open = Engine::new(EngineOptions {
        env,
        env_allow_list: vec!["TEAM".to_owned()],
        ..EngineOptions::default()
    });
    let out = open
        .compile("$ENV")
        .unwrap()
        .first(&Input::new(&null))
        .unwrap();
    assert_eq!(out, Some(json!({"TEAM": "core"})));
    let out = open
        .compile("env.ADO_PAT")
        .unwrap()
        .first(&Input::new(&null))
        .unwrap();
    assert_eq!(out, Some(json!(null)));
}

#[test]
fn reports_compile_errors_with_an_offset_in_the_original_expression() {
    let err = engine().compile(".a | foo(1)").unwrap_err();
    assert!(err.message.contains("foo"), "{err:?}");
    assert_eq!(err.offset, Some(5));
    let err = engine().compile("'x' | (").unwrap_err();
    assert!(err.message.contains("syntax error"), "{err:?}");
}

#[test]
fn reports_jq_error_messages() {
    assert_eq!(fails("error(\"boom\")", json!(null)), "boom");
    assert_eq!(
        fails("error({a: 1})", json!(null)),
        "{\"a\":1} (not a string)"
    );
}

#[test]
fn rejects_constant_non_string_keys_at_compile_time() {
    let err = engine().compile("{a: 1, (0): 1}").unwrap_err();
    assert_eq!(err.message, "Cannot use number (0) as object key");
    assert_eq!(err.offset, Some(8));
    assert!(engine().compile(". as {(true): $x} | $x").is_err());
    assert!(engine().compile("{(.a): 1, (\"b\"): 2}").is_ok());
}

#[test]
fn rejects_non_string_object_keys_in_outputs() {
    assert!(fails("{(.a): 2}", json!({"a": 1})).contains("Object keys must be strings"));
}

/// Runs `expr` with small limits and returns its error message.
fn bounded_failure(expr: &str, input: Value) -> String {
    let engine = Engine::new(EngineOptions {
        limits: Limits {
            max_steps: 100_000,
            max_output_bytes: 1 << 20,
            timeout: Duration::from_secs(5),
            ..Limits::default()
        },
        ..EngineOptions::default()
    });
    let program = engine.compile(expr).expect("compiles");
    match program.all(&Input::new(&input)) {
        Err(e) => e.message,
        Ok(v) => panic!("{expr} should fail, gave {} outputs", v.len()),
    }
}

#[test]
fn unbounded_range_fails_on_the_step_budget() {
    assert_eq!(
        bounded_failure("[range(1e12)]", json!(null)),
        "step budget exceeded"
    );
}

#[test]
fn repeat_fails_on_the_step_budget() {
    assert_eq!(
        bounded_failure("[repeat(.)]", json!(1)),
        "step budget exceeded"
    );
    assert_eq!(
        bounded_failure("[limit(1e9; repeat(1))]", json!(null)),
        "step budget exceeded"
    );
}

#[test]
fn huge_string_repetition_fails_before_allocating() {
    assert_eq!(
        bounded_failure("\"x\" * 1e9", json!(null)),
        "output too large"
    );
    assert_eq!(
        bounded_failure("\"x\" * 1e12", json!(null)),
        "Repeat string result too long"
    );
}

#[test]
fn doubling_strings_fails_on_the_size_limit() {
    assert_eq!(
        bounded_failure("reduce range(64) as $i (\"x\"; . + .)", json!(null)),
        "output too large"
    );
}

#[test]
fn infinite_recursion_fails_instead_of_hanging_or_overflowing() {
    let tail = bounded_failure("def f: f; f", json!(null));
    assert!(
        tail == "step budget exceeded" || tail == "recursion too deep",
        "{tail}"
    );
    let deep = bounded_failure("def f: 1 + f; f", json!(null));
    assert!(
        deep == "recursion too deep" || deep == "step budget exceeded",
        "{deep}"
    );
}

#[test]
fn unbounded_generators_fail_on_the_step_budget() {
    for expr in [
        "[recurse(.)]",
        "[while(true; .)]",
        "until(false; .)",
        "last(range(1e12))",
    ] {
        let err = bounded_failure(expr, json!(1));
        assert!(
            err == "step budget exceeded" || err == "recursion too deep",
            "{expr}: {err}"
        );
    }
}

#[test]
fn a_tripped_budget_cannot_be_caught() {
    assert_eq!(
        bounded_failure("try ([range(1e12)] | length) catch \"caught\"", json!(null)),
        "step budget exceeded"
    );
}

#[test]
fn values_of_exponential_logical_size_fail_on_the_size_limit() {
    for expr in [
        "reduce range(40) as $i ([1]; [., .]) | length",
        "reduce range(40) as $i ({}; {a: ., b: .}) | tojson | length",
        "reduce range(40) as $i (\"x\"; \"\\(.)\\(.)\") | length",
        "reduce range(40) as $i ([[1]]; . + .) | length",
    ] {
        assert_eq!(
            bounded_failure(expr, json!(null)),
            "output too large",
            "{expr}"
        );
    }
}

#[test]
fn deeply_nested_input_fails_with_a_clear_message() {
    let mut v = json!(1);
    for _ in 0..1_000 {
        v = Value::Array(vec![v]);
    }
    let err = bounded_failure("length", v);
    assert_eq!(err, "input too deeply nested (limit 512)");
}

#[test]
fn deeply_nested_output_fails_with_a_clear_message() {
    let err = bounded_failure("reduce range(5000) as $i (null; [.])", json!(null));
    assert_eq!(err, "value too deeply nested (limit 512)");
}

#[test]
fn outputs_over_the_size_limit_fail() {
    let err = bounded_failure(
        "\"x\" * 100000 | [., ., ., ., ., ., ., ., ., ., ., .]",
        json!(null),
    );
    assert_eq!(err, "output too large");
}

#[test]
fn the_budget_resets_for_each_evaluation() {
    let engine = Engine::new(EngineOptions {
        limits: Limits {
            max_steps: 1_000,
            ..Limits::default()
        },
        ..EngineOptions::default()
    });
    let p = engine.compile("[range(600)] | length").unwrap();
    let null = json!(null);
    for _ in 0..5 {
        assert_eq!(p.first(&Input::new(&null)).unwrap(), Some(json!(600)));
    }
}

#[test]
fn interpolations_iterate_the_last_one_outermost_as_jq_does() {
    assert_eq!(
        all("\"\\(1,2)-\\(3,4)\"", json!(null)).unwrap(),
        vec![json!("1-3"), json!("2-3"), json!("1-4"), json!("2-4")]
    );
}

#[test]
fn big_integers_print_through_doubles_as_jq_does() {
    assert_eq!(
        one("9007199254740993", json!(null)),
        json!(9007199254740992u64)
    );
    assert_eq!(
        one("9007199254740993 | tostring", json!(null)),
        json!("9007199254740993")
    );
}

#[test]
fn engine_and_programs_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Engine>();
    shared::<Program>();
    let engine = Arc::new(engine());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let v = json!({"n": i});
                let p = engine.compile(".n * 2 | tostring").unwrap();
                p.first(&Input::new(&v)).unwrap()
            })
        })
        .collect();
    let outs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outs[3], Some(json!("6")));
}

#[test]
fn split_and_join_follow_jq() {
    assert_eq!(
        one("split(\",\")", json!("a,,b,")),
        json!(["a", "", "b", ""])
    );
    assert_eq!(one("split(\",\")", json!("")), json!([]));
    assert_eq!(
        one("join(\"-\")", json!([null, "open", 42, true])),
        json!("-open-42-true")
    );
    assert_eq!(
        fails("join(\",\")", json!([[1]])),
        "string (\"\") and array ([1]) cannot be added"
    );
}

#[test]
fn errors_use_jq_wording_at_the_top_and_in_catch() {
    assert_eq!(
        fails(".[0]", json!("x")),
        "Cannot index string with number (0)"
    );
    assert_eq!(
        one("try (123 | .[]) catch .", json!(null)),
        json!("Cannot iterate over number (123)")
    );
    assert_eq!(
        one("try (true | length) catch .", json!(null)),
        json!("boolean (true) has no length")
    );
    assert_eq!(one("try error({a: 1}) catch .a", json!(null)), json!(1));
}

#[test]
fn debug_and_stderr_pass_values_through_without_writing_to_stderr() {
    assert_eq!(
        all("debug, stderr, debug(\"m\")", json!(1)).unwrap(),
        vec![json!(1); 3]
    );
    assert!(fails("halt_error", json!("x")).contains("not supported"));
}

#[test]
fn extreme_numbers_do_not_panic() {
    for expr in [
        "-(-9223372036854775807 - 1)",
        "(-9223372036854775807 - 1) / -1",
        "[1e300, 0, 1, 0, 0, 0] | mktime",
        "1e300 | todate",
        "-1e300 | strftime(\"%Y\")",
        "[limit(3; range(1e300; infinite; 1e300))]",
        "\"x\" * nan",
        "1 % -0.5",
    ] {
        if let Err(e) = all(expr, json!(null)) {
            assert!(
                !e.message.contains("internal error"),
                "{expr}: {}",
                e.message
            );
        }
    }
}

#[test]
fn the_prelude_parses_completely() {
    let parsed = jaq_core::load::parse(PRELUDE, |p| p.defs()).unwrap_or_default();
    let defined = PRELUDE.lines().filter(|l| l.starts_with("def ")).count();
    assert_eq!(parsed.len(), defined);
}

#[test]
fn numbers_may_start_with_a_dot() {
    assert_eq!(one("[.5, 1 + .25]", json!(null)), json!([0.5, 1.25]));
    assert_eq!(one(".a", json!({"a": 1})), json!(1));
}

#[test]
fn debug_output_never_shows_environment_values() {
    let options = EngineOptions {
        env: [("TEAM_NAME".to_owned(), "s3cr3t-value".to_owned())].into(),
        env_allow_list: vec!["TEAM_NAME".to_owned()],
        ..EngineOptions::default()
    };
    let engine = Engine::new(options.clone());
    for text in [format!("{options:?}"), format!("{engine:?}")] {
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("TEAM_NAME"), "{text}");
    }
}

#[test]
fn env_never_exposes_the_tools_own_secrets_even_when_allow_listed() {
    let mut env = BTreeMap::new();
    let mut allow = vec!["TEAM".to_owned()];
    env.insert("TEAM".to_owned(), "core".to_owned());
    for name in SECRET_ENV_NAMES
        .iter()
        .chain(&["GITHUB_TOKEN", "DB_PASSWORD", "ADO_PAT"])
    {
        env.insert((*name).to_owned(), "s3cr3t".to_owned());
        allow.push((*name).to_owned());
    }
    let engine = Engine::new(EngineOptions {
        env,
        env_allow_list: allow,
        ..EngineOptions::default()
    });
    let null = json!(null);
    for expr in ["$ENV", "env"] {
        let out = engine.compile(expr).unwrap().first(&Input::new(&null));
        assert_eq!(out, Ok(Some(json!({"TEAM": "core"}))), "{expr}");
    }
    let out = engine
        .compile("$ENV.AZURE_DEVOPS_PAT // env.PORT_CLIENT_SECRET")
        .unwrap()
        .first(&Input::new(&null));
    assert_eq!(out, Ok(Some(json!(null))));
}

#[test]
fn entry_builtins_reach_no_jq_definition_but_their_native_binding() {
    let library = deps::library(PRELUDE, natives::REMOVED);
    // jaq's own definitions of the same names are reached too (by name), but none of them
    // calls another definition.
    for name in ["to_entries", "from_entries", "keys_unsorted"] {
        let defs = deps::reachable(name, library).unwrap_or_default();
        let names: Vec<&str> = defs.iter().map(|d| d.name).collect();
        assert!(names.iter().all(|n| *n == name), "{name}: {names:?}");
    }
}

#[test]
fn the_whole_library_compiles() {
    let library = deps::library(PRELUDE, natives::REMOVED).to_vec();
    let result = compile_with(".", library);
    assert!(result.is_ok(), "{:?}", result.err());
}

#[test]
fn jaq_natives_with_side_effects_are_gone() {
    for expr in ["stderr_empty", "halt(1)"] {
        assert!(engine().compile(expr).is_err(), "{expr}");
    }
}

#[test]
fn slicing_null_gives_null_but_slices_stay_assignable() {
    assert_eq!(one(".d[0:3] // \"none\"", json!({})), json!("none"));
    assert_eq!(one(".d[1:3]", json!({"d": "abcd"})), json!("bc"));
    assert_eq!(
        one(".a[.i:]", json!({"a": [1, 2, 3], "i": 1})),
        json!([2, 3])
    );
    assert_eq!(one(".a[1:][0]", json!({"a": [1, 2, 3]})), json!(2));
    assert_eq!(
        one(".a[1:2] = [\"x\"]", json!({"a": [1, 2, 3]})),
        json!({"a": [1, "x", 3]})
    );
    assert_eq!(
        one("[path(.a[1:2])]", json!({"a": [0]})),
        json!([["a", {"start": 1, "end": 2}]])
    );
    assert_eq!(one("del(.[1:])", json!([1, 2])), json!([1]));
}

#[test]
fn native_select_and_empty_behave_as_jqs_definitions() {
    let cases = [
        ("[.[] | select(. > 1)]", json!([1, 2, 3]), json!([[2, 3]])),
        // Once per truthy output of the condition, as `if f then . else empty end`.
        ("[select(true, false, 1)]", json!("x"), json!([["x", "x"]])),
        ("[.[] | select(empty)]", json!([1, 2]), json!([[]])),
        ("[empty, 1, empty]", json!(null), json!([[1]])),
        // As path expressions: `path`, `del`, and `|=` (jq 1.8's path-based update).
        (
            "[path(.[] | select(. > 1))]",
            json!([1, 2, 3]),
            json!([[[1], [2]]]),
        ),
        (
            "del(.[] | select(. == 2))",
            json!([1, 2, 3]),
            json!([[1, 3]]),
        ),
        (
            "(.[] | select(. >= 2)) |= . * 10",
            json!([1, 2, 3]),
            json!([[1, 20, 30]]),
        ),
        ("[path(empty)]", json!({"a": 1}), json!([[]])),
        ("(.a | empty) |= 5", json!({"a": 1}), json!([{"a": 1}])),
        (
            "[.[] | select(.a) | .b]",
            json!([{"a": true, "b": 1}, {"a": null, "b": 2}]),
            json!([[1]]),
        ),
    ];
    for (expr, input, want) in cases {
        let got = all(expr, input).map(Value::Array);
        assert_eq!(got, Ok(want), "{expr}");
    }
    // Errors in the condition surface, and stop the stream where jq stops it.
    let err = all("[.[] | select(error(\"no\"))]", json!([1])).unwrap_err();
    assert!(err.message.contains("no"), "{}", err.message);
}

#[test]
fn native_constants_and_not_behave_as_jaqs_definitions() {
    let input = json!([1, null, 2]);
    assert_eq!(
        one(
            "[null, true, false, (1|not), (null|not), (false|not)]",
            input.clone()
        ),
        json!([null, true, false, false, true, true])
    );
    assert_eq!(
        one("[.[] | select(. != null)]", input.clone()),
        json!([1, 2])
    );
    // Not path expressions, with the error jaq's definitions gave.
    for expr in ["path(null)", "path(true)", "path(not)", "null |= 3"] {
        let err = all(expr, input.clone()).unwrap_err();
        assert_eq!(
            err.message, "Invalid path expression with result [1,null,2]",
            "{expr}"
        );
    }
}

#[test]
fn programs_on_an_input_cut_to_the_keys_they_read_give_what_they_give_on_it_whole() {
    let item = json!({
        "id": 7,
        "fields": {"System.Title": "T", "WEF_1_Kanban.Column": "Doing", "n": null, "e": ""},
        "_links": {"html": {"href": "https://x/7"}},
        "url": "https://dev.azure.com/o/p/_apis/work/boards/b",
        "tags": ["a", "b"],
        "big": {"deep": [1, 2, 3]},
    });
    let e = engine();
    let mut cut = 0;
    for expr in [
        ".id | tostring",
        ".fields as $f | [$f | keys_unsorted[] | select(endswith(\"_Kanban.Column\")) as $k | $f[$k]]",
        "[.fields | to_entries[] | select(.value != null and .value != \"\") | .key]",
        "(.url | capture(\"/(?<b>[^/]+)$\").b)? // null",
        "{title: .fields.\"System.Title\", id}",
        "if has(\"tags\") then .tags | join(\",\") else null end",
        "select(.id > 1) | .fields.n // \"none\"",
        ".fields.\"System.Title\" | tonumber",
        ".tags.x",
        ".missing.deeper",
        "\"\\(.id)-\\(._links.html.href)\"",
        "reduce .tags[] as $t (\"\"; . + $t)",
        "[.fields[]] | length",
        "keys",
    ] {
        let program = e.compile(expr).unwrap();
        let whole = program.all(&Input::new(&item));
        if let Some(keys) = program.input_keys() {
            cut += 1;
            assert!(!keys.iter().any(|k| k == "big"), "{expr}: {keys:?}");
            assert_eq!(program.all(&Input::reading(&item, keys)), whole, "{expr}");
        }
    }
    assert_eq!(cut, 13, "every program but `keys` reads named keys alone");
}
