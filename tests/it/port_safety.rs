//! The Port client against a Port that misbehaves in ways that once cost data, hung a run
//! or leaked a secret: a listing that ignores its datasource filter or never ends, an
//! oversized answer, absurd delay headers, a token endpoint stating `expiresIn: 0`, and
//! messages that echo the credentials. All over real HTTP against the Port emulator.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adoport::catalog::{self, Catalog, WriteOptions};
use adoport::entity::Entity;
use adoport::port::PortClient;
use adoport::reconcile::{ApplyOptions, Desired, Guards, apply, plan_catalog};
use adoport::testkit::port_emulator::{CLIENT_SECRET, Endpoint, Fault};
use serde_json::json;

use crate::port_client::{all_text, client, emulator, emulator_options, group, ok_count, options};

/// Lists the owned entities, failing the test (instead of hanging it) after 30 seconds.
async fn list_within(port: &PortClient) -> catalog::Result<Vec<Entity>> {
    tokio::time::timeout(Duration::from_secs(30), port.list_owned())
        .await
        .expect("the listing never ended")
}

#[tokio::test]
async fn entities_of_other_datasources_listed_by_a_port_ignoring_its_filter_are_never_deleted() {
    let emu = emulator(emulator_options()).await;
    for i in 0..5 {
        emu.seed(
            "group",
            json!({"identifier": format!("foreign-{i}")}),
            "port-ocean/azure-devops/0.12.2/other/exporter",
        )
        .unwrap();
    }
    let port = client(&emu, "mine");
    let ours: Vec<Entity> = (0..3).map(|i| group(&format!("ours-{i}"))).collect();
    port.upsert("group", &ours, WriteOptions::default())
        .await
        .unwrap();
    emu.inject(Fault::ForeignInListing);

    let mut listed: Vec<String> = port
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    listed.sort();
    assert_eq!(listed, ["ours-0", "ours-1", "ours-2"]);

    // A whole run against that Port: the foreign entities are not planned for deletion.
    let desired = Desired {
        entities: ours,
        ..Desired::default()
    };
    let plan = plan_catalog(desired, &port, &Guards::default())
        .await
        .unwrap();
    assert_eq!(plan.summary.delete, 0);
    let report = apply(&plan, &port, ApplyOptions::default()).await;
    assert!(report.is_success(), "{:#?}", report.failures);
    assert_eq!(emu.entity_count(), 8, "no foreign entity was lost");
}

#[tokio::test]
async fn a_port_listing_that_hands_out_new_cursors_for_ever_fails_instead_of_looping() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    // Nothing stored: an endless listing must not pass for an empty one either.
    emu.inject(Fault::EndlessListing);
    let err = list_within(&port).await.unwrap_err();
    assert!(matches!(err, catalog::Error::ListFailed(_)), "{err:?}");
    assert!(
        all_text(&err).contains("brought nothing new"),
        "{}",
        all_text(&err)
    );
    assert_eq!(emu.requests(Endpoint::DatasourceEntities), 1);

    emu.clear_faults();
    port.upsert("group", &[group("a"), group("b")], WriteOptions::default())
        .await
        .unwrap();
    emu.inject(Fault::EndlessListing);
    let err = list_within(&port).await.unwrap_err();
    assert!(all_text(&err).contains("page 2"), "{}", all_text(&err));
    assert_eq!(emu.requests(Endpoint::DatasourceEntities), 3);
}

#[tokio::test]
async fn a_port_listing_longer_than_the_page_cap_fails() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.list_page_size = 1;
    o.max_list_pages = 3;
    let port = PortClient::new(o).unwrap();
    let groups: Vec<Entity> = (0..5).map(|i| group(&format!("g{i}"))).collect();
    port.upsert("group", &groups, WriteOptions::default())
        .await
        .unwrap();
    let err = port.list_owned().await.unwrap_err();
    assert!(
        all_text(&err).contains("did not end within 3 pages"),
        "{}",
        all_text(&err)
    );
}

#[tokio::test]
async fn a_port_answer_over_the_body_cap_fails_the_listing_unread() {
    let emu = emulator(emulator_options()).await;
    let mut o = options(&emu, "mine");
    o.max_response_bytes = 2_048;
    let port = PortClient::new(o).unwrap();
    let groups: Vec<Entity> = (0..20).map(|i| group(&format!("group-{i:02}"))).collect();
    port.upsert("group", &groups, WriteOptions::default())
        .await
        .unwrap();
    let err = port.list_owned().await.unwrap_err();
    assert!(matches!(err, catalog::Error::ListFailed(_)), "{err:?}");
    assert!(
        all_text(&err).contains("over the 2048-byte cap"),
        "{}",
        all_text(&err)
    );
    assert_eq!(emu.requests(Endpoint::DatasourceEntities), 1, "not retried");
}

#[tokio::test]
async fn expires_in_zero_or_absurd_from_the_token_endpoint_does_not_fetch_a_token_per_request() {
    for stated in [
        json!(0),
        json!(-30),
        json!("soon"),
        json!(null),
        json!(1e300),
    ] {
        let emu = emulator(emulator_options()).await;
        emu.inject(Fault::StateExpiresIn(stated.clone()));
        let port = client(&emu, "mine");
        for i in 0..5 {
            let out = port
                .upsert("group", &[group(&format!("g{i}"))], WriteOptions::default())
                .await
                .unwrap();
            assert_eq!(ok_count(&out), 1, "{stated}");
        }
        assert_eq!(emu.requests(Endpoint::Token), 1, "{stated}");
    }
}

#[tokio::test]
async fn absurd_retry_after_and_reset_values_from_port_are_clamped_without_a_panic() {
    for value in [
        "1e20",
        "1e300",
        "-5",
        "garbage",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        for (retry_after, reset) in [(Some(value), None), (None, Some(value))] {
            let emu = emulator(emulator_options()).await;
            let port = client(&emu, "mine");
            port.list_owned().await.unwrap();
            emu.inject(Fault::RateLimitSaying {
                requests: 2,
                retry_after: retry_after.map(str::to_owned),
                reset: reset.map(str::to_owned),
            });
            let started = Instant::now();
            let out = port
                .upsert("group", &[group("a")], WriteOptions::default())
                .await
                .unwrap();
            assert_eq!(ok_count(&out), 1, "{value}");
            assert_eq!(emu.responses(Endpoint::BulkUpsert, 429), 2, "{value}");
            assert!(started.elapsed() < Duration::from_secs(5), "{value}");
        }
    }
}

#[tokio::test]
async fn a_207_message_echoing_the_token_and_client_secret_is_scrubbed_from_outcomes() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    emu.inject(Fault::EchoCredentialsInBulkErrors);
    let out = port
        .upsert("group", &[group("a"), group("b")], WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(emu.responses(Endpoint::BulkUpsert, 207), 1);
    for outcome in &out {
        let message = outcome.result.as_ref().unwrap_err();
        assert!(
            message.contains("[redacted]"),
            "the echo was there: {message}"
        );
        assert!(!message.contains(CLIENT_SECRET), "{message}");
        assert!(!message.contains("emu-token"), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

#[tokio::test]
async fn a_token_refusal_echoing_the_old_token_never_shows_it() {
    let emu = emulator(emulator_options()).await;
    let port = client(&emu, "mine");
    port.upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    emu.expire_tokens();
    emu.inject(Fault::RefuseTokenEchoingOld);
    let err = port
        .upsert("group", &[group("b")], WriteOptions::default())
        .await
        .unwrap_err();
    let text = all_text(&err);
    assert!(text.contains("refused the client credentials"), "{text}");
    assert!(
        text.contains("[redacted] was revoked"),
        "the echo was there: {text}"
    );
    assert!(!text.contains("emu-token"), "{text}");
}

#[tokio::test]
async fn each_port_request_is_logged_at_debug_with_method_path_status_and_time_and_no_secret() {
    let emu = emulator(emulator_options()).await;
    let captured = Captured::default();
    let _guard = captured.install();
    let port = client(&emu, "mine");
    port.upsert("group", &[group("a")], WriteOptions::default())
        .await
        .unwrap();
    let log = captured.text();
    let line = log
        .lines()
        .find(|l| l.contains("http exchange") && l.contains("/entities/bulk"))
        .unwrap_or_else(|| panic!("no exchange logged: {log}"));
    for field in [
        "method=\"POST\"",
        "path=/v1/blueprints/group/entities/bulk",
        "status=200",
        "elapsed_ms=",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(log.contains("path=/v1/auth/access_token"), "{log}");
    for exchange in log.lines().filter(|l| l.contains("http exchange")) {
        assert!(!exchange.contains('?'), "no query: {exchange}");
    }
    assert!(
        !log.contains(CLIENT_SECRET) && !log.contains("emu-token"),
        "{log}"
    );
}

/// A `MakeWriter` collecting everything logged into one string.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// A debug-level subscriber writing here, set for the current thread.
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        // While only one subscriber is registered, tracing computes a callsite's interest
        // from the default of whichever thread meets it first: another test's thread, with
        // no subscriber, would switch the callsite off for good. A second, process-long
        // subscriber (writing nowhere) makes tracing ask every registered one instead.
        static KEEPER: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        KEEPER.get_or_init(|| {
            tracing::Dispatch::new(
                tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::DEBUG)
                    .with_writer(std::io::sink)
                    .finish(),
            )
        });
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
