//! Executing a plan's blueprint part: creates and updates before any entity is written,
//! deletes after every entity delete. One call at a time, in the plan's order: blueprints are
//! few, and each may be what the next one relates to.
//!
//! A blueprint created without its relations (a relation cycle) gets them in a second pass,
//! once every blueprint of the plan exists. A failed blueprint write is reported and makes
//! the run one whose writes failed, so it deletes nothing (entities or blueprints); the
//! entities of a blueprint that could not be created are not sent (the catalog would
//! refuse each one) and count as failed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::apply::ApplyReport;
use super::blueprints::BlueprintPlan;
use crate::catalog::Catalog;

/// A blueprint call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlueprintOperation {
    /// Create.
    Create,
    /// Replace with the declared document (an update, or a cycle's relations).
    Update,
    /// Delete.
    Delete,
}

/// One blueprint call that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintFailure {
    /// What was attempted.
    pub operation: BlueprintOperation,
    /// The blueprint.
    pub identifier: String,
    /// The catalog's reason.
    pub message: String,
}

/// Creates and updates the plan's blueprints; returns the blueprints that could not be
/// created (their entities are not sent).
pub(super) async fn write(
    plan: &BlueprintPlan,
    catalog: &dyn Catalog,
    report: &mut ApplyReport,
) -> BTreeSet<String> {
    let mut not_created = BTreeSet::new();
    for create in &plan.creates {
        let document = if create.relations_after {
            crate::blueprint::bare(&create.document)
        } else {
            create.document.clone()
        };
        match catalog.create_blueprint(&document).await {
            Ok(()) => report.blueprints_created += 1,
            Err(e) => {
                not_created.insert(create.identifier.clone());
                fail(report, BlueprintOperation::Create, &create.identifier, &e);
            }
        }
    }
    for update in &plan.updates {
        match catalog.replace_blueprint(&update.document).await {
            Ok(()) => report.blueprints_updated += 1,
            Err(e) => fail(report, BlueprintOperation::Update, &update.identifier, &e),
        }
    }
    for create in plan.creates.iter().filter(|c| c.relations_after) {
        if not_created.contains(&create.identifier) {
            continue;
        }
        if let Err(e) = catalog.replace_blueprint(&create.document).await {
            fail(report, BlueprintOperation::Update, &create.identifier, &e);
        }
    }
    not_created
}

/// Deletes the plan's blueprints, dependents first, unless a write of the run failed.
pub(super) async fn delete(plan: &BlueprintPlan, catalog: &dyn Catalog, report: &mut ApplyReport) {
    if plan.deletes.is_empty() {
        return;
    }
    if report.failed > 0 || !report.blueprint_failures.is_empty() || report.skipped_deletes > 0 {
        report.skipped_blueprint_deletes = plan.deletes.len();
        tracing::warn!(
            blueprints = plan.deletes.len(),
            "writes failed, so this run's blueprint deletes are skipped"
        );
        return;
    }
    for id in &plan.deletes {
        match catalog.delete_blueprint(id).await {
            Ok(()) => report.blueprints_deleted += 1,
            Err(e) => fail(report, BlueprintOperation::Delete, id, &e),
        }
    }
}

fn fail(
    report: &mut ApplyReport,
    operation: BlueprintOperation,
    identifier: &str,
    error: &crate::catalog::Error,
) {
    let message = super::apply::chain(error);
    tracing::warn!(blueprint = identifier, ?operation, error = %message, "a blueprint call failed");
    report.blueprint_failures.push(BlueprintFailure {
        operation,
        identifier: identifier.to_owned(),
        message,
    });
}
