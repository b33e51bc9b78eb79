//! Integration tests: one binary, one module per concern.
mod reconcile_faults;
