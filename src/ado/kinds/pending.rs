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
    scope: Scope::ProjectAndTeam,
    fetch: None,
};

/// `group`: not fetched yet.
pub(super) const GROUP: KindDef = KindDef {
    name: "group",
    schema: selector_schema!("group"),
    options: &[],
    scope: Scope::Graph,
    fetch: None,
};

/// `group-member`: not fetched yet.
pub(super) const GROUP_MEMBER: KindDef = KindDef {
    name: "group-member",
    schema: selector_schema!("group-member"),
    options: &[],
    scope: Scope::Graph,
    fetch: None,
};

/// `pipeline-stage`: not fetched yet.
pub(super) const PIPELINE_STAGE: KindDef = KindDef {
    name: "pipeline-stage",
    schema: selector_schema!("pipeline-stage"),
    options: &[],
    scope: Scope::Build,
    fetch: None,
};

/// `pipeline-run`: not fetched yet.
pub(super) const PIPELINE_RUN: KindDef = KindDef {
    name: "pipeline-run",
    schema: selector_schema!("pipeline-run"),
    options: &[],
    scope: Scope::Build,
    fetch: None,
};

/// `environment`: not fetched yet.
pub(super) const ENVIRONMENT: KindDef = KindDef {
    name: "environment",
    schema: selector_schema!("environment"),
    options: &[],
    scope: Scope::Build,
    fetch: None,
};

/// `pipeline-deployment`: not fetched yet.
pub(super) const PIPELINE_DEPLOYMENT: KindDef = KindDef {
    name: "pipeline-deployment",
    schema: selector_schema!("pipeline-deployment"),
    options: &[],
    scope: Scope::Build,
    fetch: None,
};

/// `release-definition`: not fetched yet.
pub(super) const RELEASE_DEFINITION: KindDef = KindDef {
    name: "release-definition",
    schema: selector_schema!("release-definition"),
    options: &[],
    scope: Scope::Release,
    fetch: None,
};

/// `release-deployment`: not fetched yet.
pub(super) const RELEASE_DEPLOYMENT: KindDef = KindDef {
    name: "release-deployment",
    schema: selector_schema!("release-deployment"),
    options: &[],
    scope: Scope::Release,
    fetch: None,
};

/// `test-run`: not fetched yet.
pub(super) const TEST_RUN: KindDef = KindDef {
    name: "test-run",
    schema: selector_schema!("test-run"),
    options: &[],
    scope: Scope::Build,
    fetch: None,
};

/// `iteration`: not fetched yet.
pub(super) const ITERATION: KindDef = KindDef {
    name: "iteration",
    schema: selector_schema!("iteration"),
    options: &[],
    scope: Scope::WorkItems,
    fetch: None,
};

/// `area-path`: not fetched yet.
pub(super) const AREA_PATH: KindDef = KindDef {
    name: "area-path",
    schema: selector_schema!("area-path"),
    options: &[],
    scope: Scope::WorkItems,
    fetch: None,
};

/// `advanced-security-alert`: not fetched yet.
pub(super) const ADVANCED_SECURITY_ALERT: KindDef = KindDef {
    name: "advanced-security-alert",
    schema: selector_schema!("advanced-security-alert"),
    options: &[],
    scope: Scope::AdvancedSecurity,
    fetch: None,
};

/// `wiki`: not fetched yet.
pub(super) const WIKI: KindDef = KindDef {
    name: "wiki",
    schema: selector_schema!("wiki"),
    options: &[],
    scope: Scope::Code,
    fetch: None,
};
