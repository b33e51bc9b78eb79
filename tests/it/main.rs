//! Integration tests: one binary, one module per concern.

mod ado;
mod ado_faults;
mod lint;
mod support;
