//! The delivery kinds under faults: a timeline, page, results or coverage read that fails,
//! a refused PAT, a 404 with and without ADO's typed key, and the runs list's cap. Each
//! must make its kind incomplete (never read as empty), naming why.

use std::collections::HashSet;

use adoport::ado::{Incomplete, Scope, Source};
use adoport::testkit::fake_ado::{FakeConfig, Fault, FaultKind, NotFoundBody, RUNS_CAP};
use adoport::testkit::synthetic_org::OrgSpec;
use adoport::testkit::synthetic_pipelines::DeliverySpec;
use serde_json::json;

use crate::ado::{complete, fake, fast, fetch, selector, source};
use crate::ado_pipelines::{paged, reason};

#[tokio::test]
async fn a_pipeline_with_as_many_runs_as_the_list_returns_makes_the_kind_incomplete() {
    let spec = OrgSpec {
        projects: 1,
        repos_per_project: 1,
        pull_requests: 0,
        work_items: 0,
        pipelines: 1,
        builds: RUNS_CAP + 1,
        releases: 0,
        delivery: DeliverySpec {
            environments_per_project: 0,
            release_definitions_per_project: 0,
            release_deployments: 0,
            test_runs: 0,
            ..DeliverySpec::small()
        },
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "pipeline-run", json!({})).await;
    assert_eq!(
        runs.items.len(),
        RUNS_CAP,
        "the latest runs, as ADO returns them"
    );
    let why = reason(&runs);
    assert!(why.contains("older runs may be missing"), "{why}");
    assert_eq!(runs.cause, Some(Incomplete::Failed));
    assert_eq!(
        fake.requests("pipeline-runs"),
        1,
        "the list has no next page to ask for"
    );
}

#[tokio::test]
async fn a_failing_timeline_makes_pipeline_stages_incomplete_instead_of_dropping_its_stages() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request(
        "build-timeline",
        5,
        FaultKind::Status(500),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let stages = fetch(&ado, "pipeline-stage", json!({})).await;
    assert!(reason(&stages).contains("HTTP 500"), "{:?}", stages.error);
    assert!(
        !stages.items.is_empty(),
        "the timelines read before it are kept"
    );
}

#[tokio::test]
async fn a_timeline_of_a_build_deleted_since_the_list_is_none_but_an_untyped_404_is_not() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::once(
        "build-timeline",
        1,
        FaultKind::NotFound(NotFoundBody::Typed("BuildNotFoundException".into())),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let stages = fetch(&ado, "pipeline-stage", json!({})).await;
    complete(&stages);
    let builds: HashSet<String> = stages
        .items
        .iter()
        .map(|s| s["__build"]["id"].to_string())
        .collect();
    assert_eq!(builds.len(), 29, "one build gone, the rest complete");

    let fake = crate::ado::fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::once(
        "build-timeline",
        1,
        FaultKind::NotFound(NotFoundBody::Html),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    assert!(reason(&fetch(&ado, "pipeline-stage", json!({})).await).contains("404"));
}

#[tokio::test]
async fn a_500_mid_paging_makes_each_delivery_kind_incomplete() {
    let spec = OrgSpec::small();
    for (kind, endpoint) in [
        ("test-run", "test-runs"),
        ("test-run", "test-results"),
        ("environment", "environments"),
        ("pipeline-deployment", "environment-deployments"),
        ("pipeline-deployment", "environments"),
        ("release-definition", "release-definitions"),
        ("release-deployment", "release-deployments"),
        ("pipeline-run", "pipeline-runs"),
        ("pipeline-run", "pipelines"),
        ("pipeline-stage", "builds"),
    ] {
        let fake = fake(&spec, paged(1)).await;
        fake.add_fault(Fault::from_request(endpoint, 2, FaultKind::Status(500)));
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let listing = fetch(&ado, kind, json!({})).await;
        let why = reason(&listing);
        assert!(why.contains("HTTP 500"), "{kind} / {endpoint}: {why}");
        assert_eq!(
            listing.cause,
            Some(Incomplete::Failed),
            "{kind} / {endpoint}"
        );
    }
}

#[tokio::test]
async fn a_refused_pat_makes_each_delivery_kind_incomplete_naming_the_scope() {
    let spec = OrgSpec::small();
    for (kind, endpoint, scope) in [
        ("pipeline-stage", "build-timeline", Scope::Build),
        ("pipeline-run", "pipeline-runs", Scope::Build),
        ("environment", "environments", Scope::Environment),
        (
            "pipeline-deployment",
            "environment-deployments",
            Scope::Environment,
        ),
        ("release-definition", "release-definitions", Scope::Release),
        ("release-deployment", "release-deployments", Scope::Release),
        ("test-run", "test-runs", Scope::TestManagement),
        ("test-run", "test-results", Scope::TestManagement),
    ] {
        let fake = fake(
            &spec,
            FakeConfig {
                denied: vec![endpoint.into()],
                ..FakeConfig::default()
            },
        )
        .await;
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let listing = fetch(&ado, kind, json!({})).await;
        let why = reason(&listing);
        assert!(why.contains("HTTP 401"), "{kind}: {why}");
        assert!(why.contains(&format!("\"{scope}\" scope")), "{kind}: {why}");
        assert!(listing.is_unauthorized(), "{kind}");
    }
}

#[tokio::test]
async fn a_failed_coverage_read_leaves_the_field_out_and_the_kind_incomplete() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    fake.add_fault(Fault::from_request(
        "code-coverage",
        1,
        FaultKind::Status(500),
    ));
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "test-run", json!({"codeCoverage": {"flags": 1}})).await;
    assert!(reason(&runs).contains("code coverage of build"));
    assert_eq!(runs.items.len(), 6, "every run is still there");
    let manual = runs.items.iter().filter(|r| r.get("build").is_none());
    assert!(manual.clone().all(|r| r["__codeCoverage"] == json!({})));
    assert!(
        runs.items
            .iter()
            .filter(|r| r.get("build").is_some())
            .all(|r| r.get("__codeCoverage").is_none()),
        "no coverage rather than a wrong one"
    );
}

/// The kinds `adoport fetch` writes as they arrive (`Source::fetch_into`), under a fault
/// from an endpoint's second request on: whatever was handed over before it, the verdict
/// is incomplete (never a short list passed off as whole), names the failure, and counts
/// exactly the items handed over.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_mid_listing_leaves_each_streamed_kind_incomplete_counting_what_was_handed_over() {
    let spec = OrgSpec::small();
    for (kind, options, endpoint) in [
        ("pipeline-stage", json!({}), "builds"),
        ("pipeline-stage", json!({}), "build-timeline"),
        ("build", json!({}), "builds"),
        (
            "build",
            json!({"enrichWithFirstCommit": true}),
            "build-changes",
        ),
        ("pipeline-run", json!({}), "pipeline-runs"),
        ("test-run", json!({}), "test-runs"),
        ("test-run", json!({}), "test-results"),
        ("release", json!({}), "releases"),
        ("work-item", json!({}), "work-items"),
    ] {
        let fake = fake(&spec, paged(1)).await;
        fake.add_fault(Fault::from_request(endpoint, 2, FaultKind::Status(500)));
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let handed = std::sync::atomic::AtomicUsize::new(0);
        let verdict = ado
            .fetch_into(kind, &selector(options), &|items| {
                handed.fetch_add(items.len(), std::sync::atomic::Ordering::Relaxed);
            })
            .await;
        let why = reason(&verdict);
        assert!(why.contains("HTTP 500"), "{kind} / {endpoint}: {why}");
        assert_eq!(
            verdict.cause,
            Some(Incomplete::Failed),
            "{kind} / {endpoint}"
        );
        assert!(verdict.items.is_empty(), "{kind} / {endpoint}");
        let counts: Vec<(usize, bool)> = verdict
            .parts
            .iter()
            .map(|p| (p.count, p.complete))
            .collect();
        assert_eq!(
            counts,
            [(handed.into_inner(), false)],
            "{kind} / {endpoint}"
        );
    }
}
