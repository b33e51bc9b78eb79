//! Integration tests: one binary, one module per concern.

mod port_client;
