//! Lint benchmark (filled in with the linter).
fn main() {}
