//! Integration tests: one binary, one module per concern.

mod lint;
mod port_client;
mod reconcile_faults;
mod reconcile_port;
mod support;
