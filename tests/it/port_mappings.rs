//! Port's own mappings work unchanged: planned against the fake ADO server, every resource of
//! Port's default mapping (`ocean-ado-defaults/port-app-config.yaml`) and of Port's published
//! example (`ocean-ado-examples/example-mappings.yaml`, Port's documentation's per-kind
//! mappings) yields entities, and no item fails the mapping.
//!
//! Each test runs the mapping twice: through the library's one pipeline (`pipeline::load`,
//! `Pipeline::plan`), which reports every resource's counts, and through `adoport plan
//! --strict`, which fails on any item that failed the mapping.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use adoport::ado::Pat;
use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::config::ConfigSource;
use adoport::desired::ResourceStats;
use adoport::pipeline::{self, Access, Gate, Options, Pipeline, SourceSpec};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_files::add_repository;
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};

use crate::support::{stderr, stdout, upstream};

/// `OrgSpec::small()` plus the repositories Port's example names in its file and folder
/// selectors, holding the paths it asks for.
fn org_with_what_ports_example_names() -> SyntheticOrg {
    let mut org = generate(&OrgSpec::small());
    let repos: [(&str, &[(&str, &str)]); 4] = [
        (
            "my-node-app",
            &[
                ("package.json", r#"{"name": "my-node-app"}"#),
                ("package-lock.json", r#"{"lockfileVersion": 3}"#),
                ("deployment/helm/values.yaml", "replicaCount: 1\n"),
            ],
        ),
        (
            "my-react-app",
            &[
                ("package.json", r#"{"name": "my-react-app"}"#),
                ("docs/README.md", "# docs\n"),
            ],
        ),
        ("test_repo", &[("measure/index.md", "m")]),
        (
            "folder_test_repo",
            &[("fulfyldwms/a/x.md", "a"), ("fulfyldwms/b/y.md", "b")],
        ),
    ];
    for (name, files) in repos {
        add_repository(&mut org, "project001", name, files);
    }
    org
}

/// A config folder holding `mapping` unchanged as its only mapping file.
fn config_dir(mapping: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(mapping, dir.path().join("port-app-config.yaml")).unwrap();
    dir
}

/// The pipeline `adoport plan` runs, against the live source and an empty catalog: each
/// resource's counts.
fn plan_resources(fake: &FakeAdo, config: &Path) -> Vec<ResourceStats> {
    let Gate::Passed(checked) = pipeline::load(&ConfigSource::Path(config.into())).unwrap() else {
        panic!("the lint gate refused {}", config.display());
    };
    let access = Access {
        ado_org_url: Some(fake.org_url()),
        ado_pat: Some(Pat::new(fake.pat())),
        ..Access::default()
    };
    let items = pipeline::open::items(&SourceSpec::Ado, &checked.config.settings, &access).unwrap();
    let catalog = SqliteCatalog::open(config.join("catalog.sqlite"), "adoport").unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(catalog);
    let mut pipeline = Pipeline::new(items, Some(catalog), &access, Options::default()).unwrap();
    let planned = pipeline.plan(&checked).unwrap();
    assert!(planned.plan.has_changes());
    planned.summary.resources
}

/// `adoport plan --strict` against the fake server: exit 2 (changes) unless an item failed.
fn plan_cli(fake: &FakeAdo, config: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(["plan", "--strict", "--format", "json", "--source", "ado"])
        .arg("--config")
        .arg(config)
        .arg("--target")
        .arg(format!("sqlite:{}", config.join("cli.sqlite").display()))
        .env("NO_COLOR", "1")
        .env_remove("PORT_CLIENT_ID")
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat())
        .output()
        .unwrap()
}

/// Every resource planned entities, read a complete listing and had no item errors.
fn assert_every_resource_plans_entities(stats: &[ResourceStats], kinds: &[&str]) {
    let got: Vec<&str> = stats.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(got, kinds, "the mapping's resources, in order");
    for s in stats {
        let at = format!("resource {} ({})", s.index, s.kind);
        assert!(s.entities > 0, "{at}: no entities from {} items", s.items);
        assert_eq!(s.item_errors, 0, "{at}");
        assert_eq!(s.dropped, 0, "{at}");
        assert_eq!(s.incomplete, None, "{at}");
    }
}

async fn check(mapping: &str, kinds: &[&str]) {
    let fake = FakeAdo::start(org_with_what_ports_example_names(), FakeConfig::default())
        .await
        .unwrap();
    let dir = config_dir(&upstream(mapping));
    let config = dir.path().to_path_buf();
    let (stats, cli) = tokio::task::spawn_blocking(move || {
        (plan_resources(&fake, &config), plan_cli(&fake, &config))
    })
    .await
    .unwrap();
    assert_every_resource_plans_entities(&stats, kinds);
    assert_eq!(cli.status.code(), Some(2), "{}", stderr(&cli));
    // No run warning (an item that failed, an incomplete listing); the config's own lint
    // warnings are a note here (`lint` shows them, see `lint.rs`).
    assert!(!stderr(&cli).contains("warning:"), "{}", stderr(&cli));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert!(plan["summary"]["create"].as_u64() > Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resource_of_ports_example_mapping_plans_entities() {
    check(
        "ocean-ado-examples/example-mappings.yaml",
        &[
            "board",
            "column",
            "release",
            "environment",
            "release-deployment",
            "pipeline-deployment",
            "file",
            "file",
            "file",
            "folder",
            "build",
            "pipeline-stage",
            "pipeline-run",
            "iteration",
            "branch",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resource_of_ports_default_mapping_plans_entities() {
    check(
        "ocean-ado-defaults/port-app-config.yaml",
        &[
            "project",
            "repository",
            "repository-policy",
            "repository-policy",
            "board",
            "work-item",
            "column",
            "release",
        ],
    )
    .await;
}
