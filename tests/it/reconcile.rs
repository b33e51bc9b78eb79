//! `adoport plan` and `adoport apply`, end to end through the real binary: a config and a
//! recorded snapshot applied to an empty SQLite catalog, then re-planned after changes.

use std::path::{Path, PathBuf};
use std::process::Output;

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::{Value, json};

use crate::support::{adoport, assert_exit, root, stderr, stdout};

const FIXTURES: &str = "tests/fixtures/reconcile";

/// A scratch copy of the fixture config, a catalog path, and the snapshot.
struct Scene {
    _dir: tempfile::TempDir,
    config: PathBuf,
    catalog: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::copy(
            root().join(FIXTURES).join("config/port-app-config.yaml"),
            config.join("port-app-config.yaml"),
        )
        .expect("copy the mapping");
        let catalog = dir.path().join("catalog.sqlite");
        Scene {
            _dir: dir,
            config,
            catalog,
        }
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let config = self.config.display().to_string();
        let source = format!(
            "snapshot:{}",
            root().join(FIXTURES).join("snapshot").display()
        );
        let target = format!("sqlite:{}", self.catalog.display());
        let mut args = vec![
            command, "--config", &config, "--source", &source, "--target", &target,
        ];
        args.extend_from_slice(extra);
        adoport(&args)
    }

    fn plan_json(&self) -> (i32, Value) {
        let out = self.run("plan", &["--format", "json"]);
        let code = out.status.code().unwrap_or(-1);
        let doc = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        (code, doc)
    }

    fn edit_mapping(&self, from: &str, to: &str) {
        let path = self.config.join("port-app-config.yaml");
        let text = std::fs::read_to_string(&path).expect("read the mapping");
        assert!(text.contains(from), "{from:?} not in the mapping");
        std::fs::write(&path, text.replace(from, to)).expect("write the mapping");
    }

    async fn stored(&self) -> Vec<Value> {
        let catalog = SqliteCatalog::open(&self.catalog, "adoport").expect("open the catalog");
        catalog
            .list_owned()
            .await
            .expect("list")
            .into_iter()
            .map(|e| serde_json::to_value(e).expect("json"))
            .collect()
    }
}

fn identifiers(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let e = e.get("entity").unwrap_or(e);
            format!(
                "{}/{}",
                e["blueprint"].as_str().unwrap_or("?"),
                e["identifier"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_to_an_empty_catalog_then_plan_has_nothing_to_do() {
    let scene = Scene::new();
    let (code, plan) = scene.plan_json();
    assert_eq!(code, 2, "changes pending");
    assert_eq!(plan["summary"]["create"], 5);

    let out = scene.run("apply", &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("Plan: 5 to create, 0 to update, 0 to delete"),
        "{text}"
    );
    assert!(
        text.contains("Applied: 5 created, 0 updated, 0 deleted, 0 failed"),
        "{text}"
    );

    let out = scene.run("plan", &[]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "No changes: 5 entities up to date.\n");

    let stored = scene.stored().await;
    assert_eq!(stored.len(), 5);
    assert!(stored.contains(&json!({
        "identifier": "shop/checkout",
        "blueprint": "service",
        "title": "checkout",
        "properties": {"defaultBranch": "refs/heads/main", "url": "https://dev.azure.com/acme/shop/_git/checkout"},
        "relations": {"project": "p-shop"}
    })));
}

#[tokio::test]
async fn a_changed_mapping_field_plans_exactly_those_updates_with_field_diffs() {
    let scene = Scene::new();
    assert_eq!(scene.run("apply", &[]).status.code(), Some(0));
    scene.edit_mapping(
        "defaultBranch: .defaultBranch",
        "defaultBranch: .defaultBranch | ltrimstr(\"refs/heads/\")",
    );
    let (code, plan) = scene.plan_json();
    assert_eq!(code, 2);
    assert_eq!(plan["summary"]["create"], 0);
    assert_eq!(plan["summary"]["delete"], 0);
    assert_eq!(
        identifiers(&plan["updates"]),
        [
            "service/infra/terraform",
            "service/shop/billing",
            "service/shop/checkout"
        ]
    );
    assert_eq!(
        plan["updates"][1]["changes"],
        json!([{"field": "property", "key": "defaultBranch", "before": "refs/heads/trunk", "after": "trunk"}])
    );

    let md = scene.run("plan", &["--format", "markdown"]);
    assert_eq!(md.status.code(), Some(2));
    let md = stdout(&md);
    assert!(
        md.starts_with("**Plan: 0 to create, 3 to update, 0 to delete, 2 unchanged.**"),
        "{md}"
    );
    assert!(
        md.contains("!     properties.defaultBranch: \"refs/heads/trunk\" → \"trunk\""),
        "{md}"
    );
    insta::assert_snapshot!("plan_markdown_after_a_field_change", md);

    assert_eq!(
        scene.run("apply", &["--format", "json"]).status.code(),
        Some(0)
    );
    assert_eq!(scene.plan_json().0, 0);
}

#[tokio::test]
async fn a_removed_resource_plans_its_deletes_and_apply_converges() {
    let scene = Scene::new();
    assert_eq!(scene.run("apply", &[]).status.code(), Some(0));
    // Drop the repository resource: everything from `  - kind: repository` on.
    let path = scene.config.join("port-app-config.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let cut = text
        .find("  - kind: repository")
        .expect("the repository resource");
    std::fs::write(&path, &text[..cut]).expect("write");

    let (code, plan) = scene.plan_json();
    assert_eq!(code, 2);
    assert_eq!(
        identifiers(&plan["deletes"]),
        [
            "service/infra/terraform",
            "service/shop/billing",
            "service/shop/checkout"
        ]
    );
    assert_eq!(plan["summary"]["update"], 0);

    // --no-prune shows the deletes as blocked and is not a change.
    let out = scene.run("plan", &["--no-prune"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("3 deletes blocked: pruning is off"),
        "{}",
        stdout(&out)
    );

    let out = scene.run("apply", &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("Applied: 0 created, 0 updated, 3 deleted, 0 failed"));
    let stored = scene.stored().await;
    assert_eq!(
        stored
            .iter()
            .map(|e| e["identifier"].as_str().unwrap_or("?"))
            .collect::<Vec<_>>(),
        ["p-infra", "p-shop"]
    );
    assert_eq!(scene.plan_json().0, 0);
}

#[test]
fn plan_writes_to_a_file_and_fails_with_1_on_a_bad_source() {
    let scene = Scene::new();
    let out_file = scene.config.join("plan.md");
    let out_arg = out_file.display().to_string();
    let out = scene.run("plan", &["--format", "markdown", "--out", &out_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let md = std::fs::read_to_string(Path::new(&out_file)).expect("the plan file");
    assert!(md.contains("<details><summary><b>service</b>"), "{md}");

    let config = scene.config.display().to_string();
    let bad = adoport(&["plan", "--config", &config, "--source", "nowhere:x"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("unknown source"), "{}", stderr(&bad));
}

/// Runs the binary against the fake ADO server (live `--source ado`).
async fn run_live(fake: &FakeAdo, scene: &Scene, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    command
        .args(args)
        .arg("--config")
        .arg(&scene.config)
        .args(["--source", "ado", "--target"])
        .arg(format!("sqlite:{}", scene.catalog.display()))
        .env("NO_COLOR", "1")
        .env_remove("PORT_CLIENT_ID")
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat());
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("the adoport binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_source_that_fails_midway_deletes_nothing_of_its_blueprints() {
    let fake = FakeAdo::start(generate(&OrgSpec::small()), FakeConfig::default())
        .await
        .expect("the fake ADO server starts");
    let scene = Scene::new();
    let out = run_live(&fake, &scene, &["apply"]).await;
    assert_exit(&out, 0);
    let created = scene.stored().await.len();
    assert!(created > 2, "{}", stdout(&out));

    let out = run_live(&fake, &scene, &["plan"]).await;
    assert_exit(&out, 0);

    // The repository listing now fails: its entities are unknown, not gone.
    fake.add_fault(Fault::from_request(
        "repositories",
        1,
        FaultKind::Status(500),
    ));
    let out = run_live(&fake, &scene, &["plan", "--format", "json"]).await;
    assert_exit(&out, 0);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["summary"]["delete"], 0);
    assert_eq!(plan["blocked"][0]["reason"], "incompleteKind");
    assert!(
        stderr(&out).contains("resource 1 (repository): the listing is incomplete"),
        "{}",
        stderr(&out)
    );
    let out = run_live(&fake, &scene, &["apply"]).await;
    assert_exit(&out, 0);
    assert_eq!(scene.stored().await.len(), created);
}

/// A kind Azure DevOps refuses the PAT for deletes nothing, and the run fails (exit 1): a
/// sync that cannot read what it is meant to keep in step is not a success.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_pat_deletes_nothing_and_fails_the_run() {
    let fake = FakeAdo::start(generate(&OrgSpec::small()), FakeConfig::default())
        .await
        .expect("the fake ADO server starts");
    let scene = Scene::new();
    assert_exit(&run_live(&fake, &scene, &["apply"]).await, 0);
    let created = scene.stored().await.len();
    fake.add_fault(Fault::from_request(
        "repositories",
        1,
        FaultKind::Status(401),
    ));
    for command in ["plan", "apply"] {
        let out = run_live(&fake, &scene, &[command]).await;
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("kind repository: Azure DevOps refused the credentials"),
            "{command}: {}",
            stderr(&out)
        );
    }
    assert_eq!(scene.stored().await.len(), created);
}
