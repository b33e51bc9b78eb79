//! The delivery kinds against the fake ADO server over real HTTP: pipeline-stage,
//! pipeline-run, environment, pipeline-deployment, release-definition, release-deployment
//! and test-run. Their items and enrichment fields, the effect of each selector option,
//! paging to the end, request counts, and the faults that must make a kind incomplete.

use std::collections::{HashMap, HashSet};

use adoport::ado::Listing;
use adoport::testkit::fake_ado::FakeConfig;
use adoport::testkit::synthetic_org::OrgSpec;
use adoport::testkit::synthetic_pipelines::{DeliverySpec, timeline};
use serde_json::{Value, json};

use crate::ado::{complete, fake, fast, fetch, raw, source};

/// The seven kinds of this family.
pub(crate) const KINDS: &[&str] = &[
    "pipeline-stage",
    "pipeline-run",
    "environment",
    "pipeline-deployment",
    "release-definition",
    "release-deployment",
    "test-run",
];

pub(crate) fn paged(max_page: usize) -> FakeConfig {
    FakeConfig {
        max_page: Some(max_page),
        ..FakeConfig::default()
    }
}

pub(crate) fn reason(listing: &Listing) -> String {
    assert!(!listing.complete, "{} should be incomplete", listing.kind);
    listing.error.clone().unwrap_or_default()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].to_string()).collect()
}

#[tokio::test]
async fn pipeline_stages_are_the_stage_records_of_every_builds_timeline() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let stages = fetch(&ado, "pipeline-stage", json!({})).await;
    complete(&stages);
    let expected: usize = org
        .builds
        .iter()
        .map(|b| {
            timeline(&org.name, b)["records"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["type"] == "Stage")
                .count()
        })
        .sum();
    // Build and Test for every build, Deploy for every other one.
    assert_eq!(expected, 30 * 2 + 15);
    assert_eq!(stages.items.len(), expected);
    assert!(stages.items.iter().all(|s| s["type"] == "Stage"));
    let first = &stages.items[0];
    let build = &first["__build"];
    assert_eq!(build["id"], org.builds[0]["id"], "builds in list order");
    assert_eq!(build["__projectId"], build["project"]["id"]);
    assert_eq!(first["__project"], build["__project"]);
    assert!(
        org.projects.contains(&first["__project"]),
        "__project is the listed project"
    );
    let timeline = timeline(&org.name, &org.builds[0]);
    let mut record = first.clone();
    for key in [
        "__build",
        "__project",
        "__organizationUrl",
        "__organizationName",
    ] {
        record.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        record, timeline["records"][0],
        "the record as ADO returns it"
    );
}

#[tokio::test]
async fn pipeline_runs_carry_their_project_and_pipeline() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "pipeline-run", json!({})).await;
    complete(&runs);
    assert_eq!(runs.items.len(), 30, "one run per build");
    for run in &runs.items {
        let pipeline = &run["__pipeline"];
        let id = pipeline["id"].as_u64().unwrap();
        assert_eq!(run["pipeline"]["id"], pipeline["id"]);
        assert!(
            org.pipelines.contains(pipeline),
            "__pipeline is the pipeline as listed, without __projectId"
        );
        assert_eq!(
            run["__project"]["id"].as_str(),
            org.pipeline_project.get(&id).map(String::as_str)
        );
        assert!(org.projects.contains(&run["__project"]));
    }
    let first_pipeline = org.pipelines[0]["id"].as_u64().unwrap();
    let of_first: Vec<Value> = runs
        .items
        .iter()
        .filter(|r| r["__pipeline"]["id"] == first_pipeline)
        .cloned()
        .collect();
    let stripped: Vec<Value> = raw(&of_first)
        .into_iter()
        .map(|mut r| {
            let map = r.as_object_mut().unwrap();
            map.remove("__pipeline");
            map.remove("__project");
            r
        })
        .collect();
    assert_eq!(stripped, org.delivery.runs[&first_pipeline]);
}

#[tokio::test]
async fn environments_and_their_deployment_records_share_one_environment_list() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let environments = fetch(&ado, "environment", json!({})).await;
    complete(&environments);
    assert_eq!(
        raw(&environments.items),
        org.delivery.environments,
        "raw, as Port yields them"
    );
    let deployments = fetch(&ado, "pipeline-deployment", json!({})).await;
    complete(&deployments);
    assert_eq!(deployments.items.len(), 4 * 3);
    for record in &deployments.items {
        let environment = org
            .delivery
            .environments
            .iter()
            .find(|e| e["id"] == record["environmentId"])
            .unwrap();
        assert_eq!(record["__project"], environment["project"]);
        assert_eq!(
            record["__project"]["name"],
            Value::Null,
            "ADO's {{id, name: null}}"
        );
    }
    assert_eq!(
        fake.requests("environments"),
        spec.projects as u64,
        "listed once"
    );
    assert_eq!(fake.requests("environment-deployments"), 4);
}

#[tokio::test]
async fn deployment_records_are_asked_for_with_top_the_spelling_that_endpoint_knows() {
    // 30 records per environment: more than the endpoint's default page of 25, so asking
    // with `$top` (which it ignores) would take two pages.
    let spec = OrgSpec {
        delivery: DeliverySpec {
            deployments_per_environment: 30,
            ..DeliverySpec::small()
        },
        ..OrgSpec::small()
    };
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let deployments = fetch(&ado, "pipeline-deployment", json!({})).await;
    complete(&deployments);
    assert_eq!(deployments.items.len(), 4 * 30);
    assert_eq!(fake.requests("environment-deployments"), 4, "one page each");
}

#[tokio::test]
async fn release_definitions_carry_their_project_and_expand_environments_by_default() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let definitions = fetch(&ado, "release-definition", json!({})).await;
    complete(&definitions);
    assert_eq!(definitions.items.len(), 2 * 3);
    for d in &definitions.items {
        assert!(org.projects.contains(&d["__project"]));
        assert_eq!(d["environments"].as_array().map(Vec::len), Some(3));
        assert!(d.get("artifacts").is_none(), "only what is expanded");
    }
    let first = &org.delivery.release_definitions[org.projects[0]["id"].as_str().unwrap()][0];
    assert_eq!(definitions.items[0]["_links"], first["_links"]);
    assert_eq!(fake.requests("release-definitions"), spec.projects as u64);
}

#[tokio::test]
async fn the_expand_option_is_sent_as_expand() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let definitions = fetch(&ado, "release-definition", json!({"expand": "artifacts"})).await;
    complete(&definitions);
    assert!(definitions.items.iter().all(|d| d["artifacts"].is_array()));
    assert!(
        definitions
            .items
            .iter()
            .all(|d| d.get("environments").is_none())
    );
}

#[tokio::test]
async fn the_tag_filter_keeps_only_definitions_carrying_every_tag() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let tagged = fetch(
        &ado,
        "release-definition",
        json!({"expand": "tags", "tagFilter": ["backend", "team-a"]}),
    )
    .await;
    complete(&tagged);
    // Definitions 1 and 3 of each project carry both tags; 2 carries only `frontend`.
    assert_eq!(tagged.items.len(), 2 * 2);
    assert!(
        tagged
            .items
            .iter()
            .all(|d| d["tags"] == json!(["backend", "team-a"]))
    );
    let none = fetch(
        &ado,
        "release-definition",
        json!({"tagFilter": ["nobody-uses-this"]}),
    )
    .await;
    complete(&none);
    assert!(none.items.is_empty());
}

#[tokio::test]
async fn release_deployments_are_listed_raw_and_include_release_changes_nothing() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let deployments = fetch(&ado, "release-deployment", json!({})).await;
    complete(&deployments);
    let expected: Vec<Value> = org
        .projects
        .iter()
        .flat_map(|p| org.delivery.release_deployments[p["id"].as_str().unwrap()].clone())
        .collect();
    assert_eq!(raw(&deployments.items), expected);
    let requests = fake.total_requests();
    let with_option = fetch(&ado, "release-deployment", json!({"includeRelease": true})).await;
    assert_eq!(with_option.items, deployments.items);
    assert_eq!(
        fake.total_requests() - requests,
        spec.projects as u64,
        "the same requests"
    );
}

#[tokio::test]
async fn test_runs_carry_every_result_and_no_coverage_unless_asked() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "test-run", json!({})).await;
    complete(&runs);
    assert_eq!(runs.items.len(), 6);
    for run in &runs.items {
        let id = run["id"].as_u64().unwrap();
        assert_eq!(run["__testResults"], json!(org.delivery.test_results[&id]));
        assert_eq!(run["__codeCoverage"], json!({}));
        assert!(run["runStatistics"].is_array(), "includeRunDetails is sent");
    }
    assert!(
        runs.items.iter().any(|r| r.get("build").is_none()),
        "manual runs are kept"
    );
    assert_eq!(fake.requests("code-coverage"), 0);
}

#[tokio::test]
async fn include_results_false_attaches_an_empty_list_and_reads_no_results() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "test-run", json!({"includeResults": "false"})).await;
    complete(&runs);
    assert!(runs.items.iter().all(|r| r["__testResults"] == json!([])));
    assert_eq!(fake.requests("test-results"), 0);
}

#[tokio::test]
async fn test_results_are_paged_with_skip_to_the_last_one() {
    // Pages of two: every run's results take two pages and the empty page that ends them.
    // Port pages this endpoint with continuation tokens it never sends, so it keeps only
    // the first page of each run.
    let spec = OrgSpec {
        delivery: DeliverySpec {
            results_per_test_run: 5,
            ..DeliverySpec::small()
        },
        ..OrgSpec::small()
    };
    let fake = fake(&spec, paged(2)).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let runs = fetch(&ado, "test-run", json!({})).await;
    complete(&runs);
    assert_eq!(runs.items.len(), 6);
    for run in &runs.items {
        let results = run["__testResults"].as_array().unwrap();
        assert_eq!(results.len(), 5, "run {}", run["id"]);
        let distinct: HashSet<String> = ids(results).into_iter().collect();
        assert_eq!(distinct.len(), 5);
    }
    assert_eq!(fake.requests("test-results"), 6 * 4);
    assert_eq!(fake.requests("test-runs"), spec.projects as u64 * (2 + 1));
}

#[tokio::test]
async fn code_coverage_is_read_once_per_build_with_the_flags_asked_for() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let summary = fetch(&ado, "test-run", json!({"codeCoverage": {}})).await;
    complete(&summary);
    let builds: HashSet<&str> = summary
        .items
        .iter()
        .filter_map(|r| r["build"]["id"].as_str())
        .collect();
    assert_eq!(fake.requests("code-coverage"), builds.len() as u64);
    for run in &summary.items {
        let coverage = &run["__codeCoverage"];
        match run["build"]["id"].as_str() {
            None => assert_eq!(coverage, &json!({}), "a manual run has no build"),
            Some(build) => {
                let known = org
                    .delivery
                    .code_coverage
                    .get(&build.parse::<u64>().unwrap());
                assert_eq!(coverage["count"], json!(known.map_or(0, Vec::len)));
                assert!(
                    coverage["value"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|c| c.get("modules").is_none())
                );
            }
        }
    }
    let modules = fetch(&ado, "test-run", json!({"codeCoverage": {"flags": 1}})).await;
    complete(&modules);
    let with_modules = modules
        .items
        .iter()
        .filter(|r| r["__codeCoverage"]["value"][0]["modules"].is_array())
        .count();
    assert!(with_modules > 0, "flags=1 asks for modules");
    assert!(
        modules
            .items
            .iter()
            .filter_map(|r| r["__codeCoverage"]["value"][0]["modules"][0]["functions"].as_array())
            .all(Vec::is_empty),
        "functions only with flags & 2"
    );
}

#[tokio::test]
async fn request_counts_of_a_small_org_match_the_formula() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in KINDS {
        complete(&fetch(&ado, kind, json!({})).await);
    }
    let p = spec.projects as u64;
    let environments = (spec.projects * spec.delivery.environments_per_project) as u64;
    let expected: Vec<(&str, u64)> = vec![
        ("projects", 1),                           // shared by every kind
        ("builds", p),                             // one page per project, shared
        ("build-timeline", spec.builds as u64),    // one per build
        ("pipelines", p),                          // one page per project, shared
        ("pipeline-runs", spec.pipelines as u64),  // one per pipeline, never paged
        ("environments", p),                       // one page per project, shared
        ("environment-deployments", environments), // one page per environment
        ("release-definitions", p),
        ("release-deployments", p),
        ("test-runs", p * 2), // page + the empty page that ends $skip paging
        ("test-results", spec.delivery.test_runs as u64 * 2), // the same per run
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
    assert_eq!(total, 66);
    assert_eq!(fake.total_requests(), total, "{counts:?}");
    assert_eq!(org.delivery.environments.len() as u64, environments);
}

#[tokio::test]
async fn build_and_pipeline_kinds_share_their_lists_with_stages_and_runs() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    for kind in ["build", "pipeline-stage", "pipeline", "pipeline-run"] {
        complete(&fetch(&ado, kind, json!({})).await);
    }
    assert_eq!(fake.requests("builds"), spec.projects as u64);
    assert_eq!(fake.requests("pipelines"), spec.projects as u64);
}

#[tokio::test]
async fn continuation_tokens_are_followed_to_the_end_of_every_delivery_list() {
    let spec = OrgSpec::small();
    let fake = fake(&spec, paged(1)).await;
    let org = fake.org();
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let environments = fetch(&ado, "environment", json!({})).await;
    complete(&environments);
    assert_eq!(environments.items.len(), org.delivery.environments.len());
    let deployments = fetch(&ado, "pipeline-deployment", json!({})).await;
    complete(&deployments);
    assert_eq!(deployments.items.len(), 12);
    let definitions = fetch(&ado, "release-definition", json!({})).await;
    complete(&definitions);
    assert_eq!(definitions.items.len(), 6);
    let releases = fetch(&ado, "release-deployment", json!({})).await;
    complete(&releases);
    assert_eq!(releases.items.len(), spec.delivery.release_deployments);
    assert_eq!(fake.requests("environment-deployments"), 12);
    assert_eq!(fake.requests("release-deployments"), 8);
}

/// The default mapping over this family's items from the small organization: no item
/// errors, nothing dropped, and every relation joins an entity the same organization
/// yields (projects, builds, pipelines, releases and this family's own).
#[tokio::test]
async fn the_default_mapping_maps_every_delivery_item_and_its_relations_join() {
    use adoport::jq::{Engine, EngineOptions};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = adoport::config::load(&root.join("mappings")).unwrap();
    let config = loaded.config.expect("the default mapping loads");
    let spec = OrgSpec::small();
    let fake = fake(&spec, FakeConfig::default()).await;
    let ado = source(&fake, &fake.pat(), fast(), spec.now);
    let engine = Engine::new(EngineOptions::default());
    let mut identifiers: HashMap<String, HashSet<String>> = HashMap::new();
    let mut relations: Vec<(String, String, String)> = Vec::new();
    let targets = ["project", "build", "pipeline", "release"];
    for resource in config
        .mapping
        .resources
        .iter()
        .filter(|r| KINDS.contains(&r.kind.as_str()) || targets.contains(&r.kind.as_str()))
    {
        let listing = fetch(
            &ado,
            &resource.kind,
            Value::Object(resource.selector.to_object()),
        )
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
            let blueprint = json["blueprint"].as_str().unwrap_or_default().to_owned();
            let id = json["identifier"].as_str().unwrap_or_default().to_owned();
            identifiers.entry(blueprint).or_default().insert(id);
            if KINDS.contains(&resource.kind.as_str())
                && let Some(Value::Object(rels)) = json.get("relations")
            {
                for (name, target) in rels {
                    if let Some(target) = target.as_str() {
                        relations.push((resource.kind.clone(), name.clone(), target.to_owned()));
                    }
                }
            }
        }
    }
    let known: HashSet<&str> = identifiers.values().flatten().map(String::as_str).collect();
    let dangling: Vec<_> = relations
        .iter()
        .filter(|(_, _, t)| !known.contains(t.as_str()))
        .collect();
    assert!(dangling.is_empty(), "{dangling:#?}");
    for (kind, relation) in [
        ("pipeline-stage", "build"),
        ("pipeline-run", "pipeline"),
        ("pipeline-deployment", "environment"),
        ("release-deployment", "release"),
        ("release-deployment", "releaseDefinition"),
        ("test-run", "build"),
    ] {
        assert!(
            relations.iter().any(|(k, r, _)| k == kind && r == relation),
            "{kind}.{relation} never set"
        );
    }
}
