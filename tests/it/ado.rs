//! The ADO source against the fake ADO server over real HTTP: every kind's raw items and
//! enrichment fields, request counts, and the faults that must make a listing incomplete.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use adoport::ado::retry::RetryConfig;
use adoport::ado::{AdoSource, Client, ClientOptions, Listing, OrgUrl, Pat, Source, SourceOptions};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind, RateLimit};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};
use serde_json::{Map, Value, json};

fn fast() -> ClientOptions {
    ClientOptions {
        concurrency: 8,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryConfig {
            max_retries: 3,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        },
    }
}

async fn fake(spec: &OrgSpec, config: FakeConfig) -> FakeAdo {
    FakeAdo::start(generate(spec), config).await.unwrap()
}

fn source(fake: &FakeAdo, pat: &str, options: ClientOptions, now: jiff::Timestamp) -> AdoSource {
    let org = OrgUrl::parse(&fake.org_url()).unwrap();
    let client = Client::new(org, &Pat::new(pat), options).unwrap();
    AdoSource::new(
        client,
        SourceOptions {
            now: Some(now),
            ..SourceOptions::default()
        },
    )
}

fn selector(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

async fn fetch(source: &AdoSource, kind: &str, sel: Value) -> Listing {
    source.fetch(kind, &selector(sel)).await
}

/// Strips the org fields every item gets, to compare with the generator's raw items.
fn raw(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            if let Value::Object(map) = &mut item {
                assert!(
                    map.remove("__organizationUrl").is_some(),
                    "__organizationUrl missing"
                );
                assert_eq!(map.remove("__organizationName"), Some(json!("acme")));
            }
            item
        })
        .collect()
}

fn complete(listing: &Listing) {
    assert!(
        listing.complete,
        "{} incomplete: {:?}",
        listing.kind, listing.error
    );
}

#[tokio::test]
async fn every_kind_yields_raw_items_with_ports_enrichment_fields() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org: &SyntheticOrg = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);

    let projects = fetch(&ado, "project", json!({"query": "true"})).await;
    complete(&projects);
    assert_eq!(raw(&projects.items), org.projects);
    assert_eq!(
        projects.items[0]["__organizationUrl"],
        json!(fake.org_url())
    );

    let with_team = fetch(&ado, "project", json!({"defaultTeam": "true"})).await;
    complete(&with_team);
    assert_eq!(with_team.items[0]["defaultTeam"]["name"], "project-00 Team");

    let teams = fetch(&ado, "team", json!({"includeMembers": true})).await;
    complete(&teams);
    assert_eq!(teams.items.len(), 2);
    assert_eq!(
        teams.items[0]["__members"].as_array().map(Vec::len),
        Some(3)
    );

    let users = fetch(&ado, "user", json!({})).await;
    complete(&users);
    assert_eq!(raw(&users.items), org.entitlements);
    let graph = fetch(&ado, "user", json!({"source": "graph"})).await;
    complete(&graph);
    assert_eq!(raw(&graph.items), org.graph_users);

    let repos = fetch(
        &ado,
        "repository",
        json!({"includedFiles": ["README.md", "CODEOWNERS"]}),
    )
    .await;
    complete(&repos);
    assert_eq!(repos.items.len(), 6);
    assert_eq!(
        repos.items[0]["__includedFiles"]["README.md"],
        "# project-00-repo-00\n\nService 0 of project-00.\n"
    );
    assert_eq!(
        repos.items[1]["__includedFiles"]["CODEOWNERS"], "",
        "a missing file reads as empty"
    );

    let policies = fetch(&ado, "repository-policy", json!({})).await;
    complete(&policies);
    assert_eq!(policies.items.len(), 12);
    assert_eq!(policies.items[0]["__repository"]["id"], org.repos[0]["id"]);
    assert_eq!(
        policies.items[0]["type"]["displayName"],
        "Minimum number of reviewers"
    );

    let branches = fetch(&ado, "branch", json!({})).await;
    complete(&branches);
    assert_eq!(branches.items.len(), 12);
    let first = &branches.items[0];
    assert_eq!(first["name"], "main");
    assert_eq!(first["refName"], "refs/heads/main");
    assert_eq!(
        first["objectId"],
        org.refs[org.repos[0]["id"].as_str().unwrap()][0]["objectId"]
    );
    assert_eq!(first["__repository"], org.repos[0]);

    let prs = fetch(&ado, "pull-request", json!({})).await;
    complete(&prs);
    let since = spec.now - jiff::SignedDuration::from_hours(24 * 7);
    let expected: HashSet<u64> = org
        .pull_requests
        .iter()
        .filter(|pr| {
            pr["status"] == "active"
                || pr["closedDate"]
                    .as_str()
                    .unwrap()
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    >= since
        })
        .map(|pr| pr["pullRequestId"].as_u64().unwrap())
        .collect();
    let got: HashSet<u64> = prs
        .items
        .iter()
        .map(|pr| pr["pullRequestId"].as_u64().unwrap())
        .collect();
    assert_eq!(got, expected);
    assert!(
        prs.items.iter().any(|pr| pr["status"] != "active"),
        "closed pull requests are included"
    );

    let capped = fetch(
        &ado,
        "pull-request",
        json!({"maxResults": 1, "minTimeInDays": 30}),
    )
    .await;
    let mut closed_per_repo: HashMap<(String, String), usize> = HashMap::new();
    for pr in capped.items.iter().filter(|pr| pr["status"] != "active") {
        *closed_per_repo
            .entry((pr["repository"]["id"].to_string(), pr["status"].to_string()))
            .or_default() += 1;
    }
    assert!(
        closed_per_repo.values().all(|n| *n == 1),
        "maxResults caps each status per repository"
    );

    let pipelines = fetch(&ado, "pipeline", json!({"includeRepo": true})).await;
    complete(&pipelines);
    assert_eq!(pipelines.items.len(), 5);
    assert!(pipelines.items[0]["__projectId"].is_string());
    assert_eq!(pipelines.items[0]["__repository"]["type"], "TfsGit");
    assert!(pipelines.items[0]["__repository"]["project"]["id"].is_string());

    let builds = fetch(&ado, "build", json!({})).await;
    complete(&builds);
    assert_eq!(builds.items.len(), 30);
    assert_eq!(
        builds.items[0]["__project"]["id"],
        builds.items[0]["__projectId"]
    );
    assert_eq!(
        builds.items[0]["__project"]["id"],
        builds.items[0]["project"]["id"]
    );
    let listed = org
        .projects
        .iter()
        .find(|p| p["id"] == builds.items[0]["project"]["id"]);
    assert_eq!(
        Some(&builds.items[0]["__project"]),
        listed,
        "__project is the listed project"
    );

    let releases = fetch(&ado, "release", json!({})).await;
    complete(&releases);
    assert_eq!(releases.items.len(), 6);
    let abandoned = fetch(&ado, "release", json!({"statusFilter": "abandoned"})).await;
    assert!(
        abandoned.items.iter().all(|r| r["status"] == "abandoned") && !abandoned.items.is_empty()
    );

    let work_items = fetch(&ado, "work-item", json!({"expand": "All"})).await;
    complete(&work_items);
    assert_eq!(work_items.items.len(), 100);
    let by_id: HashMap<u64, &Value> = work_items
        .items
        .iter()
        .map(|w| (w["id"].as_u64().unwrap(), w))
        .collect();
    let seven = by_id[&7];
    assert_eq!(seven["fields"], org.work_items[6]["fields"]);
    assert_eq!(seven["relations"], org.work_items[6]["relations"]);
    assert_eq!(
        seven["__project"]["name"],
        seven["fields"]["System.TeamProject"]
    );
    assert_eq!(seven["__projectId"], seven["__project"]["id"]);
    let fields_only = fetch(&ado, "work-item", json!({"expand": "Fields"})).await;
    assert!(fields_only.items[0].get("relations").is_none());

    let boards = fetch(&ado, "board", json!({})).await;
    complete(&boards);
    assert_eq!(boards.items.len(), 6);
    assert_eq!(boards.items[0]["columns"].as_array().map(Vec::len), Some(4));
    assert!(boards.items[0]["__project"]["id"].is_string());

    let columns = fetch(&ado, "column", json!({})).await;
    complete(&columns);
    assert_eq!(columns.items.len(), 24);
    assert_eq!(columns.items[0]["__stateType"], "Epic");
    assert_eq!(columns.items[0]["__stateName"], "New");
    assert!(columns.items[0]["__board"]["__project"]["id"].is_string());
}

#[tokio::test]
async fn an_unknown_kind_is_incomplete_not_empty() {
    let fake = fake(&OrgSpec::small(), FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), OrgSpec::small().now);
    let listing = fetch(&ado, "wiki-page", json!({})).await;
    assert!(!listing.complete);
    assert!(listing.error.unwrap().contains("not a supported kind"));
}

#[tokio::test]
async fn request_counts_of_a_small_org_match_the_formula() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in [
        "project",
        "team",
        "user",
        "repository",
        "repository-policy",
        "branch",
        "pull-request",
        "pipeline",
        "build",
        "release",
        "work-item",
        "board",
        "column",
    ] {
        complete(&fetch(&ado, kind, json!({})).await);
    }
    let p = spec.projects as u64;
    let r = (spec.projects * spec.repos_per_project) as u64;
    let t = (spec.projects * spec.teams_per_project) as u64;
    let per_project_items = spec.work_items.div_ceil(spec.projects) as u64;
    let expected: Vec<(&str, u64)> = vec![
        ("projects", 1), // one page, shared by every kind
        ("teams", 2),    // one page + the empty page that ends $skip paging
        ("user-entitlements", 1),
        ("repositories", p), // fetched once, shared
        ("policies", r),
        ("refs", r),
        ("pull-requests", p * 3 * 2), // 3 status passes per project, page + empty page
        ("pipelines", p),
        ("builds", p),
        ("releases", p),
        ("wiql", p),
        ("work-items", p * per_project_items.div_ceil(200)),
        ("project-teams", p * 2),
        ("boards", t),
        ("board", t * 3),
    ];
    let counts = fake.counts();
    for (endpoint, n) in &expected {
        assert_eq!(
            counts.get(*endpoint).copied().unwrap_or(0),
            *n,
            "{endpoint}: {counts:?}"
        );
    }
    let total: u64 = expected.iter().map(|(_, n)| n).sum();
    assert_eq!(fake.total_requests(), total, "{counts:?}");
    assert_eq!(ado.client().request_count(), total);
}

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
