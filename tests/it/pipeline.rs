//! One pipeline for every entry point, and the front door a new user meets: regression
//! tests for what trying the tool from a fresh clone found (the lint gate at every entry,
//! item failures reported, a plan that writes nothing, logs a machine or a person can read).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{adoport, assert_exit, root, stderr, stdout};

const FIXTURES: &str = "tests/fixtures/reconcile";

/// A scratch folder with the fixture config (edited per test), and a catalog path in it.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        let s = Scratch { dir };
        s.mapping(|m| m);
        s
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn catalog(&self) -> PathBuf {
        self.dir.path().join("state/catalog.sqlite")
    }

    /// Writes the fixture mapping, edited by `edit`.
    fn mapping(&self, edit: impl FnOnce(String) -> String) {
        let text =
            std::fs::read_to_string(root().join(FIXTURES).join("config/port-app-config.yaml"))
                .expect("fixture mapping");
        std::fs::write(self.config().join("port-app-config.yaml"), edit(text)).expect("write");
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let config = self.config().display().to_string();
        let source = format!(
            "snapshot:{}",
            root().join(FIXTURES).join("snapshot").display()
        );
        let target = format!("sqlite:{}", self.catalog().display());
        let mut args = vec![
            command, "--config", &config, "--source", &source, "--target", &target,
        ];
        args.extend_from_slice(extra);
        adoport(&args)
    }
}

#[test]
fn the_readmes_cargo_run_needs_no_binary_name() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("default-run = \"adoport\""),
        "`cargo run --release -- apply …` needs default-run with two binaries"
    );
}

#[test]
fn no_test_bench_or_build_step_reads_outside_the_repository() {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                for (i, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if code.starts_with("//") || code.starts_with('#') {
                        continue;
                    }
                    // Spelled in two parts, so this test does not find itself.
                    if line.contains(concat!("..", "/shared"))
                        || line.contains(concat!("/work", "/shared"))
                    {
                        found.push(format!("{}:{}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    for dir in ["src", "tests/it", "benches", ".ci", "schemas"] {
        walk(&root().join(dir), &mut found);
    }
    assert!(found.is_empty(), "reads outside the repository: {found:#?}");
}

#[test]
fn plan_and_apply_refuse_a_config_with_a_jq_syntax_error_and_write_nothing() {
    let s = Scratch::new();
    s.mapping(|m| {
        m.replace("state: .state", "state: .state | (((")
            .replace("url: .webUrl", "url: .webUrl |")
    });
    for command in ["plan", "apply"] {
        let out = s.run(command, &[]);
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(err.contains("error[jq-syntax]"), "{command}: {err}");
        assert!(
            err.contains("port-app-config.yaml:16:32"),
            "{command}: {err}"
        );
        assert_eq!(
            err.matches("error[jq-syntax]").count(),
            2,
            "{command}: every error: {err}"
        );
        assert!(
            err.contains("nothing was planned or written"),
            "{command}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{command}: {}", stdout(&out));
    }
    assert!(!s.catalog().exists(), "a refused config wrote the catalog");
}

#[test]
fn a_selector_that_errors_on_every_item_makes_its_kind_incomplete_and_strict_fails() {
    let s = Scratch::new();
    let out = s.run("apply", &[]);
    assert_exit(&out, 0);
    // The repository selector now fails on every item: nothing of it may be deleted.
    s.mapping(|m| {
        m.replace(
            "query: .isDisabled | not",
            "query: .isDisabled | test(\"x\")",
        )
    });
    let out = s.run("plan", &[]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(
            "resource 1 (repository): 4 of 4 items failed the mapping; the kind is incomplete"
        ),
        "{err}"
    );
    assert!(err.contains("selector.query"), "{err}");
    assert!(
        stdout(&out).contains("3 deletes blocked"),
        "{}",
        stdout(&out)
    );
    let strict = s.run("plan", &["--strict"]);
    assert_exit(&strict, 1);
    assert!(
        stderr(&strict).contains("--strict: 4 items failed the mapping"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn plan_never_creates_the_sqlite_catalog() {
    let s = Scratch::new();
    let out = s.run("plan", &[]);
    assert_exit(&out, 2);
    assert!(
        stdout(&out).starts_with("Plan: 5 to create"),
        "{}",
        stdout(&out)
    );
    assert!(!s.catalog().exists());
    assert!(!s.catalog().parent().expect("a folder").exists());
}

#[test]
fn usage_errors_exit_1_never_the_2_that_means_changes() {
    let out = adoport(&["plan", "--source", "nowhere:x"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("unknown source"), "{}", stderr(&out));
    assert_exit(&adoport(&["plan", "--no-such-flag"]), 1);
    assert_exit(&adoport(&["plan", "--help"]), 0);
}

#[test]
fn diagnostics_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let s = Scratch::new();
    s.mapping(|m| m.replace("state: .state", "state: .state | ((("));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    let out = command
        .args(["plan", "--config"])
        .arg(s.config())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("runs");
    assert_exit(&out, 1);
    assert!(!stderr(&out).contains('\x1b'), "{:?}", stderr(&out));
    let forced = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(["plan", "--config"])
        .arg(s.config())
        .env("CLICOLOR_FORCE", "1")
        .output()
        .expect("runs");
    assert!(stderr(&forced).contains('\x1b'), "CLICOLOR_FORCE colours");
}

#[test]
fn with_json_logs_stderr_holds_only_json_lines() {
    let s = Scratch::new();
    s.mapping(|m| {
        m.replace(
            "query: .isDisabled | not",
            "query: .isDisabled | test(\"x\")",
        )
    });
    let out = s.run("plan", &["--log-format", "json"]);
    assert_exit(&out, 2);
    let mut levels = Vec::new();
    for line in stderr(&out).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        levels.push(v["level"].as_str().unwrap_or("?").to_owned());
    }
    assert!(levels.iter().any(|l| l == "WARN"), "{levels:?}");

    // A refused config: each finding is a JSON line with its position.
    s.mapping(|m| m.replace("state: .state", "state: .state | ((("));
    let out = s.run("plan", &["--log-format", "json"]);
    assert_exit(&out, 1);
    let findings: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v: &serde_json::Value| v["fields"]["code"] == "jq-syntax")
        .collect();
    assert_eq!(findings.len(), 1, "{}", stderr(&out));
    assert_eq!(findings[0]["fields"]["line"], 16);
}

#[test]
fn a_markdown_plan_of_a_config_with_errors_is_a_comment_saying_why() {
    let s = Scratch::new();
    s.mapping(|m| m.replace("state: .state", "state: .state | ((("));
    let out = s.run("plan", &["--format", "markdown"]);
    assert_exit(&out, 1);
    let md = stdout(&out);
    assert!(
        md.starts_with("### adoport: the config has 1 lint error"),
        "{md}"
    );
    assert!(md.contains("error[jq-syntax]"), "{md}");
    assert_eq!(md.matches("```").count() % 2, 0, "fences close: {md}");
    // stderr carries the findings, not an empty "has errors:" line.
    assert!(
        stderr(&out).contains("error[jq-syntax]"),
        "{}",
        stderr(&out)
    );
}
