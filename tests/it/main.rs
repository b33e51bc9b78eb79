//! Integration tests: one binary, one module per concern.

mod ado;
mod ado_faults;
mod ado_safety;
mod ci_templates;
mod config;
mod gitops;
mod jq_budget;
mod jq_cli;
mod jq_conformance;
mod jq_depth;
mod jq_port_cases;
mod lint;
mod mapping;
mod pipeline;
mod port_client;
mod port_safety;
mod reconcile;
mod reconcile_faults;
mod reconcile_port;
mod safety;
mod serve;
mod support;
