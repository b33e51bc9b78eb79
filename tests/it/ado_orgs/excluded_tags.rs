//! `excludedTags` from `adoport.yaml`, end to end: an excluded project's items are left out
//! of every kind they belong to, teams, members and project groups included (which Port's
//! integration still syncs), and nothing else is.

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::Value;

use super::adoport_with;
use crate::support::{stderr, stdout};

#[tokio::test(flavor = "multi_thread")]
async fn excluded_tags_in_the_settings_leave_out_every_kind_an_excluded_project_owns() {
    let spec = OrgSpec {
        projects: 5,
        ..OrgSpec::small()
    };
    let fake = FakeAdo::start(generate(&spec), FakeConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kinds = [
        "project",
        "repository",
        "team",
        "member",
        "group",
        "group-member",
        "work-item",
    ];
    let mut mapping = String::from("resources:\n");
    for kind in kinds {
        // One entity per item, keyed by kind and position-free raw id, naming its project.
        mapping.push_str(&format!(
            "  - kind: {kind}\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: '\"{kind}-\" + ((.id // .descriptor // .identity.id // \"x\") | tostring) + \"-\" + ((.__teamId // .__group.descriptor // \"\") | tostring)'\n          blueprint: '\"{kind}\"'\n          properties:\n            raw: tojson\n"
        ));
    }
    std::fs::write(dir.path().join("port-app-config.yaml"), &mapping).unwrap();
    let target = format!("sqlite:{}", dir.path().join("c.sqlite").display());
    let config = dir.path().display().to_string();
    let plan = |settings: &'static str| {
        let (config, target, fake_url, pat) =
            (config.clone(), target.clone(), fake.org_url(), fake.pat());
        let dir = dir.path().to_path_buf();
        async move {
            std::fs::write(
                dir.join("adoport.yaml"),
                format!("organizationUrl: {fake_url}\n{settings}"),
            )
            .unwrap();
            let args = [
                "plan", "--format", "json", "--config", &config, "--source", "ado", "--target",
                &target,
            ];
            let out = adoport_with(&args, &[("AZURE_DEVOPS_PAT", pat)]).await;
            let plan: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
            plan["creates"].as_array().unwrap().clone()
        }
    };
    let everything = plan("").await;
    let kept = plan("excludedTags:\n  - archived\n").await;
    let raw = |e: &Value| -> Value {
        serde_json::from_str(e["properties"]["raw"].as_str().unwrap_or("null")).unwrap()
    };
    // A member names its team only: its team is archived when the team's project is.
    let archived_teams: Vec<Value> = everything
        .iter()
        .filter(|e| e["blueprint"] == "team" && raw(e)["projectName"] == "project-04")
        .map(|e| raw(e)["id"].clone())
        .collect();
    let archived = |e: &Value| {
        let item = raw(e);
        item.to_string().contains("project-04") || archived_teams.contains(&item["__teamId"])
    };
    for kind in kinds {
        let of = |list: &[Value]| -> (usize, usize) {
            let mine: Vec<&Value> = list.iter().filter(|e| e["blueprint"] == kind).collect();
            let gone = mine.iter().filter(|e| archived(e)).count();
            (mine.len(), gone)
        };
        let (all, archived) = of(&everything);
        let (left, archived_left) = of(&kept);
        assert!(
            archived > 0,
            "{kind}: the generator puts some in project-04"
        );
        assert_eq!(
            archived_left, 0,
            "{kind}: an excluded project's items are left out"
        );
        assert_eq!(left, all - archived, "{kind}: nothing else is left out");
    }
}
