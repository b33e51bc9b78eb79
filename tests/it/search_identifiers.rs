//! Search-query identifiers (an entity mapped with `identifier: {combinator, rules}` names an
//! existing entity), end to end through the real binary. On the SQLite target the query is
//! resolved against the catalog when planning: one match is planned as that entity; none,
//! several or an operator the catalog cannot evaluate is an item error shown with its item
//! and query, its kind incomplete so nothing of it is deleted. On the `port` target (the
//! Port emulator) the entity is sent with the query as its identifier, and Port resolves it.
//! A live event's scoped plan resolves them the same way.
//!
//! The scene: three repositories become `service` entities (r1 checkout and r2 billing of
//! project shop, r3 terraform of project infra). Then a second mapping stops writing r1
//! directly and maps each project to the service its `leadRepo` names, by search query.

use std::path::PathBuf;
use std::process::Output;

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator};
use serde_json::{Value, json};

use crate::support::{assert_exit, root, stderr, stdout};

/// The mapping that creates the services.
const SERVICES: &str = r#"
  - kind: repository
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"service"'
          properties:
            project: .project.name
"#;

/// The services again without checkout, and the projects' owners written onto their lead
/// repository's service, found by the search rule `RULE`.
const BY_SEARCH: &str = r#"
  - kind: repository
    selector:
      query: .name != "checkout"
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"service"'
          properties:
            project: .project.name
  - kind: project
    selector:
      query: .name == "shop"
    port:
      entity:
        mappings:
          identifier:
            combinator: '"and"'
            rules:
              - RULE
          blueprint: '"service"'
          properties:
            owner: .owner
"#;

/// Port's documented example: the entity whose title equals a field of the item.
const BY_TITLE: &str = r#"{property: '"$title"', operator: '"="', value: .leadRepo}"#;

/// A temp dir with a snapshot, a config folder, and a SQLite catalog path.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new(lead_repo: &str) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("snapshot");
        std::fs::create_dir_all(&snapshot).unwrap();
        let repo = |id: &str, name: &str, project: &str| json!({"id": id, "name": name, "project": {"id": format!("p-{project}"), "name": project}});
        let repos = [
            repo("r1", "checkout", "shop"),
            repo("r2", "billing", "shop"),
            repo("r3", "terraform", "infra"),
        ];
        let projects = [
            json!({"id": "p-shop", "name": "shop", "leadRepo": lead_repo, "owner": "team-shop"}),
            json!({"id": "p-infra", "name": "infra", "leadRepo": "terraform", "owner": "team-infra"}),
        ];
        let lines = |items: &[Value]| items.iter().map(|i| format!("{i}\n")).collect::<String>();
        std::fs::write(snapshot.join("repository.jsonl"), lines(&repos)).unwrap();
        std::fs::write(snapshot.join("project.jsonl"), lines(&projects)).unwrap();
        let manifest = json!({
            "version": 1,
            "organization": "https://dev.azure.com/acme",
            "fetched_at": "2026-12-01T07:00:00Z",
            "kinds": {
                "repository": {"count": 3, "complete": true, "error": null},
                "project": {"count": 2, "complete": true, "error": null}
            }
        });
        std::fs::write(snapshot.join("manifest.json"), manifest.to_string()).unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let scene = Scene { dir };
        scene.map(SERVICES);
        scene
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn catalog(&self) -> PathBuf {
        self.dir.path().join("catalog.sqlite")
    }

    /// Writes the mapping with `resources`.
    fn map(&self, resources: &str) {
        let text = format!(
            "deleteDependentEntities: true\ncreateMissingRelatedEntities: true\n\
             enableMergeEntity: true\nresources:{resources}"
        );
        std::fs::write(self.config().join("port-app-config.yaml"), text).unwrap();
    }

    /// Switches to the mapping that finds the lead repository's service by `rule`.
    fn search_by(&self, rule: &str) {
        self.map(&BY_SEARCH.replace("RULE", rule));
    }

    /// Runs `adoport VERB` over the scene against `target`, with Port credentials for `emu`.
    async fn run(
        &self,
        verb: &str,
        target: &str,
        extra: &[&str],
        emu: Option<&PortEmulator>,
    ) -> Output {
        let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
        run.arg(verb)
            .arg("--config")
            .arg(self.config())
            .arg("--source")
            .arg(format!(
                "snapshot:{}",
                self.dir.path().join("snapshot").display()
            ))
            .arg("--target")
            .arg(target)
            .args(extra)
            .current_dir(root())
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

    async fn sqlite(&self, verb: &str, extra: &[&str]) -> Output {
        let target = format!("sqlite:{}", self.catalog().display());
        self.run(verb, &target, extra, None).await
    }

    /// The SQLite catalog's entities, by identifier.
    async fn stored(&self) -> Vec<(String, Value)> {
        let catalog = SqliteCatalog::open(self.catalog(), "adoport").unwrap();
        let mut all: Vec<(String, Value)> = catalog
            .list_owned()
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.identifier.clone(), serde_json::to_value(e).unwrap()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let e = e.get("entity").unwrap_or(e);
            format!(
                "{}/{}",
                e["blueprint"].as_str().unwrap(),
                e["identifier"].as_str().unwrap()
            )
        })
        .collect()
}

/// The scene's services applied to a fresh SQLite catalog, then the search mapping with `rule`.
async fn sqlite_scene(lead_repo: &str, rule: &str) -> Scene {
    let scene = Scene::new(lead_repo);
    assert_exit(&scene.sqlite("apply", &[]).await, 0);
    assert_eq!(scene.stored().await.len(), 3);
    scene.search_by(rule);
    scene
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sqlite_a_search_identifier_resolves_to_the_one_entity_it_matches_and_updates_it() {
    let scene = sqlite_scene("checkout", BY_TITLE).await;

    let plan = scene.sqlite("plan", &["--format", "json"]).await;
    assert_exit(&plan, 2);
    let plan = json_of(&plan);
    // Planned like any entity, under the identifier it resolved to: r1 is updated (merge
    // on: only the mapped property is compared), not deleted, and nothing is left to send.
    assert_eq!(ids(&plan["updates"]), ["service/r1"], "{plan:#}");
    assert_eq!(
        plan["updates"][0]["changes"],
        json!([{"field": "property", "key": "owner", "before": null, "after": "team-shop"}])
    );
    assert_eq!(plan["deletes"], json!([]));
    assert_eq!(plan["searched"], json!([]));
    assert_eq!(plan["searchErrors"], json!([]));

    let apply = scene.sqlite("apply", &[]).await;
    assert_exit(&apply, 0);
    let stored = scene.stored().await;
    let r1 = &stored[0].1;
    assert_eq!(stored[0].0, "r1");
    assert_eq!(r1["title"], "checkout");
    assert_eq!(
        r1["properties"],
        json!({"project": "shop", "owner": "team-shop"})
    );
    assert_eq!(stored.len(), 3);

    let again = scene.sqlite("plan", &[]).await;
    assert_exit(&again, 0);
    assert!(
        stdout(&again).starts_with("No changes"),
        "{}",
        stdout(&again)
    );
}

/// Plans and applies the search mapping with `rule`, expecting it to fail for project shop
/// with a message containing `why`: an item error in the plan (text and JSON) naming the
/// item and the query, the project kind incomplete, so the service r1 — written no more —
/// is not deleted; exit 0 (nothing else changes), 1 with `--strict`.
async fn a_failed_search_is_an_item_error_that_deletes_nothing(
    lead_repo: &str,
    rule: &str,
    why: &str,
) {
    let scene = sqlite_scene(lead_repo, rule).await;

    let plan = scene.sqlite("plan", &["--format", "json"]).await;
    assert_exit(&plan, 0);
    let plan = json_of(&plan);
    let errors = plan["searchErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{plan:#}");
    assert_eq!(errors[0]["kind"], "project");
    assert_eq!(errors[0]["item"], "p-shop");
    assert_eq!(errors[0]["blueprint"], "service");
    assert_eq!(errors[0]["query"]["combinator"], "and");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(why),
        "{:#}",
        errors[0]
    );
    assert_eq!(plan["summary"]["searchError"], 1);
    assert_eq!(plan["deletes"], json!([]));
    let blocked = &plan["blocked"][0];
    assert_eq!(blocked["reason"], "incompleteKind", "{plan:#}");
    assert_eq!(
        blocked["entities"],
        json!([{"blueprint": "service", "identifier": "r1"}])
    );

    let text = scene.sqlite("plan", &[]).await;
    assert_exit(&text, 0);
    let out = stdout(&text);
    assert!(
        out.contains("1 search identifier did not resolve to exactly one entity"),
        "{out}"
    );
    assert!(out.contains("(kind project, item p-shop)"), "{out}");
    assert!(out.contains(r#"{"combinator":"and","rules":[{"#), "{out}");
    assert!(out.contains(why), "{out}");
    assert!(
        stderr(&text).contains("1 search identifier did not resolve"),
        "{}",
        stderr(&text)
    );

    let strict = scene.sqlite("plan", &["--strict"]).await;
    assert_exit(&strict, 1);

    let apply = scene.sqlite("apply", &[]).await;
    assert_exit(&apply, 0);
    let stored = scene.stored().await;
    assert_eq!(stored.len(), 3, "nothing of the kind is deleted");
    assert_eq!(stored[0].0, "r1");
    assert!(stored[0].1["properties"].get("owner").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sqlite_a_search_identifier_that_matches_nothing_is_an_item_error() {
    a_failed_search_is_an_item_error_that_deletes_nothing(
        "nothing",
        BY_TITLE,
        "matched no entity of blueprint service",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sqlite_a_search_identifier_that_matches_two_entities_is_an_item_error() {
    a_failed_search_is_an_item_error_that_deletes_nothing(
        "checkout",
        r#"{property: '"project"', operator: '"="', value: .name}"#,
        "matched 2 entities of blueprint service (r1, r2); it must match exactly one",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sqlite_a_search_operator_the_catalog_cannot_evaluate_is_an_item_error() {
    a_failed_search_is_an_item_error_that_deletes_nothing(
        "checkout",
        r#"{property: '"$title"', operator: '"between"', value: .leadRepo}"#,
        r#"search operator "between" is not supported"#,
    )
    .await;
}

/// A Port emulator with the `service` blueprint, the scene's services applied to it.
async fn port_scene(lead_repo: &str) -> (Scene, PortEmulator) {
    let emu = PortEmulator::start(EmulatorOptions::default().with_blueprint(json!({
        "identifier": "service",
        "title": "Service",
        "schema": {"properties": {
            "project": {"type": "string"},
            "owner": {"type": "string"}
        }},
        "relations": {}
    })))
    .await
    .unwrap();
    let scene = Scene::new(lead_repo);
    assert_exit(&scene.run("apply", "port", &[], Some(&emu)).await, 0);
    assert_eq!(emu.entity_count(), 3);
    scene.search_by(BY_TITLE);
    (scene, emu)
}

#[tokio::test(flavor = "multi_thread")]
async fn on_port_the_query_is_sent_as_the_identifier_and_port_resolves_it() {
    let (scene, emu) = port_scene("checkout").await;
    let query = json!({"combinator": "and", "rules": [
        {"property": "$title", "operator": "=", "value": "checkout"}
    ]});

    let plan = scene
        .run("plan", "port", &["--format", "json"], Some(&emu))
        .await;
    assert_exit(&plan, 2);
    let plan = json_of(&plan);
    assert_eq!(plan["searched"][0]["document"]["identifier"], query);
    assert_eq!(plan["searched"][0]["item"], "p-shop");
    assert_eq!(plan["summary"]["searched"], 1);
    // Port resolves the query only on write, so r1 (written directly no more) is listed
    // for deletion; apply keeps what the query resolved to.
    assert_eq!(ids(&plan["deletes"]), ["service/r1"]);

    let apply = scene.run("apply", "port", &[], Some(&emu)).await;
    assert_exit(&apply, 0);
    let out = stdout(&apply);
    assert!(
        out.contains(r#"~ service {"combinator":"and","rules":[{"property":"$title","operator":"=","value":"checkout"}]}"#),
        "{out}"
    );
    assert!(
        out.contains("1 delete not made: a search identifier of this run resolved to the entity"),
        "{out}"
    );
    // The body carried the query itself; the emulator resolved it to r1 and wrote it there.
    assert_eq!(emu.search_identifiers_received(), [query]);
    let r1 = emu.entity("service", "r1").expect("r1 is kept");
    assert_eq!(r1["title"], "checkout");
    assert_eq!(r1["properties"]["owner"], "team-shop");
    assert_eq!(r1["properties"]["project"], "shop");
    assert_eq!(emu.entity_count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_port_a_search_identifier_port_cannot_resolve_fails_the_apply_and_deletes_nothing() {
    let (scene, emu) = port_scene("nothing").await;

    let apply = scene.run("apply", "port", &[], Some(&emu)).await;
    assert_exit(&apply, 1);
    let out = stdout(&apply);
    assert!(
        out.contains(r#"✗ upsert service/{"combinator":"and","rules":[{"property":"$title","operator":"=","value":"nothing"}]}: 404 not_found"#),
        "{out}"
    );
    assert!(out.contains("1 delete skipped: writes failed"), "{out}");
    assert_eq!(emu.search_identifiers_received().len(), 1);
    assert!(emu.entity("service", "r1").is_some());
    assert_eq!(emu.entity_count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_events_scoped_plan_resolves_search_identifiers_as_a_full_plan_does() {
    use adoport::catalog::WriteOptions;
    use adoport::entity::Entity;
    use adoport::reconcile::{Desired, Guards, KindBlueprints, plan_keys};
    use adoport::search::SearchedEntity;

    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(dir.path().join("catalog.sqlite"), "adoport").unwrap();
    let service = |id: &str, title: &str| {
        let mut e = Entity::new(id, "service");
        e.title = Some(json!(title));
        e
    };
    let written = catalog
        .upsert(
            "service",
            &[service("r1", "checkout"), service("r2", "billing")],
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert!(written.iter().all(|o| o.result.is_ok()));
    let searched = |item: &str, title: &str| {
        SearchedEntity::from_mapped(
            "project",
            item.to_owned(),
            json!({
                "identifier": {"combinator": "and", "rules": [
                    {"property": "$title", "operator": "=", "value": title}
                ]},
                "blueprint": "service",
                "properties": {"owner": item}
            }),
        )
        .unwrap()
    };
    let desired = Desired {
        searched: vec![
            searched("p-shop", "checkout"),
            searched("p-gone", "nothing"),
        ],
        kinds: [(
            "project".to_owned(),
            KindBlueprints::Known(["service".to_owned()].into()),
        )]
        .into(),
        ..Desired::default()
    };
    // r2 is a candidate (as if its item were gone): the failed search holds its delete.
    let r2 = service("r2", "billing").key();
    let plan = plan_keys(
        desired,
        std::slice::from_ref(&r2),
        &catalog,
        &Guards::default(),
    )
    .await
    .unwrap();
    assert_eq!(plan.updates.len(), 1, "{plan:#?}");
    assert_eq!(plan.updates[0].entity.identifier, "r1");
    assert_eq!(plan.updates[0].entity.properties["owner"], "p-shop");
    assert_eq!(plan.search_errors.len(), 1);
    assert_eq!(plan.search_errors[0].item, "p-gone");
    assert!(plan.deletes.is_empty(), "{plan:#?}");
    assert!(
        plan.blocked.iter().any(|b| b.entities.contains(&r2)),
        "{plan:#?}"
    );
}
