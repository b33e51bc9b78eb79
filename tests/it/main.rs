//! Integration tests: one binary, one module per concern.
mod jq_conformance;
mod mapping;
