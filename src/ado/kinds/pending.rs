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
    scope: Scope::Code,
    fetch: None,
};

/// `folder`: not fetched yet.
pub(super) const FOLDER: KindDef = KindDef {
    name: "folder",
    schema: selector_schema!("folder"),
    options: &[],
    scope: Scope::Code,
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
