//! The Port client against the Port API emulator: tokens, round trips, ownership, and every
//! failure Port can hand back, each ending with the other entities applied and the failure
//! reported, never a short listing.

use std::time::Duration;

use adoport::catalog::{self, Catalog, EntityOutcome, WriteOptions};
use adoport::entity::Entity;
use adoport::port::client::Error as ClientError;
use adoport::port::retry::RetryConfig;
use adoport::port::{Credentials, PortClient, PortClientOptions};
use adoport::testkit::port_emulator::{
    CLIENT_ID, CLIENT_SECRET, EmulatorOptions, Endpoint, Fault, PortEmulator,
};
use serde_json::json;

const BLUEPRINTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/port_client/blueprints.json"
);

pub(crate) fn emulator_options() -> EmulatorOptions {
    EmulatorOptions::default()
        .with_blueprint_file(BLUEPRINTS)
        .expect("the fixture blueprints load")
}

pub(crate) async fn emulator(options: EmulatorOptions) -> PortEmulator {
    PortEmulator::start(options).await.expect("emulator starts")
}

/// Fast retries: server-asked waits are capped at 50 ms so a `Retry-After: 1` costs nothing.
pub(crate) fn options(emu: &PortEmulator, datasource: &str) -> PortClientOptions {
    let mut o = PortClientOptions::new(Credentials::new(CLIENT_ID, CLIENT_SECRET), datasource)
        .with_base_url(emu.base_url());
    o.retry = RetryConfig {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        max_wait: Duration::from_millis(50),
    };
    o.request_timeout = Duration::from_secs(5);
    o
}

pub(crate) fn client(emu: &PortEmulator, datasource: &str) -> PortClient {
    PortClient::new(options(emu, datasource)).expect("client builds")
}

pub(crate) fn group(id: &str) -> Entity {
    let mut e = Entity::new(id, "group");
    e.title = Some(json!(format!("Group {id}")));
    e
}

pub(crate) fn service(id: &str) -> Entity {
    let mut e = Entity::new(id, "service");
    e.title = Some(json!(format!("Service {id}")));
    e.properties.insert("stars".into(), json!(3));
    e.properties.insert("tier".into(), json!("gold"));
    e
}

pub(crate) fn ok_count(outcomes: &[EntityOutcome]) -> usize {
    outcomes.iter().filter(|o| o.result.is_ok()).count()
}

/// The error, its `Debug` and every cause, as one text.
pub(crate) fn all_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{err} | {err:?} | {err:#?}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause} | {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn one_token_serves_every_call_until_it_nears_expiry() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    for chunk in ["a", "b", "c"] {
        let out = port
            .upsert("group", &[group(chunk)], WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(ok_count(&out), 1);
    }
    assert_eq!(port.list_owned().await.unwrap().len(), 3);
    assert_eq!(emu.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn a_token_past_its_lifetime_is_refreshed_before_it_is_sent() {
    let emu = emulator(EmulatorOptions {
        token_lifetime: Duration::from_secs(2),
        ..emulator_options()
    })
    .await;
    // A lifetime this short is below the default floor (60 s): lower the floor to use it.
    let mut o = options(&emu, "mine");
    o.min_token_lifetime = Duration::from_secs(1);
    let port = PortClient::new(o).unwrap();
    port.upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    // Past the token's lifetime (the client treats it as stale after 1.5 s).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let out = port
        .upsert("group", &[group("b")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 1);
    assert_eq!(emu.requests(Endpoint::Token), 2);
    assert_eq!(
        emu.responses(Endpoint::BulkUpsert, 401),
        0,
        "the stale token must not be sent"
    );
}

#[tokio::test]
async fn a_token_revoked_mid_run_is_replaced_once_after_a_401() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    port.upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    emu.expire_tokens();
    let out = port
        .upsert("group", &[group("b"), group("c")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 2);
    assert_eq!(emu.responses(Endpoint::BulkUpsert, 401), 1);
    assert_eq!(emu.requests(Endpoint::Token), 2);
    assert_eq!(emu.entity_count(), 3);
}

#[tokio::test]
async fn refused_credentials_fail_the_call_at_once() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.credentials = Credentials::new(CLIENT_ID, "not-the-secret");
    let port = PortClient::new(o).unwrap();
    let err = port
        .upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, catalog::Error::WriteFailed(_)), "{err:?}");
    assert!(all_text(&err).contains("refused the client credentials"));
    assert_eq!(
        emu.requests(Endpoint::Token),
        1,
        "a 401 on the token is final"
    );
    assert_eq!(emu.requests(Endpoint::BulkUpsert), 0);
}

#[tokio::test]
async fn entities_upserted_are_listed_back_across_pages_and_deleted() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.list_page_size = 7;
    let port = PortClient::new(o).unwrap();
    let groups: Vec<Entity> = (0..45).map(|i| group(&format!("g{i:02}"))).collect();
    for batch in groups.chunks(20) {
        let out = port
            .upsert("group", batch, WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(ok_count(&out), batch.len());
    }
    let mut listed = port.list_owned().await.unwrap();
    listed.sort_by_key(Entity::key);
    assert_eq!(listed, groups);
    assert_eq!(
        emu.requests(Endpoint::DatasourceEntities),
        7,
        "45 entities, 7 per page"
    );

    let ids: Vec<String> = groups.iter().map(|g| g.identifier.clone()).collect();
    let out = port
        .delete("group", &ids, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 45);
    assert!(port.list_owned().await.unwrap().is_empty());
    assert_eq!(emu.entity_count(), 0);
}

#[tokio::test]
async fn a_listing_that_names_entities_only_is_completed_through_search() {
    let emu = emulator(EmulatorOptions {
        listing_keys_only: true,
        ..emulator_options()
    })
    .await;
    let port = client(&emu, "mine");
    let mut s = service("api");
    s.relations.insert("owner".into(), json!("core"));
    port.upsert("group", &[group("core")], WriteOptions::default())
        .await
        .unwrap();
    port.upsert("service", &[s.clone()], WriteOptions::default())
        .await
        .unwrap();
    let mut listed = port.list_owned().await.unwrap();
    listed.sort_by_key(Entity::key);
    assert_eq!(listed, [group("core"), s]);
    assert_eq!(
        emu.requests(Endpoint::Search),
        2,
        "one search per blueprint"
    );
}

#[tokio::test]
async fn our_writes_carry_a_user_agent_naming_our_datasource() {
    let emu = emulator(emulator_options()).await;
    client(&emu, "team-a")
        .upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emu.datasource_of("group", "a").unwrap(),
        format!("adoport/{}/team-a", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn entities_of_another_datasource_are_never_listed_as_ours() {
    let emu = emulator(emulator_options()).await;
    for (id, writer) in [
        ("theirs-1", "adoport/0.1.0/other"),
        ("theirs-2", "port-ocean/azure-devops/0.12.2/mine/exporter"),
        ("theirs-3", "adoport/0.1.0/xmine"),
        ("theirs-4", "adoport/0.1.0/mine/extra"),
        ("ours-old-version", "adoport/0.0.9/mine"),
    ] {
        emu.seed("group", json!({"identifier": id}), writer)
            .unwrap();
    }
    let port = client(&emu, "mine");
    port.upsert("group", &[group("ours-new")], WriteOptions::default())
        .await
        .unwrap();
    let mut ids: Vec<String> = port
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    ids.sort();
    assert_eq!(ids, ["ours-new", "ours-old-version"]);
}

#[tokio::test]
async fn a_datasource_template_adopts_the_entities_of_ports_own_integration() {
    let emu = emulator(emulator_options()).await;
    for (id, writer) in [
        ("ocean-1", "port-ocean/azure-devops/0.12.2/my-ado/exporter"),
        ("ocean-2", "port-ocean/azure-devops/0.11.0/my-ado/exporter"),
        (
            "other-integration",
            "port-ocean/azure-devops/0.12.2/other/exporter",
        ),
        ("adoport-default", "adoport/0.1.0/my-ado"),
    ] {
        emu.seed("group", json!({"identifier": id}), writer)
            .unwrap();
    }
    let port = client(&emu, "port-ocean/azure-devops/{version}/my-ado/exporter");
    port.upsert("group", &[group("written-by-us")], WriteOptions::default())
        .await
        .unwrap();
    let mut ids: Vec<String> = port
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    ids.sort();
    assert_eq!(ids, ["ocean-1", "ocean-2", "written-by-us"]);
}

#[tokio::test]
async fn a_207_reports_each_refused_entity_and_applies_the_rest() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    let mut unknown_property = service("s1");
    unknown_property
        .properties
        .insert("colour".into(), json!("red"));
    let mut wrong_type = service("s3");
    wrong_type.properties.insert("stars".into(), json!("many"));
    let mut missing_target = service("s4");
    missing_target
        .relations
        .insert("owner".into(), json!("nobody"));
    let batch = [
        service("s0"),
        unknown_property,
        service("s2"),
        wrong_type,
        missing_target,
    ];
    let no_placeholders = WriteOptions {
        create_missing_related_entities: false,
        ..WriteOptions::default()
    };
    let out = port
        .upsert("service", &batch, no_placeholders)
        .await
        .unwrap();
    assert_eq!(emu.responses(Endpoint::BulkUpsert, 207), 1);
    let results: Vec<(&str, Result<(), String>)> = out
        .iter()
        .map(|o| (o.key.identifier.as_str(), o.result.clone()))
        .collect();
    assert_eq!(results[0], ("s0", Ok(())));
    assert!(
        results[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("unknown_property")
    );
    assert_eq!(results[2], ("s2", Ok(())));
    assert!(
        results[3]
            .1
            .as_ref()
            .unwrap_err()
            .contains("invalid_property_type")
    );
    assert!(
        results[4]
            .1
            .as_ref()
            .unwrap_err()
            .starts_with("404 not_found")
    );
    assert!(emu.entity("service", "s2").is_some());
    assert!(emu.entity("service", "s1").is_none());
}

#[tokio::test]
async fn a_413_splits_the_batch_down_to_single_entity_calls() {
    let emu = emulator(EmulatorOptions {
        max_body_bytes: 2_000,
        ..emulator_options()
    })
    .await;
    let port = client(&emu, "mine");
    let mut batch: Vec<Entity> = (0..10)
        .map(|i| {
            let mut s = service(&format!("s{i}"));
            s.properties.insert("notes".into(), json!("x".repeat(600)));
            s
        })
        .collect();
    batch[6]
        .properties
        .insert("notes".into(), json!("y".repeat(3_000)));
    let out = port
        .upsert("service", &batch, WriteOptions::default())
        .await
        .unwrap();
    assert!(emu.responses(Endpoint::BulkUpsert, 413) >= 1);
    assert!(
        emu.requests(Endpoint::Upsert) >= 1,
        "the split reaches single calls"
    );
    for (i, o) in out.iter().enumerate() {
        if i == 6 {
            assert!(o.result.as_ref().unwrap_err().contains("413"), "{o:?}");
        } else {
            assert_eq!(o.result, Ok(()), "{o:?}");
        }
    }
    assert_eq!(emu.entity_count(), 9);
}

#[tokio::test]
async fn a_bulk_body_refused_whole_for_one_entity_is_split_until_that_entity_stands_alone() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    let mut batch: Vec<Entity> = (0..8).map(|i| group(&format!("g{i}"))).collect();
    batch[5].identifier = String::new();
    let out = port
        .upsert("group", &batch, WriteOptions::default())
        .await
        .unwrap();
    assert!(emu.responses(Endpoint::BulkUpsert, 422) >= 1);
    for (i, o) in out.iter().enumerate() {
        if i == 5 {
            assert!(o.result.as_ref().unwrap_err().starts_with("422"), "{o:?}");
        } else {
            assert_eq!(o.result, Ok(()), "{o:?}");
        }
    }
    assert_eq!(emu.entity_count(), 7);
}

#[tokio::test]
async fn a_429_storm_is_waited_out_as_retry_after_asks() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    emu.inject(Fault::RateLimit {
        requests: 4,
        retry_after_secs: Some(1),
        reset_as_epoch: false,
    });
    let out = port
        .upsert("group", &[group("a"), group("b")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 2);
    let served_429 = emu.responses(Endpoint::Token, 429) + emu.responses(Endpoint::BulkUpsert, 429);
    assert_eq!(served_429, 4);
    assert_eq!(emu.entity_count(), 2);
}

#[tokio::test]
async fn a_429_with_only_an_epoch_reset_is_waited_out() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    port.list_owned().await.unwrap();
    emu.inject(Fault::RateLimit {
        requests: 2,
        retry_after_secs: None,
        reset_as_epoch: true,
    });
    let out = port
        .upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 1);
    assert_eq!(emu.responses(Endpoint::BulkUpsert, 429), 2);
}

#[tokio::test]
async fn a_500_on_one_bulk_call_is_retried_and_every_entity_lands() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    emu.inject(Fault::ServerErrorOnBulkCall { nth: 2, times: 1 });
    let groups: Vec<Entity> = (0..45).map(|i| group(&format!("g{i}"))).collect();
    let out = port
        .upsert("group", &groups, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 45);
    assert_eq!(emu.responses(Endpoint::BulkUpsert, 500), 1);
    assert_eq!(emu.requests(Endpoint::BulkUpsert), 4);
}

#[tokio::test]
async fn a_batch_that_keeps_failing_is_reported_and_the_other_batches_are_applied() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    // Calls 2 to 6 fail: the second batch uses all five of its attempts on them.
    emu.inject(Fault::ServerErrorOnBulkCall { nth: 2, times: 5 });
    let groups: Vec<Entity> = (0..45).map(|i| group(&format!("g{i:02}"))).collect();
    let out = port
        .upsert("group", &groups, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 25);
    for o in &out[20..40] {
        let err = o.result.as_ref().unwrap_err();
        assert!(err.contains("gave up") && err.contains("500"), "{err}");
    }
    assert_eq!(emu.entity_count(), 25);

    // A call whose only batch keeps failing fails as a whole (7 bulk calls were made).
    assert_eq!(emu.requests(Endpoint::BulkUpsert), 7);
    emu.inject(Fault::ServerErrorOnBulkCall { nth: 8, times: 5 });
    let err = port
        .upsert("group", &[group("late")], WriteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, catalog::Error::WriteFailed(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_sent_again() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.request_timeout = Duration::from_secs(1);
    let port = PortClient::new(o).unwrap();
    port.list_owned().await.unwrap();
    emu.inject(Fault::Slow {
        requests: 1,
        delay: Duration::from_secs(5),
    });
    let out = port
        .upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ok_count(&out), 1);
    assert_eq!(emu.requests(Endpoint::BulkUpsert), 2);
}

#[tokio::test]
async fn a_truncated_listing_page_fails_the_listing_instead_of_shortening_it() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.list_page_size = 10;
    let port = PortClient::new(o).unwrap();
    let groups: Vec<Entity> = (0..30).map(|i| group(&format!("g{i:02}"))).collect();
    for batch in groups.chunks(20) {
        port.upsert("group", batch, WriteOptions::default())
            .await
            .unwrap();
    }
    emu.inject(Fault::TruncateListing { after_pages: 1 });
    let err = port.list_owned().await.unwrap_err();
    assert!(matches!(err, catalog::Error::ListFailed(_)), "{err:?}");
    assert!(all_text(&err).contains("page 2"), "{}", all_text(&err));
}

#[tokio::test]
async fn a_listing_that_keeps_failing_is_an_error_not_an_empty_list() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    port.upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    emu.inject(Fault::RateLimit {
        requests: 100,
        retry_after_secs: Some(1),
        reset_as_epoch: false,
    });
    let err = port.list_owned().await.unwrap_err();
    assert!(matches!(err, catalog::Error::ListFailed(_)), "{err:?}");
    assert!(all_text(&err).contains("429"));
}

#[tokio::test]
async fn a_delete_reports_identifiers_port_did_not_delete() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    port.upsert("group", &[group("a"), group("b")], WriteOptions::default())
        .await
        .unwrap();
    let ids = vec!["a".to_owned(), "ghost".to_owned(), "b".to_owned()];
    let out = port
        .delete("group", &ids, WriteOptions::default())
        .await
        .unwrap();
    let results: Vec<bool> = out.iter().map(|o| o.result.is_ok()).collect();
    assert_eq!(results, [true, false, true]);
    assert_eq!(out[1].key.identifier, "ghost");
}

#[tokio::test]
async fn a_delete_refused_for_one_entity_with_dependents_still_deletes_the_others() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    let groups: Vec<Entity> = ["core", "g1", "g2", "g3", "g4"].map(group).to_vec();
    port.upsert("group", &groups, WriteOptions::default())
        .await
        .unwrap();
    let mut s = service("api");
    s.relations.insert("owner".into(), json!("core"));
    port.upsert("service", &[s], WriteOptions::default())
        .await
        .unwrap();
    let keep_dependents = WriteOptions {
        delete_dependents: false,
        ..WriteOptions::default()
    };
    let ids: Vec<String> = groups.iter().map(|g| g.identifier.clone()).collect();
    let out = port.delete("group", &ids, keep_dependents).await.unwrap();
    assert!(emu.responses(Endpoint::BulkDelete, 422) >= 1);
    assert!(
        out[0]
            .result
            .as_ref()
            .unwrap_err()
            .contains("has_dependents"),
        "{out:?}"
    );
    assert_eq!(ok_count(&out), 4);
    assert!(emu.entity("group", "core").is_some());
    assert_eq!(emu.entity_count(), 2, "core and the service pointing at it");
}

#[tokio::test]
async fn a_delete_port_cannot_take_at_all_fails_as_a_whole() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    let err = port
        .delete("nope", &["a".to_owned()], WriteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, catalog::Error::WriteFailed(_)), "{err:?}");
    assert!(all_text(&err).contains("404"));
}

#[tokio::test]
async fn no_error_or_debug_output_ever_shows_the_secret_or_the_token() {
    let emu = emulator(emulator_options()).await;
    let mut errors: Vec<Box<dyn std::error::Error>> = Vec::new();

    // Refused credentials (the wrong secret is a secret too).
    let mut o = options(&emu, "mine");
    o.credentials = Credentials::new(CLIENT_ID, "wrong-secret-value-42");
    let refused = PortClient::new(o).unwrap();
    errors.push(Box::new(
        refused
            .upsert("group", &[group("a")], WriteOptions::default())
            .await
            .unwrap_err(),
    ));

    let port = client(&emu, "mine");
    // A refusal after retries, a per-call 4xx, a truncated page, a dead server.
    emu.inject(Fault::ServerErrorOnBulkCall { nth: 1, times: 5 });
    errors.push(Box::new(
        port.upsert("group", &[group("a")], WriteOptions::default())
            .await
            .unwrap_err(),
    ));
    emu.clear_faults();
    errors.push(Box::new(
        port.upsert("nope", &[group("a")], WriteOptions::default())
            .await
            .unwrap_err(),
    ));
    emu.inject(Fault::TruncateListing { after_pages: 0 });
    errors.push(Box::new(port.list_owned().await.unwrap_err()));
    emu.expire_tokens();
    let mut o = options(&emu, "mine");
    o.base_url = "http://127.0.0.1:9".into();
    o.retry.max_attempts = 2;
    errors.push(Box::new(
        PortClient::new(o).unwrap().list_owned().await.unwrap_err(),
    ));
    errors.push(Box::new(
        PortClient::new(PortClientOptions::new(
            Credentials::new(CLIENT_ID, CLIENT_SECRET),
            "bad/datasource",
        ))
        .unwrap_err(),
    ));
    let outcomes = port
        .upsert("group", &[group("ok")], WriteOptions::default())
        .await
        .unwrap();

    let mut texts: Vec<String> = errors.iter().map(|e| all_text(e.as_ref())).collect();
    texts.push(format!("{port:?}"));
    texts.push(format!("{:?}", options(&emu, "mine")));
    texts.push(format!("{outcomes:?}"));
    for text in &texts {
        for secret in [
            CLIENT_SECRET,
            "wrong-secret-value-42",
            CLIENT_ID,
            "emu-token",
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked into: {text}");
        }
    }
    assert!(texts[0].contains("refused"), "{}", texts[0]);
    assert!(texts[2].contains("404"), "{}", texts[2]);
}

#[tokio::test]
async fn invalid_client_settings_are_refused_up_front() {
    let creds = || Credentials::new(CLIENT_ID, CLIENT_SECRET);
    for ds in ["", "a/b", "with space"] {
        let err = PortClient::new(PortClientOptions::new(creds(), ds)).unwrap_err();
        assert!(matches!(err, ClientError::InvalidDatasource(_)), "{ds:?}");
    }
    for url in ["ftp://x", "not a url", "https://user:pw@api.getport.io"] {
        let err =
            PortClient::new(PortClientOptions::new(creds(), "ok").with_base_url(url)).unwrap_err();
        assert!(matches!(err, ClientError::BaseUrl), "{url:?}");
    }
}
