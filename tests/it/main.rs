//! Integration tests: one binary, one module per concern.

mod ado;
mod gitops;
mod lint;
mod reconcile_faults;
mod support;
