//! Port's side of the world: the entity model every stage agrees on, and the REST client.
//!
//! The HTTP client for Port's REST API (`client`, with `auth` and `retry`) lives beside the
//! entity model, so that the catalog implementations and the reconciler share one definition
//! of an entity.

pub mod auth;
mod catalog;
pub mod client;
pub mod entity;
pub mod retry;

pub use auth::{Credentials, PortAccess};
pub use client::{PortClient, PortClientOptions};
pub use entity::{Entity, EntityKey};
