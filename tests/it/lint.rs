//! `adoport lint`: the fixture corpus (one mistake each, snapshot of every finding), Port's
//! real mappings, exit codes, and inputs built to break the parser.

use std::path::Path;

use adoport::config::{self, render};
use proptest::prelude::*;

use crate::support::{adoport, assert_exit, root, stderr, stdout, upstream};

const FIXTURES: &str = "tests/fixtures/lint";

/// Lints a path the way the CLI does and returns (findings, rendered text).
fn lint(path: &Path) -> (Vec<config::Diagnostic>, String) {
    let mut loaded = config::load(path).expect("fixture is readable");
    config::lint::lint(&mut loaded);
    let text = render::text(&loaded.diagnostics, &loaded.sources, false);
    (loaded.diagnostics, text)
}

#[test]
fn every_fixture_reports_its_mistake_at_the_right_place() {
    let manifest = std::fs::read_to_string(root().join(FIXTURES).join("EXPECTED")).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (name, code) = (parts[0], parts[1]);
        let (file, at) = match parts.len() {
            3 => (None, parts[2]),
            _ => (Some(parts[2]), parts[3]),
        };
        let dir = Path::new(FIXTURES).join(name);
        let path = if dir.is_dir() {
            dir
        } else {
            Path::new(FIXTURES).join(format!("{name}.yaml"))
        };
        let (diagnostics, text) = lint(&path);
        let Some(first) = diagnostics.iter().find(|d| d.code == code) else {
            wrong.push(format!("{name}: no `{code}` finding in:\n{text}"));
            continue;
        };
        if let Some(file) = file {
            assert!(
                first.file.ends_with(file),
                "{name}: finding is in {}",
                first.file
            );
        }
        let got = first
            .span
            .map_or("-".to_string(), |s| format!("{}:{}", s.line, s.column));
        if got != at {
            wrong.push(format!("{name}: `{code}` at {got}, expected {at}:\n{text}"));
            continue;
        }
        insta::assert_snapshot!(name, text);
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 40, "only {checked} fixtures");
}

#[test]
fn ports_own_default_and_example_mappings_lint_without_errors() {
    for rel in [
        "ocean-ado-defaults/port-app-config.yaml",
        "ocean-ado-examples/example-mappings.yaml",
    ] {
        let path = upstream(rel);
        let out = adoport(&["lint", path.to_str().unwrap()]);
        assert!(out.status.success(), "{rel}:\n{}", stdout(&out));
        let (diagnostics, text) = lint(&path);
        // Port's example sets keys Port ignores; that is worth a warning, nothing more.
        assert!(
            diagnostics.iter().all(|d| matches!(
                d.code,
                "deprecated-key" | "ignored-selector-option" | "file-prefix"
            )),
            "{rel}:\n{text}"
        );
    }
}

#[test]
fn the_shipped_default_mapping_lints_clean_against_its_blueprints() {
    let out = adoport(&["lint", "--deny-warnings", "mappings"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn exit_codes_say_clean_errors_or_unreadable() {
    let ok = adoport(&[
        "lint",
        "tests/fixtures/upstream/ocean-ado-defaults/port-app-config.yaml",
    ]);
    assert_eq!(ok.status.code(), Some(0));
    let bad = adoport(&["lint", "tests/fixtures/lint/unknown-kind.yaml"]);
    assert_eq!(bad.status.code(), Some(1));
    let missing = adoport(&["lint", "tests/fixtures/lint/no-such-file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    let warn = adoport(&["lint", "tests/fixtures/lint/yaml11-boolean.yaml"]);
    assert_eq!(warn.status.code(), Some(0));
    let denied = adoport(&[
        "lint",
        "--deny-warnings",
        "tests/fixtures/lint/yaml11-boolean.yaml",
    ]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn json_output_is_a_stable_array_of_findings() {
    let out = adoport(&[
        "lint",
        "--format",
        "json",
        "tests/fixtures/lint/unknown-kind-typo.yaml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "file", "line", "column", "severity", "code", "message", "hint"
        ]
    );
    assert_eq!(first["code"], "unknown-kind");
    assert_eq!(first["line"], 2);
    assert_eq!(first["hint"], "did you mean `repository`?");
}

#[test]
fn a_ten_megabyte_mapping_is_linted_without_trouble() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let mut text = String::from("resources:\n");
    let resource = "  - kind: repository\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"service\"'\n          properties:\n            url: .remoteUrl\n";
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(resource);
    }
    text.push_str("  - kind: nope\n");
    std::fs::write(&path, text).unwrap();
    let (diagnostics, _) = lint(&path);
    assert!(diagnostics.iter().any(|d| d.code == "unknown-kind"));
}

#[test]
fn deeply_nested_block_documents_are_refused_not_overflowed() {
    let mut text = String::new();
    for depth in 0..2000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("a:\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, text).unwrap();
    let (diagnostics, _) = lint(&path);
    assert_eq!(diagnostics[0].code, "yaml-syntax");
    assert!(diagnostics[0].message.contains("nested"));
}

#[test]
fn a_jq_error_on_a_block_scalars_second_line_points_at_that_line_and_token() {
    for (fixture, at, token) in [
        ("jq-error-in-folded-block.yaml", (13, 33), "lenght"),
        ("jq-error-in-literal-block.yaml", (13, 51), "]"),
    ] {
        let path = Path::new(FIXTURES).join(fixture);
        let (diagnostics, text) = lint(&path);
        let d = diagnostics.iter().find(|d| d.code == "jq-syntax");
        let span = d
            .and_then(|d| d.span)
            .expect("a jq-syntax finding with a place");
        assert_eq!((span.line, span.column), at, "{text}");
        let source = std::fs::read_to_string(root().join(&path)).unwrap();
        assert_eq!(&source[span.start..span.end], token, "{text}");
    }
}

#[test]
fn every_problem_of_a_config_is_reported_in_one_run_in_file_and_line_order() {
    let (diagnostics, text) = lint(&Path::new(FIXTURES).join("several-errors"));
    let found: Vec<(&str, usize, usize, &str)> = diagnostics
        .iter()
        .map(|d| {
            let file = d.file.rsplit('/').next().unwrap_or_default();
            let (line, column) = d.span.map_or((0, 0), |s| (s.line, s.column));
            (file, line, column, d.code)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("10-code.yaml", 1, 26, "yaml11-scalar"),
            ("10-code.yaml", 6, 7, "unknown-selector-option"),
            ("10-code.yaml", 11, 26, "jq-syntax"),
            ("10-code.yaml", 12, 22, "unknown-blueprint"),
            ("10-code.yaml", 14, 23, "jq-syntax"),
            ("20-projects.yaml", 11, 11, "duplicate-key"),
        ],
        "{text}"
    );
    let hint = |code: &str| {
        diagnostics
            .iter()
            .find(|d| d.code == code)
            .and_then(|d| d.help.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        hint("unknown-blueprint"),
        "did you mean `azureDevopsRepository`?"
    );
    assert_eq!(
        hint("unknown-selector-option"),
        "did you mean `includedFiles`?"
    );
    assert!(
        hint("jq-syntax").starts_with("did you mean `length`?"),
        "{text}"
    );
    assert!(hint("duplicate-key").contains("`title`"), "{text}");
}

/// The backquoted suggestions of a hint.
fn suggestions(help: &str) -> Vec<&str> {
    help.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_suggestion_of_a_yaml11_hint_lints_clean_once_applied() {
    let mut tried = 0;
    for fixture in [
        "yaml11-boolean-in-jq.yaml",
        "yaml11-boolean-flag.yaml",
        "yaml11-octal.yaml",
        "yaml11-boolean.yaml",
    ] {
        let path = root().join(FIXTURES).join(fixture);
        let source = std::fs::read_to_string(&path).unwrap();
        let (diagnostics, text) = lint(&path);
        assert_eq!(
            diagnostics.len(),
            1,
            "{fixture}: one problem, one finding:\n{text}"
        );
        let d = &diagnostics[0];
        let span = d.span.unwrap();
        let help = d.help.as_deref().unwrap_or_default();
        assert!(!suggestions(help).is_empty(), "{fixture}: {help}");
        for fix in suggestions(help) {
            let dir = tempfile::tempdir().unwrap();
            let fixed = dir.path().join("fixed.yaml");
            let text = format!("{}{fix}{}", &source[..span.start], &source[span.end..]);
            std::fs::write(&fixed, &text).unwrap();
            let (after, out) = lint(&fixed);
            assert!(after.is_empty(), "{fixture} with `{fix}`:\n{text}\n{out}");
            tried += 1;
        }
    }
    assert!(tried >= 6);
}

#[test]
fn an_unreadable_config_is_reported_as_an_error_and_never_as_no_problems() {
    let missing = "tests/fixtures/lint/no-such-file.yaml";
    let text = adoport(&["lint", missing]);
    assert_exit(&text, 2);
    assert!(
        stdout(&text).starts_with(&format!("error[unreadable]: no config at {missing}")),
        "{}",
        stdout(&text)
    );
    assert!(!stdout(&text).contains("no problems found"));
    assert!(stdout(&text).ends_with("1 error and 0 warnings\n"));

    let json = adoport(&["lint", "--format", "json", missing]);
    assert_exit(&json, 2);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["code"], "unreadable");
    assert_eq!(v[0]["severity"], "error");
    assert_eq!(v[0]["file"], missing);
    assert_eq!(v[0]["line"], serde_json::Value::Null);

    // Beside a readable config, both are reported; the exit code says one was unreadable.
    let both = adoport(&["lint", missing, "tests/fixtures/lint/unknown-kind.yaml"]);
    assert_exit(&both, 2);
    assert!(
        stdout(&both).contains("error[unknown-kind]"),
        "{}",
        stdout(&both)
    );
    assert!(
        stdout(&both).contains("error[unreadable]"),
        "{}",
        stdout(&both)
    );
    assert!(stderr(&both).is_empty(), "{}", stderr(&both));
}

#[test]
fn an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.yaml");
    let mut text = format!("resources: []\nbig: &big {}\nbomb:\n", "x".repeat(1 << 20));
    for _ in 0..20_000 {
        text.push_str("  - *big\n");
    }
    std::fs::write(&path, text).unwrap();
    let (diagnostics, _) = lint(&path);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].code, "yaml-syntax");
    assert!(diagnostics[0].message.contains("aliases expand"));
    // Sixteen copies of 1 MiB fit the 16 MiB limit; the seventeenth alias is on line 20.
    let at = diagnostics[0].span.map(|s| (s.line, s.column));
    assert_eq!(at, Some((20, 5)));
}

#[test]
fn a_file_that_fails_to_parse_is_quoted_only_around_the_offending_place() {
    let secret: String = (0..2000).map(|i| format!("TOKEN{i}=s3cr3t{i};")).collect();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 2] = [
        (
            "syntax.yaml",
            format!("a: {secret}: {secret}\n").into_bytes(),
        ),
        (
            "binary.yaml",
            [
                format!("a: {secret}").as_bytes(),
                b"\xff",
                secret.as_bytes(),
            ]
            .concat(),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for format in ["text", "json"] {
            let out = adoport(&["lint", "--format", format, path.to_str().unwrap()]);
            assert_exit(&out, 1);
            let shown = format!("{}{}", stdout(&out), stderr(&out));
            assert!(
                shown.len() < 2_000,
                "{name} as {format}: {} bytes",
                shown.len()
            );
            // A bounded window of the offending line, never the file.
            let tokens = shown.matches("TOKEN").count();
            assert!(tokens < 12, "{name} as {format}: {tokens} tokens:\n{shown}");
        }
    }
}

#[test]
fn every_rule_is_explained() {
    let out = adoport(&["lint", "--explain", "all"]);
    let text = stdout(&out);
    for rule in config::rules::ALL {
        assert!(text.contains(rule.code), "{}", rule.code);
    }
}

/// Valid configs the mutations start from.
fn seeds() -> Vec<String> {
    vec![
        std::fs::read_to_string(upstream("ocean-ado-defaults/port-app-config.yaml")).unwrap(),
        std::fs::read_to_string(upstream("ocean-ado-examples/example-mappings.yaml")).unwrap(),
    ]
}

/// One edit: replace, insert or delete a byte range with text full of YAML's special characters.
fn mutation() -> impl Strategy<Value = (usize, usize, String)> {
    (
        any::<usize>(),
        0usize..40,
        proptest::string::string_regex("[-:{}\\[\\]'\"#&*!|>%@`\t\n ?,a-z0-9\\\\]{0,12}").unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn no_mutation_of_a_valid_config_makes_lint_panic(
        seed in 0usize..2,
        edits in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut text = seeds()[seed].clone().into_bytes();
        for (at, len, insert) in edits {
            let at = at % (text.len() + 1);
            let end = (at + len).min(text.len());
            text.splice(at..end, insert.into_bytes());
        }
        let files = config::ConfigFiles {
            mappings: vec![("mutated.yaml".into(), text)],
            ..Default::default()
        };
        let mut loaded = config::build_config(files);
        config::lint::lint(&mut loaded);
        let _ = render::text(&loaded.diagnostics, &loaded.sources, false);
        let _ = render::json(&loaded.diagnostics);
    }
}

#[test]
fn a_selector_option_port_ignores_is_warned_about_once_with_the_reason() {
    // Port's example mapping sets `includeRelease` on release deployments; the schema also
    // marks it deprecated, and only the registry's rule speaks of it.
    let (diagnostics, text) = lint(&upstream("ocean-ado-examples/example-mappings.yaml"));
    let about: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.message.contains("includeRelease"))
        .collect();
    assert_eq!(about.len(), 1, "{text}");
    assert_eq!(about[0].code, "ignored-selector-option");
    assert!(
        about[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("release's id and name")),
        "{text}"
    );
    let (diagnostics, text) = lint(&root().join(FIXTURES).join("ignored-selector-option.yaml"));
    assert_eq!(diagnostics.len(), 1, "{text}");
}
