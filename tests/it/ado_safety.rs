//! The ADO source against servers that misbehave in ways that once cost data or hung a run:
//! 404s that say nothing, endless pagination, oversized bodies, absurd delay headers,
//! error pages echoing the PAT, refused PATs that must reach the exit code, and the debug
//! line each request logs. All over real HTTP against the fake ADO server.

use std::time::{Duration, Instant};

use adoport::ado::{ClientOptions, Incomplete, Listing, Scope, SnapshotWriter};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind, NotFoundBody};
use adoport::testkit::synthetic_org::OrgSpec;
use serde_json::json;

use crate::ado::{complete, fake, fast, fetch, source};
use crate::port_safety::Captured;

/// One project holding all 30 builds, pages of 4 items: builds take 8 pages.
fn one_project() -> OrgSpec {
    OrgSpec {
        projects: 1,
        ..OrgSpec::small()
    }
}

async fn paged_fake(spec: &OrgSpec) -> FakeAdo {
    fake(
        spec,
        FakeConfig {
            max_page: Some(4),
            ..FakeConfig::default()
        },
    )
    .await
}

/// Fetches `kind`, failing the test (instead of hanging it) after 30 seconds.
async fn fetch_within(ado: &adoport::ado::AdoSource, kind: &str) -> Listing {
    tokio::time::timeout(Duration::from_secs(30), fetch(ado, kind, json!({})))
        .await
        .expect("the listing never ended")
}

fn reason(listing: &Listing) -> String {
    assert!(!listing.complete, "{} should be incomplete", listing.kind);
    listing.error.clone().unwrap_or_default()
}

#[tokio::test]
async fn a_404_without_ados_typed_error_makes_builds_incomplete_instead_of_empty() {
    let spec = OrgSpec::small();
    for body in [
        NotFoundBody::Html,
        NotFoundBody::Empty,
        NotFoundBody::Typed("SomethingElseEntirelyException".into()),
    ] {
        let fake = fake(&spec, FakeConfig::default()).await;
        fake.add_fault(Fault::from_request(
            "builds",
            1,
            FaultKind::NotFound(body.clone()),
        ));
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let listing = fetch(&ado, "build", json!({})).await;
        let why = reason(&listing);
        assert!(why.contains("HTTP 404"), "{body:?}: {why}");
        assert_eq!(listing.cause, Some(Incomplete::Failed), "{body:?}");
    }
    // A bare status 404 carries the generic key, which says nothing about the parent either.
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request("builds", 1, FaultKind::Status(404)));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    assert!(reason(&fetch(&ado, "build", json!({})).await).contains("VssServiceException"));
}

#[tokio::test]
async fn a_404_saying_the_listed_project_is_gone_reads_as_none_for_that_project() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::once(
        "builds",
        1,
        FaultKind::NotFound(NotFoundBody::Typed("ProjectDoesNotExistException".into())),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    complete(&listing);
    // Every build of the other project, and none of the one ADO says is gone.
    let projects: std::collections::HashSet<&str> = listing
        .items
        .iter()
        .filter_map(|b| b["project"]["id"].as_str())
        .collect();
    assert_eq!(projects.len(), 1, "{projects:?}");
    let listed = projects.into_iter().next().unwrap_or_default();
    let expected = fake
        .org()
        .builds
        .iter()
        .filter(|b| b["project"]["id"] == listed)
        .count();
    assert_eq!(listing.items.len(), expected);
    assert!(expected < 30);
}

#[tokio::test]
async fn a_404_on_a_listing_without_a_parent_is_never_none() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request(
        "teams",
        1,
        FaultKind::NotFound(NotFoundBody::Typed("ProjectDoesNotExistException".into())),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    assert!(reason(&fetch(&ado, "team", json!({})).await).contains("404"));
}

#[tokio::test]
async fn a_continuation_token_cycle_ends_the_listing_incomplete() {
    let spec = one_project();
    let fake = paged_fake(&spec).await;
    // Tokens 4, 0, 4, 0…: never the same twice in a row, never an end.
    fake.add_fault(Fault::from_request(
        "builds",
        1,
        FaultKind::ContinuationCycle(8),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch_within(&ado, "build").await;
    assert!(reason(&listing).contains("returned before"), "{listing:?}");
    assert!(fake.requests("builds") <= 3, "{:?}", fake.counts());
}

#[tokio::test]
async fn a_new_token_on_every_empty_page_ends_the_listing_incomplete() {
    let spec = one_project();
    let fake = paged_fake(&spec).await;
    fake.add_fault(Fault::from_request(
        "builds",
        2,
        FaultKind::EmptyPagesForever,
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch_within(&ado, "build").await;
    assert!(
        reason(&listing).contains("brought nothing new"),
        "{listing:?}"
    );
    assert_eq!(listing.items.len(), 4, "the first page is kept");
    assert_eq!(fake.requests("builds"), 2);
}

#[tokio::test]
async fn a_skip_endpoint_that_ignores_skip_ends_the_listing_incomplete() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            max_page: Some(1),
            ..FakeConfig::default()
        },
    )
    .await;
    fake.add_fault(Fault::from_request("teams", 1, FaultKind::IgnoreSkip));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch_within(&ado, "team").await;
    assert!(
        reason(&listing).contains("brought nothing new"),
        "{listing:?}"
    );
    assert_eq!(listing.items.len(), 1);
    assert_eq!(fake.requests("teams"), 2);
}

#[tokio::test]
async fn a_listing_longer_than_the_page_cap_ends_incomplete() {
    let spec = one_project();
    let fake = paged_fake(&spec).await;
    let options = ClientOptions {
        max_pages: 3,
        ..fast()
    };
    let ado = source(&fake, &fake.pat(), options, spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    assert!(reason(&listing).contains("within 3 pages"), "{listing:?}");
    assert_eq!(listing.items.len(), 12);
}

#[tokio::test]
async fn a_body_just_over_the_cap_fails_the_listing_instead_of_being_buffered() {
    let spec = one_project();
    let cap = 64 << 10;
    let options = || ClientOptions {
        max_body_bytes: cap,
        ..fast()
    };
    // Exactly at the cap: read (an empty page of builds, so the listing is complete).
    let fake_at = fake(&spec, FakeConfig::default()).await;
    fake_at.add_fault(Fault::once("builds", 1, FaultKind::Oversize(cap)));
    let ado = source(&fake_at, &fake_at.pat(), options(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    complete(&listing);
    assert!(listing.items.is_empty());
    // One byte over: the listing fails, and the answer is not retried.
    let fake_over = fake(&spec, FakeConfig::default()).await;
    fake_over.add_fault(Fault::once("builds", 1, FaultKind::Oversize(cap + 1)));
    let ado = source(&fake_over, &fake_over.pat(), options(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    assert!(
        reason(&listing).contains(&format!("larger than the {cap}-byte cap")),
        "{listing:?}"
    );
    assert_eq!(fake_over.requests("builds"), 1);
}

#[tokio::test]
async fn absurd_retry_after_values_from_ado_are_clamped_without_a_panic() {
    let spec = one_project();
    let mut options = fast();
    options.retry.max_wait = Duration::from_millis(50);
    for value in [
        "1e20",
        "1e300",
        "-5",
        "garbage",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let fake = fake(&spec, FakeConfig::default()).await;
        fake.add_fault(Fault::once(
            "builds",
            1,
            FaultKind::TooManyRequestsSaying(value.into()),
        ));
        fake.add_fault(Fault::once(
            "projects",
            1,
            FaultKind::ExtraHeaders(vec![
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), value.into()),
                ("x-ratelimit-delay".into(), value.into()),
            ]),
        ));
        let ado = source(&fake, &fake.pat(), options.clone(), spec.now);
        let started = Instant::now();
        let listing = fetch(&ado, "build", json!({})).await;
        complete(&listing);
        assert_eq!(listing.items.len(), 30, "{value}");
        assert_eq!(fake.requests("builds"), 2, "{value}: one retry");
        assert!(started.elapsed() < Duration::from_secs(5), "{value}");
    }
}

#[tokio::test]
async fn ados_rate_limit_delay_slows_every_following_request() {
    let spec = one_project();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::once(
        "projects",
        1,
        FaultKind::ExtraHeaders(vec![("x-ratelimit-delay".into(), "0.400".into())]),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let started = Instant::now();
    complete(&fetch(&ado, "build", json!({})).await);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the builds request waited as long as ADO held the projects request"
    );
}

#[tokio::test]
async fn an_ado_error_echoing_the_authorization_header_never_reaches_a_reason_or_a_snapshot() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request(
        "builds",
        1,
        FaultKind::EchoAuthorization,
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    let why = reason(&listing);
    assert!(why.contains("HTTP 500"), "{why}");
    assert!(why.contains("[redacted]"), "the echo was there: {why}");
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SnapshotWriter::create(dir.path(), fake.org_url()).unwrap();
    writer.record(&listing).unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(!why.contains('\n'), "one line: {why}");
    for text in [why.as_str(), manifest.as_str()] {
        assert!(!text.contains(&fake.pat()), "{text}");
        assert!(!text.contains(&base64_of(&format!(":{}", fake.pat()))));
    }
}

#[tokio::test]
async fn a_refused_pat_marks_the_listing_unauthorized_so_the_run_can_fail() {
    let spec = OrgSpec::small();
    let denied = |endpoints: &[&str]| FakeConfig {
        denied: endpoints.iter().map(|e| (*e).to_owned()).collect(),
        ..FakeConfig::default()
    };
    let fake_builds = fake(&spec, denied(&["builds"])).await;
    let ado = source(&fake_builds, &fake_builds.pat(), fast(), spec.now);
    let listing = fetch(&ado, "build", json!({})).await;
    assert_eq!(
        listing.cause,
        Some(Incomplete::Unauthorized {
            scope: Scope::Build
        })
    );
    assert!(listing.is_unauthorized());
    complete(&fetch(&ado, "project", json!({})).await);

    // Refused on the parent list: every kind built on it carries the auth failure.
    let fake_projects = fake(&spec, denied(&["projects"])).await;
    let ado = source(&fake_projects, &fake_projects.pat(), fast(), spec.now);
    for kind in ["build", "repository", "branch"] {
        assert_eq!(
            fetch(&ado, kind, json!({})).await.cause,
            Some(Incomplete::Unauthorized {
                scope: Scope::ProjectAndTeam
            }),
            "{kind}"
        );
    }

    // An auth failure is not hidden behind another failure of the same kind: one team's
    // board list fails (400, not retried), the other's board details are refused.
    let fake_mixed = fake(&spec, denied(&["board"])).await;
    fake_mixed.add_fault(Fault::once("boards", 1, FaultKind::Status(400)));
    let ado = source(&fake_mixed, &fake_mixed.pat(), fast(), spec.now);
    let boards = fetch(&ado, "board", json!({})).await;
    assert!(reason(&boards).contains("HTTP 400"), "{boards:?}");
    assert!(boards.is_unauthorized(), "{boards:?}");

    // Other failures are plain failures.
    let fake_500 = fake(&spec, FakeConfig::default()).await;
    fake_500.add_fault(Fault::from_request("builds", 1, FaultKind::Status(500)));
    let ado = source(&fake_500, &fake_500.pat(), fast(), spec.now);
    assert_eq!(
        fetch(&ado, "build", json!({})).await.cause,
        Some(Incomplete::Failed)
    );
}

#[tokio::test]
async fn each_ado_request_is_logged_at_debug_with_method_path_status_and_time_and_no_secret() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::once("builds", 1, FaultKind::EchoAuthorization));
    let captured = Captured::default();
    let _guard = captured.install();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    complete(&fetch(&ado, "build", json!({})).await);
    let log = captured.text();
    let line = log
        .lines()
        .find(|l| l.contains("http exchange") && l.contains("/_apis/projects"))
        .unwrap_or_else(|| panic!("no exchange logged: {log}"));
    for field in [
        "method=\"GET\"",
        "path=/acme/_apis/projects",
        "status=200",
        "elapsed_ms=",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(log.contains("status=500"), "{log}");
    for exchange in log.lines().filter(|l| l.contains("http exchange")) {
        assert!(!exchange.contains('?'), "no query: {exchange}");
    }
    assert!(!log.contains(&fake.pat()), "{log}");
    assert!(
        !log.contains(&base64_of(&format!(":{}", fake.pat()))),
        "{log}"
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
