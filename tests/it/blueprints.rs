//! The catalog's shape as code: a config repository's `blueprints/*.json` planned and applied
//! with the entities, against the Port API emulator (Port's blueprint API) and the SQLite
//! catalog. Relation order, field diffs in every output format, `--prune-blueprints`, the
//! SQLite migration of a file written before blueprints were stored, and a failing blueprint
//! API that must leave the catalog as it was.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::pipeline::{self, Access, Gate, Options, Pipeline};
use adoport::port::retry::RetryConfig;
use adoport::port::{Credentials, PortClient, PortClientOptions};
use adoport::reconcile::{ApplyOptions, Desired, Guards, apply, plan_catalog};
use adoport::testkit::port_emulator::{
    CLIENT_ID, CLIENT_SECRET, EmulatorOptions, Endpoint, Fault, PortEmulator,
};
use serde_json::{Value, json};

use crate::gitops::Repo;
use crate::support::{assert_exit, root, stderr, stdout};

/// The example snapshot every test maps.
fn snapshot() -> String {
    format!(
        "snapshot:{}",
        root().join("examples/ado-snapshot").display()
    )
}

/// Runs the real binary in `dir` with Port credentials for `emu`, off the runtime's threads.
async fn adoport_at(dir: &Path, args: &[&str], emu: Option<&PortEmulator>) -> Output {
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    run.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("AZURE_DEVOPS_ORG_URL")
        .env_remove("PORT_CLIENT_ID")
        .env_remove("PORT_BASE_URL");
    if let Some(emu) = emu {
        run.env("PORT_CLIENT_ID", CLIENT_ID)
            .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
            .env("PORT_BASE_URL", emu.base_url());
    }
    tokio::task::spawn_blocking(move || run.output().expect("the adoport binary runs"))
        .await
        .expect("the run finishes")
}

/// Copies a folder, following links (the example's `blueprints/` is one).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if std::fs::metadata(entry.path()).unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example config repository, copied to a temp dir that can be edited.
fn example_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples/config-repo"), dir.path());
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_against_an_empty_port_creates_the_blueprints_then_the_entities() {
    let emu = PortEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let config = root().join("examples/config-repo");
    let declared = std::fs::read_dir(config.join("blueprints"))
        .unwrap()
        .count();
    let config = config.display().to_string();
    let source = snapshot();
    let args = [
        "apply", "--config", &config, "--source", &source, "--target", "port",
    ];

    let out = adoport_at(root(), &args, Some(&emu)).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "Blueprints: {declared} to create, 0 to update, 0 to delete."
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Blueprints: {declared} created, 0 updated, 0 deleted, 0 failed."
        )),
        "{text}"
    );
    // The emulator refuses an entity of a blueprint it does not have, and a blueprint whose
    // relation target it does not have: a clean run proves both orders.
    assert_eq!(emu.blueprint_ids().len(), declared);
    assert_eq!(
        emu.responses(Endpoint::BlueprintCreate, 200),
        declared as u64
    );
    assert_eq!(emu.responses(Endpoint::BlueprintCreate, 404), 0);
    assert!(emu.entity_count() > 400, "{}", emu.entity_count());
    assert!(text.contains(", 0 failed ("), "{text}");

    // Port hands the blueprints back with its own fields: the next plan is empty.
    assert!(emu.blueprint("azureDevopsRepository").unwrap()["createdAt"].is_string());
    let plan = [
        "plan", "--config", &config, "--source", &source, "--target", "port",
    ];
    let again = adoport_at(root(), &plan, Some(&emu)).await;
    assert_exit(&again, 0);
    assert!(
        stdout(&again).starts_with("No changes"),
        "{}",
        stdout(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_blueprint_property_is_a_field_diff_in_text_markdown_and_json() {
    let emu = PortEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let dir = example_config();
    let config = dir.path().display().to_string();
    let source = snapshot();
    let run = |verb: &'static str, format: &'static str| {
        let (config, source) = (config.clone(), source.clone());
        let emu = &emu;
        async move {
            let args = [
                verb, "--config", &config, "--source", &source, "--target", "port", "--format",
                format,
            ];
            adoport_at(root(), &args, Some(emu)).await
        }
    };
    assert_exit(&run("apply", "text").await, 0);

    let file = dir.path().join("blueprints/azureDevopsRepository.json");
    let mut doc = read_json(&file);
    doc["schema"]["properties"]["size"]["title"] = json!("Size in bytes");
    write_json(&file, &doc);

    let text = run("plan", "text").await;
    assert_exit(&text, 2);
    let text = stdout(&text);
    assert!(
        text.contains("0 to create, 0 to update, 0 to delete"),
        "{text}"
    );
    assert!(
        text.contains("Blueprints: 0 to create, 1 to update, 0 to delete."),
        "{text}"
    );
    assert!(
        text.contains("~ blueprint azureDevopsRepository\n"),
        "{text}"
    );
    assert!(
        text.contains(r#"      schema.properties.size: {"title":"Size","#),
        "{text}"
    );
    assert!(text.contains(r#"→ {"title":"Size in bytes","#), "{text}");

    let markdown = stdout(&run("plan", "markdown").await);
    assert!(
        markdown.contains("<b>Blueprints</b>: 0 create, 1 update, 0 delete"),
        "{markdown}"
    );
    assert!(
        markdown.contains("! blueprint azureDevopsRepository\n!     schema.properties.size: "),
        "{markdown}"
    );

    let json: Value = serde_json::from_str(&stdout(&run("plan", "json").await)).unwrap();
    let update = &json["blueprints"]["updates"][0];
    assert_eq!(update["identifier"], "azureDevopsRepository");
    assert_eq!(update["changes"].as_array().unwrap().len(), 1, "{update}");
    assert_eq!(update["changes"][0]["field"], "schema.properties.size");
    assert_eq!(update["changes"][0]["before"]["title"], "Size");
    assert_eq!(update["changes"][0]["after"]["title"], "Size in bytes");
    assert_eq!(json["summary"]["blueprintUpdate"], 1);

    let applied = run("apply", "text").await;
    assert_exit(&applied, 0);
    assert!(
        stdout(&applied).contains("Blueprints: 0 created, 1 updated"),
        "{}",
        stdout(&applied)
    );
    let stored = emu.blueprint("azureDevopsRepository").unwrap();
    assert_eq!(
        stored["schema"]["properties"]["size"]["title"],
        "Size in bytes"
    );
    assert_exit(&run("plan", "text").await, 0);
}

/// A small config repository: projects and repositories, a repository relating to its
/// project, each with its blueprint.
fn small_config(repo: &Repo, with_repositories: bool) {
    let project = json!({
        "identifier": "project", "title": "Project",
        "schema": {"properties": {"state": {"type": "string", "title": "State"}}, "required": []},
        "relations": {}
    });
    let repository = json!({
        "identifier": "repo", "title": "Repository",
        "schema": {"properties": {"size": {"type": "number", "title": "Size"}}, "required": []},
        "relations": {"project": {"title": "Project", "target": "project", "many": false, "required": false}}
    });
    let mut mapping = String::from(
        "entityDeletionThreshold: 1\nresources:\n  - kind: project\n    selector: {query: 'true'}\n    port:\n      entity:\n        mappings: {identifier: .id, title: .name, blueprint: '\"project\"', properties: {state: .state}}\n",
    );
    repo.write("blueprints/project.json", &project.to_string());
    if with_repositories {
        mapping.push_str("  - kind: repository\n    selector: {query: 'true'}\n    port:\n      entity:\n        mappings: {identifier: .id, title: .name, blueprint: '\"repo\"', properties: {size: .size}, relations: {project: .project.id}}\n");
        repo.write("blueprints/repo.json", &repository.to_string());
    } else {
        let _ = std::fs::remove_file(repo.path().join("blueprints/repo.json"));
    }
    repo.write("port-app-config.yaml", &mapping);
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_blueprints_deletes_only_a_blueprint_the_config_once_declared_and_only_when_asked() {
    let emu = PortEmulator::start(EmulatorOptions::default().with_blueprint(json!({
        "identifier": "madeInTheUi", "title": "Made in Port's UI",
        "schema": {"properties": {}}
    })))
    .await
    .unwrap();
    let repo = Repo::new();
    small_config(&repo, true);
    repo.commit("projects and repositories");
    let source = snapshot();
    let run = |extra: &'static [&'static str]| {
        let source = source.clone();
        let (dir, emu) = (repo.path(), &emu);
        async move {
            let mut args = vec![
                "apply", "--config", ".", "--source", &source, "--target", "port",
            ];
            args.extend(extra);
            adoport_at(dir, &args, Some(emu)).await
        }
    };
    assert_exit(&run(&[]).await, 0);
    assert_eq!(emu.blueprint_ids(), ["madeInTheUi", "project", "repo"]);

    small_config(&repo, false);
    repo.commit("repositories are no longer synced");

    // Without the flag: the repositories go, their blueprint stays.
    let plain = run(&[]).await;
    assert_exit(&plain, 0);
    assert!(
        stdout(&plain).contains(", 6 deleted, 0 failed"),
        "{}",
        stdout(&plain)
    );
    assert!(
        !stdout(&plain).contains("blueprint repo"),
        "{}",
        stdout(&plain)
    );
    assert_eq!(emu.blueprint_ids(), ["madeInTheUi", "project", "repo"]);

    // The plan with the flag shows the delete; the apply makes it. A blueprint the config
    // never declared stays.
    let source2 = source.clone();
    let plan = adoport_at(
        repo.path(),
        &[
            "plan",
            "--config",
            ".",
            "--source",
            &source2,
            "--target",
            "port",
            "--prune-blueprints",
        ],
        Some(&emu),
    )
    .await;
    assert_exit(&plan, 2);
    assert!(
        stdout(&plan).contains("Blueprints: 0 to create, 0 to update, 1 to delete."),
        "{}",
        stdout(&plan)
    );
    assert!(
        stdout(&plan).contains("- blueprint repo\n"),
        "{}",
        stdout(&plan)
    );
    let pruned = run(&["--prune-blueprints"]).await;
    assert_exit(&pruned, 0);
    assert!(
        stdout(&pruned).contains("Blueprints: 0 created, 0 updated, 1 deleted, 0 failed."),
        "{}",
        stdout(&pruned)
    );
    assert_eq!(emu.blueprint_ids(), ["madeInTheUi", "project"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blueprint_is_not_pruned_while_entities_of_it_remain_or_without_a_history() {
    let emu = PortEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let repo = Repo::new();
    small_config(&repo, true);
    repo.commit("projects and repositories");
    let source = snapshot();
    let apply = |dir: std::path::PathBuf, extra: &'static [&'static str]| {
        let (source, emu) = (source.clone(), &emu);
        async move {
            let mut args = vec![
                "apply", "--config", ".", "--source", &source, "--target", "port",
            ];
            args.extend(extra);
            adoport_at(&dir, &args, Some(emu)).await
        }
    };
    assert_exit(&apply(repo.path().to_path_buf(), &[]).await, 0);
    // Another writer's entity of the blueprint: Port refuses the blueprint's delete, and
    // the entity is never deleted to make room.
    emu.seed(
        "repo",
        json!({"identifier": "theirs", "title": "Theirs"}),
        "someone-else",
    )
    .unwrap();
    small_config(&repo, false);
    repo.commit("repositories are no longer synced");
    let out = apply(repo.path().to_path_buf(), &["--prune-blueprints"]).await;
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("✗ delete blueprint repo"),
        "{}",
        stdout(&out)
    );
    assert!(emu.entity("repo", "theirs").is_some());
    assert!(emu.blueprint_ids().contains(&"repo".to_owned()));

    // The same config outside git: which blueprints it once declared is unknown.
    let loose = tempfile::tempdir().unwrap();
    copy_dir(repo.path(), loose.path());
    std::fs::remove_dir_all(loose.path().join(".git")).unwrap();
    let out = apply(loose.path().to_path_buf(), &["--prune-blueprints"]).await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("no blueprint is deleted"),
        "{}",
        stdout(&out)
    );
    assert!(emu.blueprint_ids().contains(&"repo".to_owned()));
}

/// A Port client for the emulator with short retries, for the library-level tests.
fn port_client(emu: &PortEmulator) -> PortClient {
    let mut o = PortClientOptions::new(Credentials::new(CLIENT_ID, CLIENT_SECRET), "adoport")
        .with_base_url(emu.base_url());
    o.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_wait: Duration::from_millis(20),
    };
    PortClient::new(o).unwrap()
}

fn blueprint(id: &str, targets: &[&str]) -> Value {
    let relations: serde_json::Map<String, Value> = targets
        .iter()
        .map(|t| {
            (
                format!("to_{t}"),
                json!({"title": t, "target": t, "many": false, "required": false}),
            )
        })
        .collect();
    json!({"identifier": id, "title": id, "schema": {"properties": {}}, "relations": relations})
}

#[tokio::test]
async fn blueprints_are_written_in_relation_order_and_a_cycle_is_completed_after_creation() {
    let emu = PortEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let port = port_client(&emu);
    let declared = [
        blueprint("workItem", &["repo", "team"]),
        blueprint("repo", &["project"]),
        blueprint("project", &["team"]),
        blueprint("team", &["project"]),
    ];
    let desired = Desired {
        blueprints: declared
            .iter()
            .map(|d| (d["identifier"].as_str().unwrap().to_owned(), d.clone()))
            .collect(),
        ..Desired::default()
    };
    let plan = plan_catalog(desired.clone(), &port, &Guards::default())
        .await
        .unwrap();
    let order: Vec<(&str, bool)> = plan
        .blueprints
        .creates
        .iter()
        .map(|c| (c.identifier.as_str(), c.relations_after))
        .collect();
    assert_eq!(
        order,
        [
            ("project", true),
            ("team", true),
            ("repo", false),
            ("workItem", false)
        ]
    );
    assert_eq!(
        plan.blueprints.cycles,
        vec![vec!["project".to_owned(), "team".to_owned()]]
    );
    let report = apply(&plan, &port, ApplyOptions::default()).await;
    assert!(report.is_success(), "{:#?}", report.blueprint_failures);
    for doc in &declared {
        let id = doc["identifier"].as_str().unwrap();
        assert_eq!(
            emu.blueprint(id).unwrap()["relations"],
            doc["relations"],
            "{id}"
        );
    }
    let again = plan_catalog(desired, &port, &Guards::default())
        .await
        .unwrap();
    assert!(!again.has_changes(), "{:#?}", again.blueprints);
}

#[tokio::test]
async fn the_delete_guard_takes_relation_targets_from_ports_blueprints() {
    // The config repository has no blueprints/: only Port knows that `repo.project`
    // points at `project`, so an owned `repo` entity sharing the identifier is deleted.
    let emu = PortEmulator::start(
        EmulatorOptions::default()
            .with_blueprint(blueprint("project", &[]))
            .with_blueprint(
                json!({"identifier": "repo", "title": "repo", "schema": {"properties": {}},
                "relations": {"project": {"target": "project", "many": false, "required": false}}}),
            ),
    )
    .await
    .unwrap();
    let port = port_client(&emu);
    let entity = |bp: &str, id: &str, rel: Option<&str>| {
        let mut e = adoport::entity::Entity::new(id, bp);
        if let Some(target) = rel {
            e.relations.insert("project".into(), json!(target));
        }
        e
    };
    let everything = Desired {
        entities: vec![
            entity("project", "p1", None),
            entity("repo", "p1", Some("p1")),
            entity("repo", "r2", Some("p1")),
        ],
        ..Desired::default()
    };
    let guards = Guards {
        deletion_threshold: 1.0,
        ..Guards::default()
    };
    let first = plan_catalog(everything, &port, &guards).await.unwrap();
    assert!(
        apply(&first, &port, ApplyOptions::default())
            .await
            .is_success()
    );
    // `repo/p1` is no longer mapped; `repo/r2` still points at project p1.
    let next = Desired {
        entities: vec![
            entity("project", "p1", None),
            entity("repo", "r2", Some("p1")),
        ],
        ..Desired::default()
    };
    let plan = plan_catalog(next, &port, &guards).await.unwrap();
    assert_eq!(plan.deletes.len(), 1, "{:#?}", plan.blocked);
    assert_eq!(plan.deletes[0].key().to_string(), "repo/p1");
    assert!(plan.blocked.is_empty(), "{:#?}", plan.blocked);
}

/// A pipeline over the example snapshot against `catalog`.
fn example_pipeline(catalog: Arc<dyn Catalog>, options: Options) -> Pipeline {
    let source: pipeline::SourceSpec = snapshot().parse().unwrap();
    let access = Access::default();
    let items = pipeline::open::items(&source, &Default::default(), &access).unwrap();
    Pipeline::new(items, Some(catalog), &access, options).unwrap()
}

fn checked(dir: &Path) -> pipeline::Checked {
    match pipeline::load(&adoport::config::ConfigSource::Path(dir.to_path_buf())).unwrap() {
        Gate::Passed(c) => *c,
        Gate::Refused(l) => panic!("refused: {:?}", l.diagnostics),
    }
}

/// Port's blueprint API answering 500: a plan that cannot list the blueprints fails (nothing
/// is written), and an apply whose blueprint write fails deletes nothing.
#[test]
fn a_failing_blueprint_api_fails_the_run_safely_and_deletes_nothing() {
    // The emulator runs on its own runtime; the pipeline blocks on another.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emu = runtime
        .block_on(PortEmulator::start(EmulatorOptions::default()))
        .unwrap();
    let port: Arc<dyn Catalog> = Arc::new(runtime.block_on(async { port_client(&emu) }));
    let dir = example_config();
    let mut pipeline = example_pipeline(Arc::clone(&port), Options::default());
    let planned = pipeline.plan(&checked(dir.path())).unwrap();
    assert!(pipeline.apply(&planned).unwrap().is_success());
    let entities = emu.entity_count();

    // The boards are no longer mapped (their entities would be deleted), and a blueprint
    // property changed (a blueprint update).
    std::fs::remove_file(dir.path().join("mappings/40-boards.yaml")).unwrap();
    let file = dir.path().join("blueprints/azureDevopsProject.json");
    let mut doc = read_json(&file);
    doc["title"] = json!("Project (Azure DevOps)");
    write_json(&file, &doc);
    let next = checked(dir.path());

    emu.inject(Fault::BlueprintApiStatus(500));
    let err = pipeline
        .plan(&next)
        .expect_err("the plan cannot list the blueprints");
    let text = adoport::http::error_chain(&err);
    assert!(text.contains("could not read the catalog"), "{text}");
    assert!(text.contains("500"), "{text}");
    assert_eq!(emu.entity_count(), entities);

    emu.clear_faults();
    let planned = pipeline.plan(&next).unwrap();
    assert!(!planned.plan.deletes.is_empty());
    assert_eq!(planned.plan.summary.blueprint_update, 1);
    emu.inject(Fault::BlueprintApiStatus(503));
    let report = pipeline.apply(&planned).unwrap();
    assert!(!report.is_success());
    assert_eq!(
        report.blueprint_failures.len(),
        1,
        "{:#?}",
        report.blueprint_failures
    );
    assert_eq!(report.deleted, 0);
    assert_eq!(report.skipped_deletes, planned.plan.deletes.len());
    assert_eq!(emu.entity_count(), entities);
    assert_eq!(
        emu.blueprint("azureDevopsProject").unwrap()["title"],
        "Azure DevOps Project"
    );
}

#[test]
fn blueprints_round_trip_through_the_sqlite_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.sqlite");
    let target = format!("sqlite:{}", file.display());
    let config = root().join("examples/config-repo").display().to_string();
    let source = snapshot();
    let args = [
        "apply", "--config", &config, "--source", &source, "--target", &target,
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let out = runtime.block_on(adoport_at(root(), &args, None));
    assert_exit(&out, 0);
    let declared: std::collections::BTreeMap<String, Value> =
        std::fs::read_dir(root().join("examples/config-repo/blueprints"))
            .unwrap()
            .map(|f| {
                let doc = read_json(&f.unwrap().path());
                (doc["identifier"].as_str().unwrap().to_owned(), doc)
            })
            .collect();
    let catalog = SqliteCatalog::open(&file, "adoport-example").unwrap();
    let stored = runtime.block_on(catalog.list_blueprints()).unwrap();
    assert_eq!(stored.len(), declared.len());
    for doc in &stored {
        assert_eq!(doc, &declared[doc["identifier"].as_str().unwrap()]);
    }
    let plan = [
        "plan", "--config", &config, "--source", &source, "--target", &target,
    ];
    let again = runtime.block_on(adoport_at(root(), &plan, None));
    assert_exit(&again, 0);
}

/// The catalog file as the first released schema wrote it (version 1: entities and runs).
const SCHEMA_V1: &str = "CREATE TABLE entities (
        blueprint TEXT NOT NULL, identifier TEXT NOT NULL, title TEXT, icon TEXT, team TEXT,
        properties TEXT NOT NULL DEFAULT '{}', relations TEXT NOT NULL DEFAULT '{}',
        datasource TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (blueprint, identifier)
    ) WITHOUT ROWID;
    CREATE INDEX entities_by_datasource ON entities (datasource, blueprint, identifier);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, finished_at TEXT NOT NULL, datasource TEXT NOT NULL,
        mapping_revision TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,
        deleted INTEGER NOT NULL, failed INTEGER NOT NULL, blocked_deletes INTEGER NOT NULL,
        unchanged INTEGER NOT NULL
    );
    PRAGMA user_version = 1;";

#[test]
fn a_catalog_file_written_before_blueprints_were_stored_is_migrated_and_keeps_its_entities() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.sqlite");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute(
            "INSERT INTO entities VALUES ('azureDevopsProject', 'kept-from-v1', '\"Old\"', NULL,
             NULL, '{}', '{}', 'someone-else', '2024-01-01T00:00:00.000Z',
             '2024-01-01T00:00:00.000Z')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO runs (finished_at, datasource, created, updated, deleted, failed,
             blocked_deletes, unchanged) VALUES ('2024-01-01T00:00:00.000Z', 'x', 1, 0, 0, 0, 0, 0)",
            [],
        )
        .unwrap();
    }
    let target = format!("sqlite:{}", file.display());
    let config = root().join("examples/config-repo").display().to_string();
    let source = snapshot();
    let args = [
        "apply", "--config", &config, "--source", &source, "--target", &target,
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let out = runtime.block_on(adoport_at(root(), &args, None));
    assert_exit(&out, 0);
    assert!(
        stderr(&out).is_empty() || !stderr(&out).contains("error"),
        "{}",
        stderr(&out)
    );

    let conn = rusqlite::Connection::open(&file).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let catalog = SqliteCatalog::open(&file, "adoport-example").unwrap();
    let all = catalog.list_all().unwrap();
    let old = all
        .iter()
        .find(|s| s.entity.identifier == "kept-from-v1")
        .expect("the v1 entity is still there");
    assert_eq!(old.datasource, "someone-else");
    assert_eq!(catalog.runs().unwrap().len(), 2);
    assert!(
        !runtime
            .block_on(catalog.list_blueprints())
            .unwrap()
            .is_empty()
    );
}
