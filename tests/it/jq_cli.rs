//! `adoport jq` run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn adoport_jq(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_adoport"))
        .arg("jq")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("binary exits")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn prints_every_output_pretty_by_default() {
    let out = adoport_jq(&[".a[]"], r#"{"a": [1, {"b": 2}]}"#);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "1\n{\n  \"b\": 2\n}\n");
}

#[test]
fn compact_output_puts_one_value_per_line() {
    let out = adoport_jq(&["-c", "."], "{\"a\": [1, 2]} 3\n[4]");
    assert_eq!(stdout(&out), "{\"a\":[1,2]}\n3\n[4]\n");
}

#[test]
fn first_prints_only_the_first_output_or_null() {
    let out = adoport_jq(&["--first", "-c", ".tags[]"], r#"{"tags": ["x", "y"]}"#);
    assert_eq!(stdout(&out), "\"x\"\n");
    let out = adoport_jq(&["--first", "empty"], "1");
    assert_eq!(stdout(&out), "null\n");
}

#[test]
fn applies_the_mapping_preprocessing() {
    let out = adoport_jq(&["-c", "'id-' + (.id | tostring)"], r#"{"id": 10}"#);
    assert_eq!(stdout(&out), "\"id-10\"\n");
    let out = adoport_jq(&["-c", "$ENV"], "null");
    assert_eq!(stdout(&out), "{}\n");
}

#[test]
fn a_jq_error_exits_5_with_the_message_on_stderr() {
    let out = adoport_jq(&[".a.b"], r#"{"a": 1}"#);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cannot index number with string (\"b\")"),
        "{err}"
    );
}

#[test]
fn unreadable_input_exits_2() {
    let out = adoport_jq(&["."], "{not json");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(["jq", ".", "/nonexistent/input.json"])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
}
