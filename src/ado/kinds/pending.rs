//! Kinds Port's integration syncs that this version does not fetch yet: registered, so lint
//! validates their selectors and warns that they plan nothing, and a fetch of one is an
//! incomplete listing (never an empty one). Each moves to a module of its own, with a
//! `fetch`, when it is built.

use super::{KindDef, selector_schema};
use crate::ado::client::Scope;

/// `file`: not fetched yet.
pub(super) const FILE: KindDef = KindDef {
    name: "file",
    schema: selector_schema!("file"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: None,
};

/// `folder`: not fetched yet.
pub(super) const FOLDER: KindDef = KindDef {
    name: "folder",
    schema: selector_schema!("folder"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: None,
};
