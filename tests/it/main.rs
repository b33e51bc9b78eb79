//! Integration tests: one binary, one module per concern.

mod config;
mod jq_cli;
mod jq_conformance;
mod jq_port_cases;
mod lint;
mod port_client;
mod support;
