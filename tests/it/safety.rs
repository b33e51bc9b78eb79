//! Nothing lost: faults that once deleted data, each replayed end to end through the binary
//! against the example config repo and a copy of the example snapshot (or the Port API
//! emulator), proving what is deleted now and what is not.

use std::path::{Path, PathBuf};
use std::process::Output;

use adoport::catalog::SqliteCatalog;
use adoport::entity::Entity;
use serde_json::json;

use crate::support::{assert_exit, root, stderr, stdout};

/// The example config repo, a scratch copy of the example snapshot, and a catalog.
struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    fn new() -> Example {
        let dir = tempfile::tempdir().expect("temp dir");
        let snap = dir.path().join("snapshot");
        std::fs::create_dir_all(&snap).expect("snapshot dir");
        for entry in std::fs::read_dir(root().join("examples/ado-snapshot")).expect("example") {
            let path = entry.expect("entry").path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, snap.join(name)).expect("copy");
            }
        }
        Example { dir }
    }

    fn snapshot(&self) -> PathBuf {
        self.dir.path().join("snapshot")
    }

    fn catalog(&self) -> PathBuf {
        self.dir.path().join("catalog.sqlite")
    }

    /// Replaces the lines of one kind's file (the manifest's count is left as it was: a
    /// damaged file, not a smaller listing).
    fn damage(&self, kind: &str, lines: &[&str]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(self.snapshot().join(format!("{kind}.jsonl")), text).expect("write");
    }

    /// Lists one kind as complete and empty, as a source that suddenly has none would.
    fn empty(&self, kind: &str) {
        std::fs::write(self.snapshot().join(format!("{kind}.jsonl")), "").expect("write");
        let path = self.snapshot().join("manifest.json");
        let mut manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("manifest")).expect("json");
        manifest["kinds"][kind]["count"] = json!(0);
        std::fs::write(&path, manifest.to_string()).expect("write");
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let source = format!("snapshot:{}", self.snapshot().display());
        let target = format!("sqlite:{}", self.catalog().display());
        let mut args = vec![
            command,
            "--config",
            "examples/config-repo",
            "--source",
            &source,
            "--target",
            &target,
        ];
        args.extend_from_slice(extra);
        crate::support::adoport(&args)
    }

    fn stored(&self) -> Vec<Entity> {
        SqliteCatalog::open(self.catalog(), "adoport-example")
            .expect("open")
            .list_owned_blocking()
            .expect("list")
    }
}

/// Entities the example config repo maps from the example snapshot.
const EXAMPLE_ENTITIES: usize = 486;

fn count(entities: &[Entity], blueprint: &str) -> usize {
    entities.iter().filter(|e| e.blueprint == blueprint).count()
}

#[test]
fn items_that_are_not_objects_or_have_no_identifier_delete_nothing_of_their_kind() {
    let ex = Example::new();
    assert_exit(&ex.run("apply", &[]), 0);
    assert_eq!(ex.stored().len(), EXAMPLE_ENTITIES);
    ex.damage("work-item", &["42", "\"x\"", "[]", "null", "{}"]);
    let out = ex.run("apply", &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("0 deleted"), "{text}");
    assert!(
        stderr(&out).contains("5 of 5 items failed the mapping; the kind is incomplete"),
        "{}",
        stderr(&out)
    );
    let stored = ex.stored();
    assert_eq!(count(&stored, "azureDevopsWorkItem"), 100);
    assert!(!stored.iter().any(|e| e.identifier == "null"));
}

#[test]
fn one_kind_listed_empty_is_not_emptied_unless_allowed() {
    let ex = Example::new();
    assert_exit(&ex.run("apply", &[]), 0);
    ex.empty("advanced-security-alert");
    // 12 of 486 is under every threshold; the per-blueprint guard holds them.
    let out = ex.run("plan", &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(
            "12 deletes blocked: deleting all 12 entities of blueprint azureDevopsAdvancedSecurityAlert"
        ),
        "{text}"
    );
    assert!(
        text.contains("--allow-empty-kind advanced-security-alert"),
        "{text}"
    );
    assert_exit(&ex.run("apply", &[]), 0);
    let alerts = "azureDevopsAdvancedSecurityAlert";
    assert_eq!(count(&ex.stored(), alerts), 12);
    let out = ex.run("apply", &["--allow-empty-kind", "advanced-security-alert"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("12 deleted"), "{}", stdout(&out));
    assert_eq!(count(&ex.stored(), alerts), 0);
}

#[test]
fn another_datasources_entity_under_a_mapped_key_is_left_alone_unless_adopted() {
    let ex = Example::new();
    let theirs = {
        let mut e = Entity::new("1", "azureDevopsWorkItem");
        e.title = Some(json!("written by someone else"));
        e
    };
    let catalog = SqliteCatalog::open(ex.catalog(), "adoport-example").expect("open");
    catalog
        .seed("someone-else", std::slice::from_ref(&theirs))
        .expect("seed");
    let out = ex.run("apply", &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{} to create", EXAMPLE_ENTITIES - 1)),
        "{text}"
    );
    assert!(
        text.contains("azureDevopsWorkItem/1 (owned by someone-else)"),
        "{text}"
    );
    let all = catalog.list_all().expect("list");
    let stored = all
        .iter()
        .find(|s| s.entity.identifier == "1" && s.entity.blueprint == "azureDevopsWorkItem")
        .expect("still there");
    assert_eq!(stored.datasource, "someone-else");
    assert_eq!(stored.entity, theirs);

    let out = ex.run("apply", &["--adopt"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("1 created"), "{}", stdout(&out));
    let adopted = catalog
        .list_all()
        .expect("list")
        .into_iter()
        .find(|s| s.entity.identifier == "1" && s.entity.blueprint == "azureDevopsWorkItem")
        .expect("there");
    assert_eq!(adopted.datasource, "adoport-example");
}

/// A run whose bulk upserts all answer 500 deletes nothing (Port's emulator).
#[tokio::test]
async fn a_run_whose_writes_failed_deletes_nothing() {
    use adoport::testkit::port_emulator::{
        CLIENT_ID, CLIENT_SECRET, EmulatorOptions, Fault, PortEmulator,
    };
    let options = EmulatorOptions::default()
        .with_blueprint(json!({
            "identifier": "azureDevopsProject",
            "schema": {"properties": {"state": {"type": "string"}, "visibility": {"type": "string"}}},
            "relations": {}
        }))
        .with_blueprint(json!({
            "identifier": "service",
            "schema": {"properties": {"url": {"type": "string"}, "defaultBranch": {"type": "string"}}},
            "relations": {"project": {"target": "azureDevopsProject", "many": false}}
        }));
    let emu = PortEmulator::start(options).await.expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config");
    let mapping = std::fs::read_to_string(
        root().join("tests/fixtures/reconcile/config/port-app-config.yaml"),
    )
    .expect("mapping");
    std::fs::write(config.join("port-app-config.yaml"), &mapping).expect("write");
    let snapshot = root().join("tests/fixtures/reconcile/snapshot");
    let base_url = emu.base_url().to_owned();
    let run = move |config: &Path| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
        cmd.args(["apply", "--target"])
            .arg(format!("port:{base_url}"))
            .arg("--config")
            .arg(config)
            .arg("--source")
            .arg(format!("snapshot:{}", snapshot.display()))
            .env("PORT_CLIENT_ID", CLIENT_ID)
            .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
            .env("NO_COLOR", "1");
        cmd
    };
    let mut first = run(&config);
    let out = tokio::task::spawn_blocking(move || first.output().expect("runs"))
        .await
        .expect("joined");
    assert_exit(&out, 0);
    let before = emu.entity_count();
    assert_eq!(before, 5);

    // Every project changes and one repository is no longer mapped; every upsert fails.
    std::fs::write(
        config.join("port-app-config.yaml"),
        mapping
            .replace(
                "visibility: .visibility",
                "visibility: (.visibility + \"!\")",
            )
            .replace(
                "query: .isDisabled | not",
                "query: (.isDisabled | not) and .name != \"billing\"",
            ),
    )
    .expect("write");
    emu.inject(Fault::ServerErrorOnBulkCall {
        nth: 1,
        times: 1_000,
    });
    let mut second = run(&config);
    let out = tokio::task::spawn_blocking(move || second.output().expect("runs"))
        .await
        .expect("joined");
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("0 deleted"), "{text}");
    assert!(text.contains("1 delete skipped: writes failed"), "{text}");
    assert_eq!(emu.entity_count(), before, "nothing deleted");
    assert!(emu.entity("service", "shop/billing").is_some());
}

#[test]
fn a_second_apply_on_one_sqlite_catalog_is_refused_with_the_holders_pid() {
    use adoport::catalog::Catalog;
    let ex = Example::new();
    let catalog = SqliteCatalog::open(ex.catalog(), "adoport-example").expect("open");
    let held = catalog
        .lock_for_apply()
        .expect("the lock")
        .expect("sqlite locks");
    let out = ex.run("apply", &[]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "another apply is running on sqlite:{}",
            ex.catalog().display()
        )) && err.contains(&format!("(pid {})", std::process::id())),
        "{err}"
    );
    assert!(ex.stored().is_empty(), "nothing written");
    // `plan` reads while an apply holds the lock.
    assert_exit(&ex.run("plan", &[]), 2);
    drop(held);

    // Two applies at once: one writes everything; the other either finds nothing left to
    // do or is refused with the message above — never "database is locked".
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| ex.run("apply", &[]));
        let b = s.spawn(|| ex.run("apply", &[]));
        (a.join().expect("a"), b.join().expect("b"))
    });
    for out in [&a, &b] {
        assert!(
            !stderr(out).contains("database is locked"),
            "{}",
            stderr(out)
        );
    }
    assert!(a.status.success() || b.status.success());
    assert_eq!(ex.stored().len(), EXAMPLE_ENTITIES);
}
