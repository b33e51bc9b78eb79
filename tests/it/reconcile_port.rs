//! The reconciler against the Port API emulator through the real Port client: the plan's
//! comparison rules (null = absent, numbers by value, team as a set) converge against what
//! Port hands back, and another datasource's entities stay untouched.

use std::time::Duration;

use adoport::catalog::{Catalog, WriteOptions};
use adoport::entity::Entity;
use adoport::port::retry::RetryConfig;
use adoport::port::{Credentials, PortClient, PortClientOptions};
use adoport::reconcile::{ApplyOptions, Desired, Guards, apply, plan_catalog};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator};
use serde_json::json;

const BLUEPRINTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/port_client/blueprints.json"
);

async fn setup() -> (PortEmulator, PortClient) {
    let options = EmulatorOptions::default()
        .with_blueprint_file(BLUEPRINTS)
        .expect("the fixture blueprints load");
    let emu = PortEmulator::start(options).await.expect("emulator starts");
    let mut o = PortClientOptions::new(Credentials::new(CLIENT_ID, CLIENT_SECRET), "adoport")
        .with_base_url(emu.base_url());
    o.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        max_wait: Duration::from_millis(50),
    };
    let client = PortClient::new(o).expect("client builds");
    (emu, client)
}

fn desired(merge: bool) -> Desired {
    let mut entities = Vec::new();
    for i in 0..45 {
        let mut s = Entity::new(format!("svc-{i:02}"), "service");
        s.title = Some(json!(format!("Service {i}")));
        s.team = Some(if i % 2 == 0 {
            json!("platform")
        } else {
            json!(["b", "a"])
        });
        s.properties.insert("stars".into(), json!(i as f64));
        s.properties.insert("tier".into(), json!("gold"));
        s.properties.insert("notes".into(), json!(null));
        s.relations
            .insert("owner".into(), json!(format!("g{}", i % 3)));
        entities.push(s);
    }
    for g in 0..3 {
        let mut e = Entity::new(format!("g{g}"), "group");
        e.title = Some(json!(null));
        entities.push(e);
    }
    Desired {
        entities,
        options: WriteOptions {
            merge,
            ..WriteOptions::default()
        },
        ..Desired::default()
    }
}

#[tokio::test]
async fn apply_then_plan_is_empty_against_port_in_merge_and_replace_modes() {
    for merge in [true, false] {
        let (_emu, port) = setup().await;
        let guards = Guards::default();
        let first = plan_catalog(desired(merge), &port, &guards).await.unwrap();
        assert_eq!(first.summary.create, 48);
        let report = apply(&first, &port, ApplyOptions::default()).await;
        assert!(report.is_success(), "{:#?}", report.failures);
        assert_eq!(report.created, 48);
        let second = plan_catalog(desired(merge), &port, &guards).await.unwrap();
        assert!(
            !second.has_changes(),
            "merge={merge}: {:#?}",
            second.updates.first()
        );
        assert_eq!(second.unchanged, 48);
    }
}

#[tokio::test]
async fn a_changed_field_and_a_removed_entity_plan_and_apply_against_port() {
    let (emu, port) = setup().await;
    let guards = Guards::default();
    let p = plan_catalog(desired(true), &port, &guards).await.unwrap();
    apply(&p, &port, ApplyOptions::default()).await;
    emu.seed(
        "group",
        json!({"identifier": "theirs", "title": "Not ours"}),
        "someone-else",
    )
    .unwrap();

    let mut next = desired(true);
    next.entities.retain(|e| e.identifier != "svc-44");
    for e in next
        .entities
        .iter_mut()
        .filter(|e| e.identifier == "svc-07")
    {
        e.properties.insert("tier".into(), json!("silver"));
    }
    let p = plan_catalog(next.clone(), &port, &guards).await.unwrap();
    assert_eq!((p.summary.update, p.summary.delete), (1, 1));
    assert_eq!(
        p.updates.first().expect("an update").changes[0]
            .field
            .to_string(),
        "properties.tier"
    );
    assert_eq!(p.deletes[0].identifier, "svc-44");
    let report = apply(&p, &port, ApplyOptions::default()).await;
    assert!(report.is_success(), "{:#?}", report.failures);
    assert!(
        !plan_catalog(next, &port, &guards)
            .await
            .unwrap()
            .has_changes()
    );
    assert_eq!(
        emu.datasource_of("group", "theirs").as_deref(),
        Some("someone-else")
    );
    assert!(emu.entity("service", "svc-44").is_none());
    assert_eq!(port.list_owned().await.unwrap().len(), 47);
}

/// `port.baseUrl` in `adoport.yaml` selects the Port API (no PORT_BASE_URL, no URL in
/// `--target`): the plan is made against the emulator it names.
#[tokio::test]
async fn port_base_url_in_the_settings_file_selects_the_port_api() {
    let (emu, _client) = setup().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reconcile/config/port-app-config.yaml"
        ),
        config.join("port-app-config.yaml"),
    )
    .expect("copy the mapping");
    std::fs::write(
        config.join("adoport.yaml"),
        format!("port:\n  baseUrl: {}\n  region: us\n", emu.base_url()),
    )
    .expect("settings");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
            .args(["plan", "--target", "port", "--config"])
            .arg(&config)
            .arg("--source")
            .arg(format!(
                "snapshot:{}",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/reconcile/snapshot"
                )
            ))
            .env("PORT_CLIENT_ID", CLIENT_ID)
            .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
            .env_remove("PORT_BASE_URL")
            .env_remove("AZURE_DEVOPS_ORG_URL")
            .output()
            .expect("adoport runs")
    })
    .await
    .expect("joined");
    crate::support::assert_exit(&out, 2);
    assert!(
        crate::support::stdout(&out).starts_with("Plan: 5 to create"),
        "{}",
        crate::support::stdout(&out)
    );
    assert!(
        emu.requests(adoport::testkit::port_emulator::Endpoint::DatasourceEntities) > 0,
        "the emulator was asked"
    );
}
