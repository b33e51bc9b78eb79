//! The ADO source under faults: truncated, failing, slow and dropped pages mid-pagination,
//! 429 storms, the advertised rate budget, bad or under-scoped PATs, and vanished items.

use std::collections::HashSet;
use std::time::Duration;

use adoport::ado::Listing;
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind, RateLimit};
use adoport::testkit::synthetic_org::OrgSpec;
use serde_json::json;

use crate::ado::{complete, fake, fast, fetch, source};

/// A fake whose pages hold 4 items, so builds (15 per project) take 4 pages.
async fn paged(kind: FaultKind, endpoint: &str, k: u64, persistent: bool) -> (FakeAdo, Listing) {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            max_page: Some(4),
            ..FakeConfig::default()
        },
    )
    .await;
    fake.add_fault(if persistent {
        Fault::from_request(endpoint, k, kind)
    } else {
        Fault::once(endpoint, k, kind)
    });
    let mut options = fast();
    options.timeout = Duration::from_millis(300);
    let ado = source(&fake, &fake.pat(), options, spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    (fake, listing)
}

fn assert_cut_short(listing: &Listing, needle: &str) {
    assert!(!listing.complete, "a cut-short listing must be incomplete");
    assert!(
        !listing.items.is_empty(),
        "the pages before the fault are kept"
    );
    assert!(listing.items.len() < 30);
    let error = listing.error.clone().unwrap_or_default();
    assert!(error.contains(needle), "{error}");
    assert!(!error.contains("fake-pat"), "{error}");
    assert!(
        !error.contains(&base64_of(":fake-pat-0123456789")),
        "{error}"
    );
}

#[tokio::test]
async fn a_truncated_page_mid_pagination_makes_the_kind_incomplete() {
    let (_fake, listing) = paged(FaultKind::Truncate, "builds", 2, true).await;
    assert_cut_short(&listing, "truncated or not JSON");
}

#[tokio::test]
async fn a_500_mid_pagination_makes_the_kind_incomplete() {
    let (fake, listing) = paged(FaultKind::Status(500), "builds", 2, true).await;
    assert_cut_short(&listing, "HTTP 500");
    // One page, then the failing page and its three retries; the other project completes.
    assert!(fake.requests("builds") >= 5, "{:?}", fake.counts());
}

#[tokio::test]
async fn a_timeout_mid_pagination_makes_the_kind_incomplete() {
    let (_fake, listing) = paged(FaultKind::Delay(Duration::from_secs(2)), "builds", 2, true).await;
    assert_cut_short(&listing, "timed out");
}

#[tokio::test]
async fn a_dropped_connection_mid_pagination_makes_the_kind_incomplete() {
    let (_fake, listing) = paged(FaultKind::Drop, "builds", 2, true).await;
    assert_cut_short(&listing, "connection");
}

#[tokio::test]
async fn a_single_transient_fault_is_retried_and_the_kind_stays_complete() {
    for kind in [
        FaultKind::Status(503),
        FaultKind::Truncate,
        FaultKind::Drop,
        FaultKind::Delay(Duration::from_secs(2)),
    ] {
        let (fake, listing) = paged(kind.clone(), "builds", 2, false).await;
        complete(&listing);
        assert_eq!(listing.items.len(), 30, "{kind:?}");
        assert_eq!(fake.requests("builds"), 8 + 1, "{kind:?}: one retry");
    }
}

#[tokio::test]
async fn a_429_storm_with_retry_after_is_ridden_out() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            max_page: Some(4),
            ..FakeConfig::default()
        },
    )
    .await;
    // Three 429s in a row, each asking for a one-second pause.
    fake.add_fault(Fault {
        endpoint: "builds".into(),
        from: 1,
        times: 3,
        kind: FaultKind::TooManyRequests(1),
    });
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 30);
    assert_eq!(fake.requests("builds"), 8 + 3);
}

#[tokio::test]
async fn the_throttle_keeps_within_the_advertised_budget() {
    let spec = OrgSpec::small();
    let config = FakeConfig {
        max_page: Some(1),
        rate_limit: Some(RateLimit {
            budget: 25,
            window: Duration::from_secs(1),
        }),
        ..FakeConfig::default()
    };
    let fake = fake(&spec, config).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in ["build", "branch", "repository-policy"] {
        complete(&fetch(&ado, kind, json!({})).await);
    }
    assert!(
        fake.total_requests() > 50,
        "the sync spans several budget windows"
    );
    assert_eq!(
        fake.rejected_over_budget(),
        0,
        "the client slowed down before ADO refused"
    );
}

#[tokio::test]
async fn a_bad_pat_fails_at_once_naming_the_scope_and_never_showing_the_pat() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let secret = "wrong-pat-do-not-print-me";
    let ado = source(&fake, secret, fast(), spec.now);
    let listing = fetch(&ado, "project", json!({})).await;
    assert!(!listing.complete);
    assert!(listing.items.is_empty());
    let error = listing.error.unwrap();
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(
        error.contains("\"Project and Team (Read)\" scope"),
        "{error}"
    );
    assert!(!error.contains(secret));
    let encoded = base64_of(&format!(":{secret}"));
    assert!(!error.contains(&encoded));
    assert_eq!(fake.total_requests(), 1, "401 is not retried");
    assert!(!format!("{ado:?}").contains(secret));
}

#[tokio::test]
async fn a_pat_without_a_scope_names_the_scope_of_that_endpoint() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            denied: vec!["wiql".into()],
            ..FakeConfig::default()
        },
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "work-item", json!({})).await;
    assert!(!listing.complete);
    assert!(
        listing
            .error
            .unwrap()
            .contains("\"Work Items (Read)\" scope")
    );
    complete(&fetch(&ado, "project", json!({})).await);
}

#[tokio::test]
async fn a_work_item_deleted_between_query_and_read_drops_only_itself() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            vanished_work_items: vec![5, 6],
            ..FakeConfig::default()
        },
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "work-item", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 98);
    assert!(listing.items.iter().all(|w| w["id"] != 5 && w["id"] != 6));
}

#[tokio::test]
async fn work_items_past_the_wiql_cap_are_paged_by_id_range() {
    let spec = OrgSpec {
        projects: 1,
        repos_per_project: 0,
        pull_requests: 0,
        pipelines: 0,
        builds: 0,
        releases: 0,
        work_items: 20_000 + 150,
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "work-item", json!({"expand": "None"})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 20_150);
    let ids: HashSet<u64> = listing
        .items
        .iter()
        .map(|w| w["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 20_150, "no id twice, none missing");
    assert_eq!(fake.requests("wiql"), 2);
    assert_eq!(fake.requests("work-items"), 20_150u64.div_ceil(200));
}

#[tokio::test]
async fn a_failing_parent_list_makes_every_child_kind_incomplete() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request(
        "repositories",
        2,
        FaultKind::Status(500),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in ["repository", "branch", "repository-policy", "pull-request"] {
        let listing = fetch(&ado, kind, json!({})).await;
        assert!(!listing.complete, "{kind}");
        assert!(listing.error.unwrap().contains("HTTP 500"), "{kind}");
    }
    assert_eq!(
        fake.requests("repositories"),
        2 + 3,
        "the repository list is fetched once"
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
