//! Helpers shared by the test modules: running the real binary, fixture paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root (tests run with it as the working directory).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Upstream files kept in the repository (`tests/fixtures/upstream/`: jq's own test suite,
/// Port's reference mappings), each with its origin and licence in that folder's README.
pub fn upstream(rel: &str) -> PathBuf {
    root().join("tests/fixtures/upstream").join(rel)
}

/// Runs the real `adoport` binary with `args` in the crate root.
pub fn adoport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("PORT_CLIENT_ID")
        .env_remove("AZURE_DEVOPS_ORG_URL")
        .output()
        .expect("the adoport binary runs")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it is not the one expected.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}{}", stdout(o), stderr(o));
}
