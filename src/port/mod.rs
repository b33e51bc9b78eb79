//! Port's side of the world: the entity model every stage agrees on.
//!
//! The HTTP client for Port's REST API lives beside it (`client`), so that the
//! catalog implementations and the reconciler share one definition of an entity.

pub mod entity;

pub use entity::{Entity, EntityKey};
