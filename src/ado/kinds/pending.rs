//! Kinds Port's integration syncs that this version does not fetch yet: registered, so lint
//! validates their selectors and warns that they plan nothing, and a fetch of one is an
//! incomplete listing (never an empty one). Each moves to a module of its own, with a
//! `fetch`, when it is built.

use super::{KindDef, selector_schema};
use crate::ado::client::Scope;

/// `member`: not fetched yet.
pub(super) const MEMBER: KindDef = KindDef {
    name: "member",
    schema: selector_schema!("member"),
    options: &[],
    ignored_options: &[],
    scope: Scope::ProjectAndTeam,
    fetch: None,
};

/// `group`: not fetched yet.
pub(super) const GROUP: KindDef = KindDef {
    name: "group",
    schema: selector_schema!("group"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Graph,
    fetch: None,
};

/// `group-member`: not fetched yet.
pub(super) const GROUP_MEMBER: KindDef = KindDef {
    name: "group-member",
    schema: selector_schema!("group-member"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Graph,
    fetch: None,
};

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

/// `iteration`: not fetched yet.
pub(super) const ITERATION: KindDef = KindDef {
    name: "iteration",
    schema: selector_schema!("iteration"),
    options: &[],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: None,
};

/// `area-path`: not fetched yet.
pub(super) const AREA_PATH: KindDef = KindDef {
    name: "area-path",
    schema: selector_schema!("area-path"),
    options: &[],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: None,
};

/// `advanced-security-alert`: not fetched yet.
pub(super) const ADVANCED_SECURITY_ALERT: KindDef = KindDef {
    name: "advanced-security-alert",
    schema: selector_schema!("advanced-security-alert"),
    options: &[],
    ignored_options: &[],
    scope: Scope::AdvancedSecurity,
    fetch: None,
};

/// `wiki`: not fetched yet.
pub(super) const WIKI: KindDef = KindDef {
    name: "wiki",
    schema: selector_schema!("wiki"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: None,
};
