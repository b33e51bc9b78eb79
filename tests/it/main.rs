//! Integration tests: one binary, one module per concern.

mod lint;
mod reconcile_faults;
mod support;
