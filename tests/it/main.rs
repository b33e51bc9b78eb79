//! Integration tests: one binary, one module per concern.

mod jq_conformance;
mod lint;
mod mapping;
mod port_client;
mod support;
