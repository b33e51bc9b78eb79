//! Test doubles shared by the integration tests and the benchmarks: real HTTP servers on
//! `127.0.0.1:0` speaking the documented wire formats. Compiled only with the `testkit`
//! feature, so release builds carry none of it. `port_paging` is not a double: it computes
//! what Port's integration would request for a synthetic organization, for comparison.

pub mod fake_ado;
pub mod faulty_catalog;
pub mod port_emulator;
pub mod port_paging;
pub mod synthetic_files;
pub mod synthetic_org;
pub mod synthetic_org_kinds;
pub mod synthetic_pipelines;
