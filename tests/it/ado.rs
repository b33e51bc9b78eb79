//! The ADO source against the fake ADO server over real HTTP: every kind's raw items and
//! enrichment fields, request counts, and the faults that must make a listing incomplete.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use adoport::ado::retry::RetryConfig;
use adoport::ado::{AdoSource, Client, ClientOptions, Listing, OrgUrl, Pat, Source, SourceOptions};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};
use serde_json::{Map, Value, json};

pub(crate) fn fast() -> ClientOptions {
    ClientOptions {
        concurrency: 8,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryConfig {
            max_retries: 3,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
        },
        ..ClientOptions::default()
    }
}

pub(crate) async fn fake(spec: &OrgSpec, config: FakeConfig) -> FakeAdo {
    FakeAdo::start(generate(spec), config).await.unwrap()
}

pub(crate) fn source(
    fake: &FakeAdo,
    pat: &str,
    options: ClientOptions,
    now: jiff::Timestamp,
) -> AdoSource {
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

pub(crate) fn selector(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) async fn fetch(source: &AdoSource, kind: &str, sel: Value) -> Listing {
    source.fetch(kind, &selector(sel)).await
}

/// Strips the org fields every item gets, to compare with the generator's raw items.
pub(crate) fn raw(items: &[Value]) -> Vec<Value> {
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

pub(crate) fn complete(listing: &Listing) {
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
    // Per repository: the project-wide policy, then its own two, as ADO's per-repository
    // filter would return them.
    assert_eq!(policies.items.len(), 18);
    assert_eq!(policies.items[0]["__repository"]["id"], org.repos[0]["id"]);
    assert_eq!(
        policies.items[0]["type"]["displayName"],
        "Comment requirements"
    );
    assert_eq!(
        policies.items[1]["type"]["displayName"],
        "Minimum number of reviewers"
    );
    assert_eq!(policies.items[3]["__repository"]["id"], org.repos[1]["id"]);
    let foreign = policies.items[..3]
        .iter()
        .filter(|p| {
            p["settings"]["scope"][0]["repositoryId"]
                .as_str()
                .is_some_and(|r| r != org.repos[0]["id"])
        })
        .count();
    assert_eq!(foreign, 0, "another repository's policy is never attached");

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
    assert!(
        listing
            .error
            .unwrap()
            .contains("not a kind this version fetches")
    );
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
        ("policies", p),     // one list per project, matched to repositories
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

#[tokio::test]
async fn the_example_snapshot_replays_every_kind_complete() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ado-snapshot");
    let snapshot = adoport::ado::Snapshot::open(&dir).unwrap();
    // Every kind is recorded.
    assert_eq!(snapshot.manifest().kinds.len(), adoport::ado::KINDS.len());
    for kind in adoport::ado::KINDS {
        let listing = snapshot.fetch(kind.name, &Map::new()).await;
        complete(&listing);
        assert!(!listing.items.is_empty(), "{}", kind.name);
        assert!(
            listing
                .items
                .iter()
                .all(|i| i["__organizationName"] == "acme")
        );
    }
}

async fn run_fetch(fake: &FakeAdo, out: &std::path::Path, kinds: &str) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
    command
        .args(["fetch", "--out"])
        .arg(out)
        .args(["--kinds", kinds])
        .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
        .env("AZURE_DEVOPS_PAT", fake.pat());
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_records_a_snapshot_that_replays_what_the_source_yielded() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let output = run_fetch(&fake, dir.path(), "project,work-item,column").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("work-item"), "{stdout}");
    assert!(stdout.contains("0 incomplete kind(s)"), "{stdout}");
    let snapshot = adoport::ado::Snapshot::open(dir.path()).unwrap();
    let live = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in ["project", "work-item", "column"] {
        let recorded = snapshot.fetch(kind, &Map::new()).await;
        complete(&recorded);
        assert_eq!(
            recorded.items,
            fetch(&live, kind, json!({})).await.items,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_exits_1_and_says_why_when_a_kind_is_incomplete() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            denied: vec!["builds".into()],
            ..FakeConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let output = run_fetch(&fake, dir.path(), "project,build").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("INCOMPLETE"), "{stdout}");
    assert!(stdout.contains("\"Build (Read)\" scope"), "{stdout}");
    assert!(!stdout.contains(&fake.pat()));
    let snapshot = adoport::ado::Snapshot::open(dir.path()).unwrap();
    assert!(
        !snapshot.listing("build").complete,
        "the snapshot replays the kind as incomplete"
    );
    complete(&snapshot.listing("project"));
}

#[tokio::test]
async fn excluded_tags_drop_a_project_and_everything_under_it() {
    let spec = OrgSpec {
        projects: 5,
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = OrgUrl::parse(&fake.org_url()).unwrap();
    let client = Client::new(org, &Pat::new(fake.pat()), fast()).unwrap();
    let ado = AdoSource::new(
        client,
        SourceOptions {
            excluded_tags: vec!["archived".into()],
            now: Some(spec.now),
        },
    );
    // The generator tags every fifth project `archived`.
    let projects = fetch(&ado, "project", json!({})).await;
    complete(&projects);
    let names: Vec<&str> = projects
        .items
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["project-00", "project-01", "project-02", "project-03"]
    );
    let repos = fetch(&ado, "repository", json!({})).await;
    assert_eq!(repos.items.len(), 4 * spec.repos_per_project);
    assert!(
        repos
            .items
            .iter()
            .all(|r| r["project"]["name"] != "project-04")
    );
    let work_items = fetch(&ado, "work-item", json!({})).await;
    assert!(
        work_items
            .items
            .iter()
            .all(|w| w["__project"]["name"] != "project-04")
    );
    assert_eq!(
        fake.requests("project-properties"),
        5,
        "tags read once per project"
    );
}

#[tokio::test]
async fn enrich_with_first_commit_adds_the_earliest_change_or_the_source_commit() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let builds = fetch(&ado, "build", json!({"enrichWithFirstCommit": true})).await;
    complete(&builds);
    assert_eq!(builds.items.len(), 30);
    for build in &builds.items {
        let id = build["id"].as_u64().unwrap();
        let first = &build["__firstCommit"];
        let changes = &fake.org().build_changes[(id - 1) as usize];
        if id % 3 == 0 {
            // No timestamped change: the source commit, counted as one.
            assert_eq!(first["__sha"], build["sourceVersion"], "build {id}");
            assert_eq!(first["__commitCount"], 1);
            assert_eq!(first["__timestamp"], first["committer"]["date"]);
        } else {
            let earliest = changes.last().unwrap();
            assert_eq!(first["__sha"], earliest["id"], "build {id}");
            assert_eq!(first["__timestamp"], earliest["timestamp"]);
            assert_eq!(first["__commitCount"], changes.len());
            assert_eq!(first["message"], earliest["message"]);
        }
    }
    assert_eq!(fake.requests("build-changes"), 30);
    assert_eq!(fake.requests("commit"), 10);
}

#[tokio::test]
async fn graph_users_with_group_memberships_get_groups_and_projects() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let users = fetch(
        &ado,
        "user",
        json!({"source": "graph", "includeGroupMemberships": true}),
    )
    .await;
    complete(&users);
    assert_eq!(users.items.len(), spec.users);
    let first = &users.items[0];
    let groups: Vec<&str> = first["__groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["principalName"].as_str())
        .collect();
    assert_eq!(
        groups,
        [
            "[acme]\\Project Collection Valid Users",
            "[project-00]\\Contributors",
            "[project-01]\\Readers"
        ]
    );
    // Port parses every `[Scope]\` prefix, the organization's own groups included.
    assert_eq!(
        first["__projects"],
        json!(["acme", "project-00", "project-01"])
    );
    assert_eq!(fake.requests("graph-memberships"), spec.users as u64);
    assert_eq!(
        fake.requests("subject-lookup"),
        1,
        "all groups resolved in one batch"
    );
}

#[tokio::test]
async fn the_default_mapping_maps_every_recorded_item_without_errors() {
    use adoport::jq::{Engine, EngineOptions};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = adoport::config::load(&root.join("mappings")).unwrap();
    let config = loaded.config.expect("the default mapping loads");
    let snapshot = adoport::ado::Snapshot::open(root.join("examples/ado-snapshot")).unwrap();
    let engine = Engine::new(EngineOptions::default());
    let mut identifiers: HashSet<(String, String)> = HashSet::new();
    let mut relations: Vec<(String, String, String)> = Vec::new();
    for resource in &config.mapping.resources {
        let listing = snapshot
            .fetch(&resource.kind, &resource.selector.to_object())
            .await;
        complete(&listing);
        let result = adoport::mapping::evaluate(resource, &listing.items, &engine);
        assert_eq!(
            result.item_errors, 0,
            "{}: {:#?}",
            resource.kind, result.diagnostics
        );
        assert_eq!(
            result.dropped, 0,
            "{}: an identifier or blueprint came out empty",
            resource.kind
        );
        assert!(!result.entities.is_empty(), "{}", resource.kind);
        for mapped in &result.entities {
            let json = mapped.json();
            let blueprint = json["blueprint"].as_str().unwrap_or_default().to_owned();
            let id = json["identifier"].as_str().unwrap_or_default().to_owned();
            identifiers.insert((blueprint.clone(), id));
            if let Some(Value::Object(rels)) = json.get("relations") {
                for (name, target) in rels {
                    // A relation is one target identifier or a list of them (work item → columns).
                    let targets = match target {
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                        other => other.as_str().into_iter().collect::<Vec<_>>(),
                    };
                    for target in targets {
                        relations.push((resource.kind.clone(), name.clone(), target.to_owned()));
                    }
                }
            }
        }
    }
    // Every relation built from enrichment fields (`__project`, `__repository`, `__board`, …)
    // points at an entity the same snapshot produces.
    let known: HashSet<&str> = identifiers.iter().map(|(_, id)| id.as_str()).collect();
    let dangling: Vec<&(String, String, String)> = relations
        .iter()
        .filter(|(_, _, target)| !known.contains(target.as_str()))
        .collect();
    assert!(dangling.is_empty(), "{dangling:#?}");
    // The work item → board column join, which Port's default mapping gets wrong, is exercised.
    assert!(
        relations
            .iter()
            .any(|(kind, name, _)| kind == "work-item" && name == "columns"),
        "no work item sits on a board column"
    );
}
