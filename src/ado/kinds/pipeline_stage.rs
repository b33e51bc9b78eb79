//! `pipeline-stage`: the stages of every build. Per build of the shared build list
//! (`SyncCtx::builds`), `GET {org}/{project}/_apis/build/builds/{id}/timeline`, keeping the
//! records whose `type` is `Stage`, each with `__project` (the listed project) and `__build`
//! (the build as listed, with its `__projectId` and `__project`), as Port adds them.
//!
//! Port turns a timeline that fails into no stages, so a transient error deletes every stage
//! of that build; here it makes the kind incomplete. A 404 that ADO types as "that build is
//! gone" (deleted since the build list was read) is none, and so is a timeline ADO answers
//! with `null` (a build that never started has none).
//!
//! Timelines are read a few at a time, in build order, and each build's stages handed to
//! the sync's page sink when it has one: every stage carries its build, so the kind is by
//! far the largest to hold whole.

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, SyncCtx, absent, each_in_order, field, id_field, selector_schema, set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;

pub(super) const KIND: KindDef = KindDef {
    name: "pipeline-stage",
    schema: selector_schema!("pipeline-stage"),
    options: &[],
    ignored_options: &[],
    scope: Scope::Build,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, _selector: Map<String, Value>) -> Collected {
    let builds = ctx.builds().await;
    let mut out = Collected::under_problem(builds.problem.as_ref());
    let client = ctx.client.clone();
    let stages = each_in_order(&ctx, "pipeline stages", builds.items(), |build| {
        let client = client.clone();
        async move {
            match build {
                Ok(build) => stages_of(client, build).await,
                Err(problem) => problem.into(),
            }
        }
    })
    .await;
    out.extend(stages);
    out
}

async fn stages_of(client: Client, build: Value) -> Collected {
    let mut out = Collected::default();
    let project = field(&build, "/__projectId").to_owned();
    let id = id_field(&build, "/id");
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/build/builds/{id}/timeline"),
        Scope::Build,
    )
    .param("api-version", "7.1");
    let timeline = match client.send(&call).await {
        Ok(page) => page.body,
        Err(e) if e.is_not_found_as(absent::BUILD_GONE) => return out,
        Err(e) => {
            out.failed(&format!("timeline of build {id}"), &e);
            return out;
        }
    };
    out.items = match stages(&timeline, &build) {
        Ok(stages) => stages,
        Err(reason) => {
            out.problem(format!("timeline of build {id}: {reason}"));
            Vec::new()
        }
    };
    out
}

/// The `Stage` records of a timeline, enriched with `__project` and `__build`.
fn stages(timeline: &Value, build: &Value) -> Result<Vec<Value>, &'static str> {
    if timeline.is_null() {
        return Ok(Vec::new());
    }
    let records = timeline
        .get("records")
        .and_then(Value::as_array)
        .ok_or("the response has no records array")?;
    let project = build.get("__project").cloned().unwrap_or(Value::Null);
    Ok(records
        .iter()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("Stage"))
        .map(|record| {
            let mut stage = record.clone();
            set_field(&mut stage, "__project", project.clone());
            set_field(&mut stage, "__build", build.clone());
            stage
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_stage_records_are_kept_each_with_its_project_and_build() {
        let build = json!({"id": 7, "__projectId": "p", "__project": {"id": "p"}});
        let timeline = json!({"records": [
            {"id": "s1", "type": "Stage", "name": "Build"},
            {"id": "j1", "type": "Job", "parentId": "s1"},
            {"id": "s2", "type": "Stage", "name": "Deploy"},
            42
        ]});
        let got = stages(&timeline, &build).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["name"], "Deploy");
        assert_eq!(got[0]["__project"], json!({"id": "p"}));
        assert_eq!(got[0]["__build"], build);
    }

    #[test]
    fn a_null_timeline_has_no_stages_and_a_timeline_without_records_is_a_problem() {
        let build = json!({"id": 7});
        assert_eq!(stages(&Value::Null, &build), Ok(Vec::new()));
        assert!(stages(&json!({"id": "t"}), &build).is_err());
    }
}
