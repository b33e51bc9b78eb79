//! The plan and the apply report as JSON: the stable, documented machine format.
//!
//! Shape (format version 1; `docs/plan-json.md` is the full reference). Keys are camelCase;
//! fields may be added in a later version, never renamed or removed within one.
//!
//! ```text
//! plan:  { "formatVersion": 1,
//!          "mappingRevision": string | null,
//!          "options": { "merge", "createMissingRelatedEntities", "deleteDependents": bool },
//!          "creates": [Entity],
//!          "updates": [{ "entity": Entity, "changes": [FieldChange] }],
//!          "deletes": [Entity],
//!          "blocked": [{ "reason": "unknownBlueprint" | "incompleteKind" | "relationTarget"
//!                                  | "noPrune" | "threshold" | "maxDeletes",
//!                        "message": string, "entities": [{ "blueprint", "identifier" }] }],
//!          "unchanged": number,
//!          "duplicates": [{ "key": { "blueprint", "identifier" }, "count": number }],
//!          "blueprints": { "creates": [{ "identifier", "document", "relationsAfter" }],
//!                          "updates": [{ "identifier", "document",
//!                                        "changes": [{ "field", "before", "after" }] }],
//!                          "deletes": [string], "blocked": [{ "identifier", "message" }],
//!                          "kept": [{ "identifier", "fields": [string] }],
//!                          "unchanged": number, "cycles": [[string]], "warnings": [string] },
//!          "searched": [{ "kind", "item", "document": entity with a query identifier }],
//!          "searchErrors": [{ "kind", "item", "blueprint", "query", "message" }],
//!          "summary": { "create", "update", "delete", "blockedDelete", "unchanged",
//!                       "duplicate", "blueprintCreate", "blueprintUpdate",
//!                       "blueprintDelete", "blueprintBlockedDelete",
//!                       "searched", "searchError": number } }
//! Entity:      { "identifier", "blueprint", "title"?, "icon"?, "team"?,
//!                "properties"?: {}, "relations"?: {} }   (absent = not mapped)
//! FieldChange: { "field": "title" | "icon" | "team" | "property" | "relation",
//!                "key"?: string (property and relation only),
//!                "before": any, "after": any }           (null = absent)
//! apply: { "formatVersion": 1, "plan": <plan without formatVersion>,
//!          "report": { "created", "updated", "deleted", "failed", "blockedDeletes",
//!                      "unchanged", "batches", "failedBatches": number,
//!                      "failures": [{ "operation": "upsert" | "delete",
//!                                     "key": { "blueprint", "identifier" },
//!                                     "message": string }],
//!                      "cycles": [[string]], "historyError": string | null,
//!                      "blueprintsCreated", "blueprintsUpdated", "blueprintsDeleted": number,
//!                      "blueprintFailures": [{ "operation": "create" | "update" | "delete",
//!                                              "identifier", "message" }],
//!                      "skippedBlueprintDeletes", "keptBySearch": number } }
//! ```
//!
//! Lists are ordered by (blueprint, identifier), so equal plans give equal bytes.

use serde::Serialize;

use crate::reconcile::apply::ApplyReport;
use crate::reconcile::plan::Plan;

/// The version of the JSON format, bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanDoc<'a> {
    format_version: u32,
    #[serde(flatten)]
    plan: &'a Plan,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplyDoc<'a> {
    format_version: u32,
    plan: &'a Plan,
    report: &'a ApplyReport,
}

/// Renders a plan as pretty-printed JSON with a trailing newline.
pub fn render(plan: &Plan) -> String {
    to_string(&PlanDoc {
        format_version: FORMAT_VERSION,
        plan,
    })
}

/// Renders an apply (the plan it executed and its report) as pretty-printed JSON.
pub fn render_report(plan: &Plan, report: &ApplyReport) -> String {
    to_string(&ApplyDoc {
        format_version: FORMAT_VERSION,
        plan,
        report,
    })
}

fn to_string(doc: &impl Serialize) -> String {
    // Plans hold only strings, numbers and JSON values with string keys: serialising them
    // cannot fail. Should it ever, the error is reported in the document itself.
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|e| {
        serde_json::json!({ "formatVersion": FORMAT_VERSION, "error": e.to_string() }).to_string()
    });
    s.push('\n');
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::entity::{Entity, EntityKey};
    use crate::reconcile::apply::{BlueprintFailure, BlueprintOperation, Failure, Operation};
    use crate::reconcile::plan::{Desired, Guards, IncompleteKind, KindBlueprints, Planner};
    use serde_json::{Value, json};

    fn e(bp: &str, id: &str, v: Value) -> Entity {
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            o.insert("blueprint".into(), json!(bp));
            o.insert("identifier".into(), json!(id));
        }
        serde_json::from_value(v).unwrap()
    }

    /// A plan with every section: create, update, delete, blocked, duplicate.
    pub(crate) fn sample_plan() -> Plan {
        let desired = Desired {
            entities: vec![
                e(
                    "service",
                    "checkout",
                    json!({"title": "Checkout", "properties": {"language": "rust", "stars": 3}, "relations": {"project": "shop"}}),
                ),
                e(
                    "service",
                    "billing",
                    json!({"title": "Billing", "team": ["payments"], "properties": {"language": "go"}}),
                ),
                e(
                    "project",
                    "shop",
                    json!({"title": "Shop", "icon": "AzureDevops"}),
                ),
                e(
                    "project",
                    "shop",
                    json!({"properties": {"visibility": "private"}}),
                ),
                e("service", "search", json!({"title": "Search"})),
            ],
            incomplete: vec![IncompleteKind {
                kind: "build".into(),
                reason: "fetch failed: HTTP 503".into(),
                blueprints: KindBlueprints::Known(["build".to_owned()].into()),
                confined: None,
            }],
            revision: Some("4f2c9e1".into()),
            blueprints: [
                (
                    "project".to_owned(),
                    json!({"identifier": "project", "title": "Project", "schema": {"properties": {"visibility": {"type": "string"}}}}),
                ),
                (
                    "service".to_owned(),
                    json!({"identifier": "service", "title": "Service", "schema": {"properties": {
                        "language": {"type": "string", "enum": ["go", "rust"]},
                        "stars": {"type": "number"}
                    }}, "relations": {"project": {"target": "project", "many": false, "required": false}}}),
                ),
            ]
            .into(),
            ..Desired::default()
        };
        let catalog_blueprints = vec![json!({
            "identifier": "service", "title": "Service",
            "schema": {"properties": {
                "language": {"type": "string"}, "stars": {"type": "number"}, "legacy": {"type": "boolean"}
            }},
            "relations": {},
            "createdAt": "2024-05-01T10:00:00.000Z", "updatedBy": "someone"
        })];
        let actual = vec![
            e(
                "service",
                "billing",
                json!({"title": "Billing", "team": ["payments"], "properties": {"language": "java"}}),
            ),
            e("service", "search", json!({"title": "Search"})),
            e("service", "legacy", json!({"title": "Legacy"})),
            e("build", "b-17", json!({})),
            e(
                "project",
                "shop",
                json!({"title": "Old shop", "icon": "AzureDevops", "properties": {"visibility": "private"}}),
            ),
        ];
        let mut planner = Planner::against(desired, catalog_blueprints, &Guards::default());
        for entity in actual {
            planner.observe(entity);
        }
        planner.finish()
    }

    pub(crate) fn sample_report() -> ApplyReport {
        ApplyReport {
            created: 1,
            updated: 1,
            deleted: 1,
            failed: 1,
            blocked_deletes: 1,
            skipped_deletes: 0,
            unchanged: 1,
            batches: 4,
            failed_batches: 1,
            failures: vec![Failure {
                operation: Operation::Upsert,
                key: EntityKey {
                    blueprint: "service".into(),
                    identifier: "billing".into(),
                },
                message: "writing to the catalog failed: connection reset".into(),
            }],
            cycles: vec![],
            history_error: None,
            blueprints_created: 1,
            blueprints_updated: 0,
            blueprints_deleted: 0,
            blueprint_failures: vec![BlueprintFailure {
                operation: BlueprintOperation::Update,
                identifier: "service".into(),
                message: "writing to the catalog failed: a request to Port failed".into(),
            }],
            skipped_blueprint_deletes: 0,
            kept_by_search: 0,
        }
    }

    #[test]
    fn a_plan_renders_as_versioned_json() {
        insta::assert_snapshot!(render(&sample_plan()));
    }

    #[test]
    fn the_json_plan_reads_back_as_the_same_plan() {
        let plan = sample_plan();
        let mut doc: Value = serde_json::from_str(&render(&plan)).unwrap();
        assert_eq!(doc["formatVersion"], 1);
        doc.as_object_mut().unwrap().remove("formatVersion");
        let back: Plan = serde_json::from_value(doc).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn an_apply_renders_as_json() {
        insta::assert_snapshot!(render_report(&sample_plan(), &sample_report()));
    }
}
