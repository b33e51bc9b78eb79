//! The client for Port's REST API: tokens (`auth`), the one retry policy (`retry`), the
//! transport (`client`) and its errors (`error`). The `port` catalog built on it is `crate::catalog::port`; the entity
//! model is `crate::entity`.

pub mod auth;
pub mod client;
pub mod error;
pub mod retry;

pub use auth::{Credentials, PortAccess};
pub use client::{PortClient, PortClientOptions};
