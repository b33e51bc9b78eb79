//! Plan benchmark (filled in below).
fn main() {}
