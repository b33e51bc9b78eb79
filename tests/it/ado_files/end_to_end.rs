//! `file://` mapping values and Port's own example, end to end through the `adoport`
//! binary: `plan` against the fake server, `fetch` into a snapshot, and `lint`.

use std::process::Output;

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_files::add_repository;
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::{Value, json};

use super::{small, start};
use crate::ado::complete;
use crate::support::{adoport, stdout, upstream};

/// A config repository in a temporary folder.
fn config_dir(mapping: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("port-app-config.yaml"), mapping).unwrap();
    dir
}

async fn plan_json(fake: &FakeAdo, config: &std::path::Path) -> (Output, Value) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    command
        .args(["plan", "--format", "json", "--source", "ado", "--config"])
        .arg(config)
        .arg("--target")
        .arg(format!(
            "sqlite:{}",
            config.join("catalog.sqlite").display()
        ))
        .env("NO_COLOR", "1")
        .env_remove("PORT_CLIENT_ID")
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat());
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let plan = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, plan)
}

const FILE_PREFIX_MAPPING: &str = r#"resources:
  - kind: repository
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .name
          blueprint: '"service"'
          properties:
            readme: file://README.md
            owners: file://CODEOWNERS
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_file_prefix_value_plans_the_files_text_from_the_items_repository() {
    let fake = small().await;
    let dir = config_dir(FILE_PREFIX_MAPPING);
    let (out, plan) = plan_json(&fake, dir.path()).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let creates = plan["creates"].as_array().unwrap();
    assert_eq!(creates.len(), 6);
    let repo0 = creates
        .iter()
        .find(|e| e["identifier"] == "project-00-repo-00")
        .unwrap();
    assert_eq!(
        repo0["properties"]["readme"],
        "# project-00-repo-00\n\nService 0 of project-00.\n"
    );
    assert_eq!(repo0["properties"]["owners"], "* @project-00-team\n");
    let repo1 = creates
        .iter()
        .find(|e| e["identifier"] == "project-00-repo-01")
        .unwrap();
    assert_eq!(
        repo1["properties"]["owners"],
        Value::Null,
        "a missing file is null, as in Port"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_snapshot_holds_the_files_a_file_prefix_names() {
    let fake = small().await;
    let dir = config_dir(FILE_PREFIX_MAPPING);
    let out_dir = dir.path().join("snapshot");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    command
        .args(["fetch", "--config"])
        .arg(dir.path())
        .arg("--out")
        .arg(&out_dir)
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat());
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let snapshot = adoport::ado::Snapshot::open(&out_dir).unwrap();
    let repos = snapshot.listing("repository");
    complete(&repos);
    assert_eq!(
        repos.items[0]["__includedFiles"],
        json!({"README.md": "# project-00-repo-00\n\nService 0 of project-00.\n", "CODEOWNERS": "* @project-00-team\n"})
    );
}

#[test]
fn lint_says_a_file_prefix_is_deprecated_and_names_the_replacement() {
    let dir = config_dir(FILE_PREFIX_MAPPING);
    let path = dir.path().join("port-app-config.yaml");
    let out = adoport(&["lint", path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning, not an error: {text}"
    );
    assert!(text.contains("warning[file-prefix]"), "{text}");
    assert!(!text.contains("jq-syntax"), "{text}");
    assert!(text.contains(r#"add `includedFiles: ["README.md"]` to the selector and map `.__includedFiles["README.md"]`"#), "{text}");
    assert!(text.contains(":11:21"), "points at the value: {text}");
}

/// Port's own example (`ocean-ado-examples/example-mappings.yaml`): its three file resources
/// and its folder resource plan entities against an organization holding what it names.
#[tokio::test(flavor = "multi_thread")]
async fn ports_example_file_and_folder_resources_plan_entities() {
    let mut org = generate(&OrgSpec::small());
    add_repository(
        &mut org,
        "project001",
        "my-node-app",
        &[
            ("package.json", r#"{"name": "my-node-app"}"#),
            ("package-lock.json", r#"{"lockfileVersion": 3}"#),
            ("deployment/helm/values.yaml", "replicaCount: 1\n"),
        ],
    );
    add_repository(
        &mut org,
        "project001",
        "my-react-app",
        &[
            ("package.json", r#"{"name": "my-react-app"}"#),
            ("docs/README.md", "# docs\n"),
        ],
    );
    add_repository(
        &mut org,
        "project001",
        "test_repo",
        &[("measure/index.md", "m")],
    );
    add_repository(
        &mut org,
        "project001",
        "folder_test_repo",
        &[("fulfyldwms/a/x.md", "a"), ("fulfyldwms/b/y.md", "b")],
    );
    let fake = start(org, FakeConfig::default()).await;
    let path = upstream("ocean-ado-examples/example-mappings.yaml");
    let lint = adoport(&["lint", path.to_str().unwrap()]);
    assert_eq!(lint.status.code(), Some(0), "no errors: {}", stdout(&lint));
    let example = std::fs::read_to_string(&path).unwrap();
    let dir = config_dir(&example);
    let (out, plan) = plan_json(&fake, dir.path()).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Vec<String> = plan["creates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["blueprint"] == "file" || e["blueprint"] == "azureDevopsRepository")
        .map(|e| {
            format!(
                "{}:{}",
                e["blueprint"].as_str().unwrap_or("?"),
                e["title"].as_str().unwrap_or("?")
            )
        })
        .collect();
    for want in [
        "file:package.json",
        "file:package-lock.json",
        "file:deployment/helm/values.yaml",
        "file:docs/README.md",
        "azureDevopsRepository:/measure",
        "azureDevopsRepository:/fulfyldwms/a",
        "azureDevopsRepository:/fulfyldwms/b",
    ] {
        assert!(keys.iter().any(|k| k == want), "{want} in {keys:?}");
    }
    let file = plan["creates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["blueprint"] == "file" && e["title"] == "deployment/helm/values.yaml")
        .unwrap();
    assert_eq!(
        file["properties"]["content"]["parsed"],
        json!({"replicaCount": 1})
    );
    assert_eq!(file["relations"]["repository"], "project001/my-node-app");
}
