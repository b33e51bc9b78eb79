//! The organization family under faults: a 500 mid-paging or on one parent, a refused PAT,
//! a failed subject lookup, a 400 or a 404 that does not say "none": each leaves the kind
//! incomplete, never short; only ADO's typed "nothing here" answers read as none.

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind, NotFoundBody};
use adoport::testkit::synthetic_org::OrgSpec;
use serde_json::json;

use crate::ado::{complete, fake, fast, fetch, source};
use crate::ado_org::incomplete_saying;

/// A fake whose pages hold 2 items, with `fault` added.
async fn faulty(spec: &OrgSpec, fault: Fault) -> FakeAdo {
    let fake = fake(
        spec,
        FakeConfig {
            max_page: Some(2),
            ..FakeConfig::default()
        },
    )
    .await;
    fake.add_fault(fault);
    fake
}

#[tokio::test]
async fn a_500_mid_paging_makes_each_kind_incomplete_with_the_pages_before_kept() {
    let spec = OrgSpec {
        teams_per_project: 2,
        ..OrgSpec::small()
    };
    // (kind, endpoint whose second page fails for good)
    for (kind, endpoint) in [
        ("member", "teams"),
        ("iteration", "teams"),
        ("group", "graph-groups"),
        ("group-member", "graph-groups"),
        ("wiki", "wiki-pages-batch"),
    ] {
        let fake = faulty(
            &spec,
            Fault::from_request(endpoint, 2, FaultKind::Status(500)),
        )
        .await;
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let listing = fetch(&ado, kind, json!({})).await;
        incomplete_saying(&listing, "HTTP 500");
        assert!(!listing.items.is_empty(), "{kind}: the first page is kept");
    }
    let fake = faulty(
        &spec,
        Fault::from_request("advsec-alerts", 2, FaultKind::Status(500)),
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let alerts = fetch(&ado, "advanced-security-alert", json!({})).await;
    incomplete_saying(&alerts, "HTTP 500");
}

#[tokio::test]
async fn a_500_on_one_parent_makes_the_kind_incomplete_not_empty() {
    let spec = OrgSpec::small();
    for (kind, endpoint) in [
        ("member", "team-members"),
        ("iteration", "team-iterations"),
        ("area-path", "area-nodes"),
        ("wiki", "wikis"),
        ("wiki", "wiki-page"),
    ] {
        let fake = faulty(
            &spec,
            Fault::from_request(endpoint, 1, FaultKind::Status(500)),
        )
        .await;
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        let selector = if endpoint == "wiki-page" {
            json!({"includeContent": true})
        } else {
            json!({})
        };
        let listing = fetch(&ado, kind, selector).await;
        incomplete_saying(&listing, "HTTP 500");
    }
}

#[tokio::test]
async fn a_failed_subject_lookup_makes_group_members_incomplete_where_port_skips_it() {
    let spec = OrgSpec::small();
    let fake = faulty(
        &spec,
        Fault::from_request("subject-lookup", 1, FaultKind::Status(500)),
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "group-member", json!({})).await;
    incomplete_saying(&listing, "subject lookup");
    assert!(listing.items.is_empty());
}

#[tokio::test]
async fn a_refused_pat_makes_each_kind_incomplete_naming_the_scope() {
    let spec = OrgSpec::small();
    for (kind, endpoint, scope) in [
        ("member", "team-members", "Project and Team (Read)"),
        ("group", "graph-groups", "Graph (Read)"),
        ("group-member", "graph-memberships", "Graph (Read)"),
        ("iteration", "team-iterations", "Work Items (Read)"),
        ("area-path", "area-nodes", "Work Items (Read)"),
        (
            "advanced-security-alert",
            "advsec-alerts",
            "Advanced Security (Read)",
        ),
        ("wiki", "wikis", "Code (Read)"),
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
        incomplete_saying(&listing, &format!("\"{scope}\" scope"));
        assert!(listing.is_unauthorized(), "{kind}");
    }
}

#[tokio::test]
async fn only_advanced_securitys_own_400_means_a_repository_has_no_alerts() {
    let spec = OrgSpec::small();
    // Any other 400 (here ADO's generic error body) cuts the listing short.
    let fake = faulty(
        &spec,
        Fault::once("advsec-alerts", 1, FaultKind::Status(400)),
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "advanced-security-alert", json!({})).await;
    incomplete_saying(&listing, "HTTP 400");
}

#[tokio::test]
async fn a_404_is_none_only_when_ado_types_it_so() {
    let spec = OrgSpec::small();
    // A team deleted since the team list was read has no iterations.
    let fake = faulty(
        &spec,
        Fault::once(
            "team-iterations",
            1,
            FaultKind::NotFound(NotFoundBody::Typed("TeamNotFoundException".into())),
        ),
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "iteration", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), spec.iterations_per_team);
    // A wiki page deleted between the page list and its read is left out.
    let fake = faulty(
        &spec,
        Fault::once(
            "wiki-page",
            1,
            FaultKind::NotFound(NotFoundBody::Typed("WikiPageNotFoundException".into())),
        ),
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "wiki", json!({"includeContent": true})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 3 * spec.wiki_pages - 1);
    // A 404 that does not say what is missing is not "none".
    for (kind, endpoint) in [
        ("area-path", "area-nodes"),
        ("group-member", "graph-memberships"),
        ("advanced-security-alert", "advsec-alerts"),
    ] {
        let fake = faulty(
            &spec,
            Fault::once(endpoint, 1, FaultKind::NotFound(NotFoundBody::Html)),
        )
        .await;
        let ado = source(&fake, &fake.pat(), fast(), spec.now);
        incomplete_saying(&fetch(&ado, kind, json!({})).await, "HTTP 404");
    }
}
