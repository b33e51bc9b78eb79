//! The organization family against the fake ADO server: `member`, `group`, `group-member`,
//! `iteration`, `area-path`, `advanced-security-alert` and `wiki`: items and their
//! enrichment fields, each selector option's effect, the cost of a sync, and the default
//! mapping over them. The faults that must leave these kinds incomplete are `ado_org_faults`'.

use std::collections::{HashMap, HashSet};

use adoport::ado::{Listing, Source};
use adoport::testkit::fake_ado::FakeConfig;
use adoport::testkit::synthetic_org::OrgSpec;
use serde_json::{Value, json};

use crate::ado::{complete, fake, fast, fetch, raw, source};

const KINDS: [&str; 7] = [
    "member",
    "group",
    "group-member",
    "iteration",
    "area-path",
    "advanced-security-alert",
    "wiki",
];

fn ids<'a>(items: &'a [Value], pointer: &str) -> Vec<&'a str> {
    items
        .iter()
        .map(|i| {
            i.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) fn incomplete_saying(listing: &Listing, needle: &str) {
    assert!(!listing.complete, "{} must be incomplete", listing.kind);
    let error = listing.error.clone().unwrap_or_default();
    assert!(error.contains(needle), "{}: {error}", listing.kind);
    assert!(!error.contains("fake-pat"), "{error}");
}

#[tokio::test]
async fn members_are_every_teams_members_with_the_team_id() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "member", json!({"query": "true"})).await;
    complete(&listing);
    let mut expected = Vec::new();
    for team in &org.teams {
        let id = team["id"].as_str().unwrap();
        for member in &org.team_members[id] {
            let mut member = member.clone();
            member["__teamId"] = json!(id);
            expected.push(member);
        }
    }
    assert_eq!(raw(&listing.items), expected);
    assert_eq!(listing.items.len(), 6);
    assert_eq!(listing.items[0]["isTeamAdmin"], true);
}

#[tokio::test]
async fn groups_are_the_graph_groups_and_group_members_their_direct_members() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let groups = fetch(&ado, "group", json!({})).await;
    complete(&groups);
    assert_eq!(raw(&groups.items), org.groups);

    let members = fetch(&ado, "group-member", json!({})).await;
    complete(&members);
    let expected: usize = org.memberships_down.values().map(Vec::len).sum();
    assert_eq!(members.items.len(), expected);
    let everyone = &org.groups[0];
    let of_everyone: Vec<&Value> = members
        .items
        .iter()
        .filter(|m| m["__group"]["descriptor"] == everyone["descriptor"])
        .collect();
    assert_eq!(of_everyone.len(), spec.users + 2 * spec.projects);
    assert!(of_everyone.iter().all(|m| m["__group"] == *everyone));
    let kinds: HashSet<&str> = of_everyone
        .iter()
        .filter_map(|m| m["subjectKind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        HashSet::from(["user", "group"]),
        "users and nested groups"
    );
    let nested = of_everyone
        .iter()
        .find(|m| m["subjectKind"] == "group")
        .unwrap();
    let mut subject = (*nested).clone();
    let Value::Object(map) = &mut subject else {
        unreachable!()
    };
    map.remove("__group");
    map.remove("__organizationUrl");
    map.remove("__organizationName");
    assert!(
        org.groups.contains(&subject),
        "a member is its whole subject"
    );
    assert_eq!(fake.requests("graph-groups"), 1, "the group list is shared");
    assert_eq!(fake.requests("graph-memberships"), org.groups.len() as u64);
    assert_eq!(
        fake.requests("subject-lookup"),
        1,
        "every member looked up once"
    );
}

#[tokio::test]
async fn more_than_500_members_are_looked_up_in_batches_of_500() {
    let spec = OrgSpec {
        users: 600,
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let members = fetch(&ado, "group-member", json!({})).await;
    complete(&members);
    let expected: usize = fake.org().memberships_down.values().map(Vec::len).sum();
    assert_eq!(members.items.len(), expected);
    // 600 users and 4 nested groups: 604 distinct members.
    assert_eq!(fake.requests("subject-lookup"), 2);
}

#[tokio::test]
async fn iterations_come_once_per_team_of_every_project_past_the_first_page_of_teams() {
    let spec = OrgSpec {
        teams_per_project: 3,
        ..OrgSpec::small()
    };
    let fake = fake(
        &spec,
        FakeConfig {
            max_page: Some(2),
            ..FakeConfig::default()
        },
    )
    .await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "iteration", json!({})).await;
    complete(&listing);
    let teams = spec.projects * spec.teams_per_project;
    assert_eq!(listing.items.len(), teams * spec.iterations_per_team);
    let first = &listing.items[0];
    let team = org.teams.iter().find(|t| t["id"] == first["__team"]["id"]);
    assert_eq!(Some(&first["__team"]), team, "__team is the listed team");
    let project = org
        .projects
        .iter()
        .find(|p| p["id"] == team.unwrap()["projectId"]);
    assert_eq!(
        Some(&first["__project"]),
        project,
        "__project is the listed project"
    );
    assert_eq!(
        first["path"],
        format!("{}\\Sprint 1", first["__project"]["name"].as_str().unwrap())
    );
    let mut per_iteration: HashMap<&str, usize> = HashMap::new();
    for id in ids(&listing.items, "/id") {
        *per_iteration.entry(id).or_default() += 1;
    }
    assert!(
        per_iteration.values().all(|n| *n == spec.teams_per_project),
        "an iteration comes once per team using it"
    );
    let frames: HashSet<&str> = ids(&listing.items, "/attributes/timeFrame")
        .into_iter()
        .collect();
    assert_eq!(frames, HashSet::from(["past", "current", "future"]));
    assert_eq!(fake.requests("teams"), (teams as u64).div_ceil(2) + 1);
    assert_eq!(fake.requests("team-iterations"), teams as u64);
}

#[tokio::test]
async fn area_paths_are_the_whole_tree_by_default_and_depth_limits_it() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    // Per project: a root, 3 areas, 2 below each, 1 below each of those (area_depth 3).
    let whole = fetch(&ado, "area-path", json!({})).await;
    complete(&whole);
    assert_eq!(whole.items.len(), spec.projects * 16);
    let root = &whole.items[0];
    assert_eq!(root["__parentIdentifier"], Value::Null);
    assert_eq!(root["__normalizedPath"], "project-00");
    assert_eq!(root["__project"], fake.org().projects[0]);
    let child = &whole.items[1];
    assert_eq!(child["__parentIdentifier"], root["identifier"]);
    assert_eq!(child["__normalizedPath"], "project-00\\Web");
    assert_eq!(child["path"], "\\project-00\\Area\\Web");
    assert!(whole.items.iter().all(|i| i.get("children").is_none()));
    let known: HashSet<&str> = ids(&whole.items, "/identifier").into_iter().collect();
    assert!(
        whole.items[1..]
            .iter()
            .filter(|i| !i["__parentIdentifier"].is_null())
            .all(|i| known.contains(i["__parentIdentifier"].as_str().unwrap())),
        "every parent is an item"
    );

    let roots = fetch(&ado, "area-path", json!({"depth": 0})).await;
    complete(&roots);
    assert_eq!(
        roots.items.len(),
        spec.projects,
        "depth 0: the roots, as Port's default"
    );
    let one = fetch(&ado, "area-path", json!({"depth": 1})).await;
    complete(&one);
    assert_eq!(one.items.len(), spec.projects * 4);
    assert_eq!(fake.requests("area-nodes"), 3 * spec.projects as u64);
}

#[tokio::test]
async fn alerts_come_from_onboarded_repositories_with_their_repository_and_project() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "advanced-security-alert", json!({})).await;
    complete(&listing);
    // Two of the six repositories are not onboarded: they answer 400 AdvSecNotEnabledException.
    assert_eq!(org.alerts.len(), 4);
    assert_eq!(listing.items.len(), 4 * spec.alerts_per_repo);
    for alert in &listing.items {
        let repo = org
            .repos
            .iter()
            .find(|r| r["id"] == alert["__repositoryId"])
            .unwrap();
        assert_eq!(alert["__projectId"], repo["project"]["id"]);
        let listed = &org.alerts[repo["id"].as_str().unwrap()];
        assert!(listed.iter().any(|a| a["alertId"] == alert["alertId"]));
    }
    assert_eq!(
        fake.requests("advsec-alerts"),
        6,
        "every healthy repository asked once"
    );
}

#[tokio::test]
async fn alert_criteria_filter_what_ado_returns() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let all: Vec<Value> = fake.org().alerts.values().flatten().cloned().collect();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let count = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|a| f(a)).count();
    for (criteria, expected) in [
        (
            json!({"states": ["active"]}),
            count(&|a| a["state"] == "active"),
        ),
        (
            json!({"states": ["dismissed", "fixed"]}),
            count(&|a| a["state"] == "dismissed" || a["state"] == "fixed"),
        ),
        (
            json!({"severity": ["critical", "high"]}),
            count(&|a| a["severity"] == "critical" || a["severity"] == "high"),
        ),
        (
            json!({"alertType": "secret"}),
            count(&|a| a["alertType"] == "secret"),
        ),
        (
            json!({"states": ["active"], "alertType": "dependency"}),
            count(&|a| a["state"] == "active" && a["alertType"] == "dependency"),
        ),
    ] {
        let listing = fetch(
            &ado,
            "advanced-security-alert",
            json!({"criteria": criteria.clone()}),
        )
        .await;
        complete(&listing);
        assert_eq!(listing.items.len(), expected, "{criteria}");
        assert!(
            expected > 0 && expected < all.len(),
            "{criteria} filters something"
        );
    }
}

#[tokio::test]
async fn alerts_page_with_top_and_continuation_tokens() {
    let spec = OrgSpec::small();
    let fake = fake(
        &spec,
        FakeConfig {
            max_page: Some(2),
            ..FakeConfig::default()
        },
    )
    .await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "advanced-security-alert", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 4 * spec.alerts_per_repo);
    // 3 alerts in pages of 2: two pages per onboarded repository, one 400 per other.
    assert_eq!(fake.requests("advsec-alerts"), 4 * 2 + 2);
}

#[tokio::test]
async fn wiki_pages_carry_their_wiki_and_project() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "wiki", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 3 * spec.wiki_pages);
    let page = &listing.items[0];
    let project = &org.projects[0];
    assert_eq!(page["__project"], *project);
    assert_eq!(page["__wiki"]["__project"], *project);
    let mut wiki = org.wikis[project["id"].as_str().unwrap()][0].clone();
    wiki["__project"] = project.clone();
    assert_eq!(page["__wiki"], wiki);
    assert_eq!(page["path"], "/Home");
    assert!(
        page.get("content").is_none(),
        "the list entry, not the page"
    );
    assert_eq!(fake.requests("wikis"), spec.projects as u64);
    assert_eq!(fake.requests("wiki-pages-batch"), 3);
    assert_eq!(fake.requests("wiki-page"), 0);
}

#[tokio::test]
async fn wiki_type_keeps_the_wikis_of_that_type() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let project = fetch(&ado, "wiki", json!({"wikiType": "projectWiki"})).await;
    complete(&project);
    assert_eq!(project.items.len(), 2 * spec.wiki_pages);
    assert!(
        project
            .items
            .iter()
            .all(|p| p["__wiki"]["type"] == "projectWiki")
    );
    assert_eq!(
        fake.requests("wiki-pages-batch"),
        2,
        "other wikis are not read"
    );
    let code = fetch(&ado, "wiki", json!({"wikiType": "codeWiki"})).await;
    complete(&code);
    assert_eq!(code.items.len(), spec.wiki_pages);
    assert!(code.items.iter().all(|p| p["__wiki"]["type"] == "codeWiki"));
}

#[tokio::test]
async fn include_content_reads_every_page_in_full() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for include in [json!(true), json!("yes")] {
        fake.reset_counts();
        let listing = fetch(&ado, "wiki", json!({"includeContent": include})).await;
        complete(&listing);
        assert_eq!(listing.items.len(), 3 * spec.wiki_pages, "{include}");
        let page = &listing.items[0];
        assert!(
            page["content"].as_str().unwrap().starts_with("# Home"),
            "{include}"
        );
        assert_eq!(page["gitItemPath"], "/Home.md");
        assert!(page["__wiki"]["id"].is_string() && page["__project"]["id"].is_string());
        assert_eq!(fake.requests("wiki-page"), 3 * spec.wiki_pages as u64);
    }
}

#[tokio::test]
async fn api_version_is_sent_to_every_wiki_endpoint() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    complete(
        &fetch(
            &ado,
            "wiki",
            json!({"apiVersion": "7.0", "includeContent": true}),
        )
        .await,
    );
    // The fake refuses versions above 7.2, as a server that does not know them.
    let listing = fetch(&ado, "wiki", json!({"apiVersion": "9.1"})).await;
    incomplete_saying(&listing, "out of range");
    assert!(listing.items.is_empty());
}

#[tokio::test]
async fn many_wiki_pages_are_read_in_batches_of_100() {
    let spec = OrgSpec {
        projects: 1,
        wiki_pages: 250,
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, "wiki", json!({})).await;
    complete(&listing);
    assert_eq!(listing.items.len(), 2 * 250);
    let distinct: HashSet<String> = listing
        .items
        .iter()
        .map(|p| format!("{}/{}", p["__wiki"]["id"], p["id"]))
        .collect();
    assert_eq!(distinct.len(), 500, "no page twice");
    assert_eq!(fake.requests("wiki-pages-batch"), 2 * 3);
}

#[tokio::test]
async fn excluded_tags_drop_an_excluded_projects_iterations_areas_alerts_and_wikis() {
    use adoport::ado::{AdoSource, Client, OrgUrl, Pat, SourceOptions};
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
    // The generator tags every fifth project `archived`: project-04 here.
    let archived = fake.org().projects[4]["id"].clone();
    for (kind, project) in [
        ("iteration", "/__project/id"),
        ("area-path", "/__project/id"),
        ("advanced-security-alert", "/__projectId"),
        ("wiki", "/__project/id"),
    ] {
        let listing = fetch(&ado, kind, json!({})).await;
        complete(&listing);
        assert!(!listing.items.is_empty(), "{kind}");
        assert!(
            listing
                .items
                .iter()
                .all(|i| i.pointer(project) != Some(&archived)),
            "{kind}"
        );
    }
    assert_eq!(
        fetch(&ado, "iteration", json!({})).await.items.len(),
        4 * spec.iterations_per_team
    );
}

/// Projects (1), teams (2: a page and the empty page after it), per team its members (a page
/// and an empty one) and iterations (1); groups (1), per group its members (1), one subject
/// lookup per 500 distinct members; per project its repositories (1), area tree (1) and wikis
/// (1); per healthy repository its alerts (1); per wiki its pages (1 per 100).
#[tokio::test]
async fn request_counts_of_a_small_org_match_the_formula() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in KINDS {
        complete(&fetch(&ado, kind, json!({})).await);
    }
    let org = fake.org();
    let p = spec.projects as u64;
    let t = (spec.projects * spec.teams_per_project) as u64;
    let g = org.groups.len() as u64;
    let r = (spec.projects * spec.repos_per_project) as u64;
    let wikis: u64 = org.wikis.values().map(|w| w.len() as u64).sum();
    let expected: Vec<(&str, u64)> = vec![
        ("projects", 1),
        ("teams", 2),
        ("team-members", t * 2),
        ("team-iterations", t),
        ("graph-groups", 1),
        ("graph-memberships", g),
        ("subject-lookup", 1),
        ("repositories", p),
        ("area-nodes", p),
        ("advsec-alerts", r),
        ("wikis", p),
        (
            "wiki-pages-batch",
            wikis * (spec.wiki_pages as u64).div_ceil(100),
        ),
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
    assert_eq!(total, 31);
    assert_eq!(fake.total_requests(), total, "{counts:?}");
}

#[tokio::test]
async fn the_default_mapping_maps_every_org_kind_and_its_relations_join() {
    use adoport::jq::{Engine, EngineOptions};
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = adoport::config::load(&root.join("mappings")).unwrap();
    let config = loaded.config.expect("the default mapping loads");
    let engine = Engine::new(EngineOptions::default());
    let targets = ["project", "team", "user", "repository"];
    let mut known: HashSet<(String, String)> = HashSet::new();
    let mut relations: Vec<(String, String, String)> = Vec::new();
    let blueprints: HashMap<String, Value> = std::fs::read_dir(root.join("mappings/blueprints"))
        .unwrap()
        .map(|e| {
            let b: Value =
                serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
            (b["identifier"].as_str().unwrap().to_owned(), b)
        })
        .collect();
    for resource in config
        .mapping
        .resources
        .iter()
        .filter(|r| KINDS.contains(&r.kind.as_str()) || targets.contains(&r.kind.as_str()))
    {
        let listing = ado
            .fetch(&resource.kind, &resource.selector.to_object())
            .await;
        complete(&listing);
        let result = adoport::mapping::evaluate(resource, &listing.items, &engine);
        assert_eq!(
            result.item_errors, 0,
            "{}: {:#?}",
            resource.kind, result.diagnostics
        );
        assert_eq!(result.dropped, 0, "{}", resource.kind);
        assert!(!result.entities.is_empty(), "{}", resource.kind);
        for mapped in &result.entities {
            let json = mapped.json();
            let blueprint = json["blueprint"].as_str().unwrap().to_owned();
            known.insert((
                blueprint.clone(),
                json["identifier"].as_str().unwrap().to_owned(),
            ));
            for (name, target) in json["relations"].as_object().into_iter().flatten() {
                let Some(target) = target.as_str() else {
                    continue;
                };
                let to = blueprints[&blueprint]["relations"][name]["target"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                relations.push((resource.kind.clone(), to, target.to_owned()));
            }
        }
    }
    let dangling: Vec<_> = relations
        .iter()
        .filter(|(_, to, target)| !known.contains(&(to.clone(), target.clone())))
        .collect();
    assert!(dangling.is_empty(), "{dangling:#?}");
    for kind in KINDS {
        assert!(
            relations.iter().any(|(k, _, _)| k == kind),
            "{kind} relates to nothing"
        );
    }
}
