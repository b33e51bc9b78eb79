//! The fake server's delivery endpoints: build timelines, pipeline runs, pipeline
//! environments and their deployment records (core host), classic release definitions and
//! deployments (`vsrm.` host), and test runs, results and code coverage (core host), each
//! in ADO's wire format and paging style:
//!
//! - runs: no paging at all; the latest [`RUNS_CAP`] runs, no continuation token;
//! - environments, release definitions and deployments: `$top` + `x-ms-continuationtoken`;
//! - deployment records: `top` (this endpoint's spelling; a `$top` is ignored, as ADO
//!   ignores a parameter it does not know) + `x-ms-continuationtoken`;
//! - test runs and results: `$top`/`$skip`; a results page holds at most 1,000.
//!
//! `routes` falls back to [`endpoint_name`] and [`route`] for what it does not serve itself.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{TokenIn, continuation_page, id_in, ids_param, skip_page, time_of, time_param};
use super::routes::{Query, error, json_response, typed_error};
use crate::testkit::synthetic_org::SyntheticOrg;
use crate::testkit::synthetic_pipelines::timeline;

/// The most runs the runs list returns for one pipeline.
pub const RUNS_CAP: usize = 10_000;

/// Every endpoint served here (all under a project).
const ENDPOINTS: &[&str] = &[
    "build-timeline",
    "pipeline-runs",
    "pipeline-run",
    "environments",
    "environment-deployments",
    "release-definitions",
    "release-deployments",
    "test-runs",
    "test-results",
    "code-coverage",
];

/// The endpoint name of a delivery request, if it is one.
pub(super) fn endpoint_name(method: &Method, service: &str, path: &[&str]) -> Option<&'static str> {
    if *method != Method::GET {
        return None;
    }
    Some(match (service, path) {
        ("core", [_, "_apis", "build", "builds", _, "timeline"]) => "build-timeline",
        ("core", [_, "_apis", "pipelines", _, "runs"]) => "pipeline-runs",
        ("core", [_, "_apis", "pipelines", _, "runs", _]) => "pipeline-run",
        ("core", [_, "_apis", "distributedtask", "environments"]) => "environments",
        (
            "core",
            [
                _,
                "_apis",
                "distributedtask",
                "environments",
                _,
                "environmentdeploymentrecords",
            ],
        ) => "environment-deployments",
        ("vsrm", [_, "_apis", "release", "definitions"]) => "release-definitions",
        ("vsrm", [_, "_apis", "release", "deployments"]) => "release-deployments",
        ("core", [_, "_apis", "test", "runs"]) => "test-runs",
        ("core", [_, "_apis", "test", "runs", _, "results"]) => "test-results",
        ("core", [_, "_apis", "test", "codecoverage"]) => "code-coverage",
        _ => return None,
    })
}

fn not_found(type_key: &str, message: &str) -> Response {
    typed_error(StatusCode::NOT_FOUND, type_key, message)
}

/// ADO's answer to a delivery endpoint (`None`: not one of them).
pub(super) fn route(
    org: &SyntheticOrg,
    endpoint: &str,
    path: &[&str],
    query: &Query,
) -> Option<Response> {
    if !ENDPOINTS.contains(&endpoint) {
        return None;
    }
    let delivery = &org.delivery;
    let Some(project) = path.first().and_then(|key| {
        org.projects
            .iter()
            .find(|p| p["id"] == *key || p["name"] == *key)
    }) else {
        return Some(not_found(
            "ProjectDoesNotExistWithNameException",
            "TF200016: The following project does not exist.",
        ));
    };
    let project_id = project["id"].as_str().unwrap_or_default();
    let number = |at: usize| path.get(at).and_then(|s| s.parse::<u64>().ok());
    Some(match endpoint {
        "build-timeline" => match number(4).and_then(|id| {
            org.builds
                .iter()
                .find(|b| b["id"] == id && b["project"]["id"] == project_id)
        }) {
            Some(build) => json_response(StatusCode::OK, &timeline(&org.name, build), &[]),
            None => not_found("BuildNotFoundException", "the build does not exist"),
        },
        "pipeline-runs" => match number(3)
            .filter(|id| org.pipeline_project.get(id).map(String::as_str) == Some(project_id))
        {
            Some(id) => {
                let runs: Vec<&Value> = delivery
                    .runs
                    .get(&id)
                    .map(|r| r.iter().take(RUNS_CAP).collect())
                    .unwrap_or_default();
                json_response(
                    StatusCode::OK,
                    &json!({"count": runs.len(), "value": runs}),
                    &[],
                )
            }
            None => not_found("PipelineNotFoundException", "the pipeline does not exist"),
        },
        "pipeline-run" => match number(3)
            .filter(|id| org.pipeline_project.get(id).map(String::as_str) == Some(project_id))
            .and_then(|pipeline| {
                let run = number(5)?;
                delivery
                    .runs
                    .get(&pipeline)?
                    .iter()
                    .find(|r| r["id"] == run)
            }) {
            Some(run) => json_response(StatusCode::OK, run, &[]),
            None => not_found("PipelineRunNotFoundException", "the run does not exist"),
        },
        "environments" => {
            let environments: Vec<&Value> = delivery
                .environments
                .iter()
                .filter(|e| e["project"]["id"] == project_id)
                .collect();
            continuation_page(&environments, query, 50, 1000, TokenIn::Header, "value")
        }
        "environment-deployments" => match number(4).filter(|id| {
            delivery
                .environments
                .iter()
                .any(|e| e["id"] == *id && e["project"]["id"] == project_id)
        }) {
            Some(id) => {
                let records = delivery
                    .environment_deployments
                    .get(&id)
                    .cloned()
                    .unwrap_or_default();
                // This endpoint's page size is `top`; `$top` is not a parameter it knows.
                let mut spelled = query.clone();
                spelled.remove("$top");
                if let Some(top) = query.get("top") {
                    spelled.insert("$top".into(), top.clone());
                }
                continuation_page(&records, &spelled, 25, 1000, TokenIn::Header, "value")
            }
            None => not_found(
                "EnvironmentNotFoundException",
                "the environment does not exist",
            ),
        },
        "release-definitions" => {
            let expand = query
                .get("$expand")
                .map(|e| e.to_ascii_lowercase())
                .unwrap_or_default();
            let expanded: Vec<&str> = expand.split(',').map(str::trim).collect();
            let tags: Vec<&str> = query
                .get("tagFilter")
                .map(|t| t.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            let ids = match ids_param(query, "definitionIdFilter") {
                Ok(ids) => ids,
                Err(bad) => return Some(*bad),
            };
            let definitions: Vec<Value> = delivery
                .release_definitions
                .get(project_id)
                .into_iter()
                .flatten()
                .filter(|d| id_in(d, "/id", ids.as_deref()))
                .filter(|d| {
                    tags.iter().all(|tag| {
                        d["tags"]
                            .as_array()
                            .is_some_and(|have| have.iter().any(|h| h == *tag))
                    })
                })
                .map(|d| with_expanded(d, &expanded))
                .collect();
            continuation_page(&definitions, query, 50, 100, TokenIn::Header, "value")
        }
        "release-deployments" => {
            let (environment, min_modified) = match (
                ids_param(query, "definitionEnvironmentId"),
                time_param(query, "minModifiedTime"),
            ) {
                (Ok(env), Ok(min)) => (env, min),
                (Err(bad), _) | (_, Err(bad)) => return Some(*bad),
            };
            let deployments: Vec<&Value> = delivery
                .release_deployments
                .get(project_id)
                .into_iter()
                .flatten()
                .filter(|d| id_in(d, "/definitionEnvironmentId", environment.as_deref()))
                .filter(|d| {
                    min_modified
                        .is_none_or(|min| time_of(d, "/lastModifiedOn").is_some_and(|t| t >= min))
                })
                .collect();
            continuation_page(&deployments, query, 50, 100, TokenIn::Header, "value")
        }
        "test-runs" => {
            let details = query
                .get("includeRunDetails")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let build = query
                .get("buildUri")
                .map(|uri| uri.rsplit('/').next().unwrap_or_default().to_owned());
            let window = match updated_window(query) {
                Ok(window) => window,
                Err(bad) => return Some(*bad),
            };
            let runs: Vec<Value> = delivery
                .test_runs
                .iter()
                .filter(|r| r["project"]["id"] == project_id)
                .filter(|r| {
                    build
                        .as_deref()
                        .is_none_or(|b| id_in(r, "/build/id", Some(&[b.parse().unwrap_or(0)])))
                })
                .filter(|r| {
                    window.is_none_or(|(min, max)| {
                        time_of(r, "/lastUpdatedDate").is_some_and(|t| t >= min && t <= max)
                    })
                })
                .map(|r| if details { r.clone() } else { shallow_run(r) })
                .collect();
            skip_page(&runs, query, 100, 1000, ("$top", "$skip"), "value")
        }
        "test-results" => match number(4).and_then(|id| {
            delivery
                .test_runs
                .iter()
                .any(|r| r["id"] == id && r["project"]["id"] == project_id)
                .then(|| delivery.test_results.get(&id))
                .flatten()
        }) {
            Some(results) => skip_page(results, query, 100, 1000, ("$top", "$skip"), "value"),
            None => not_found("TestObjectNotFoundException", "the test run does not exist"),
        },
        "code-coverage" => {
            let Some(build) = query.get("buildId").and_then(|b| b.parse::<u64>().ok()) else {
                return Some(error(StatusCode::BAD_REQUEST, "buildId must be an integer"));
            };
            let flags = match query.get("flags").map(|f| f.parse::<u64>()) {
                None => 0,
                Some(Ok(f)) => f,
                Some(Err(_)) => {
                    return Some(error(StatusCode::BAD_REQUEST, "flags must be an integer"));
                }
            };
            let value: Vec<Value> = delivery
                .code_coverage
                .get(&build)
                .into_iter()
                .flatten()
                .map(|c| with_flags(c, flags))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"count": value.len(), "value": value}),
                &[],
            )
        }
        _ => return None,
    })
}

/// The test runs' `minLastUpdatedDate`/`maxLastUpdatedDate` window: both or neither, at
/// most 7 days long, as ADO requires.
fn updated_window(
    query: &Query,
) -> Result<Option<(jiff::Timestamp, jiff::Timestamp)>, Box<Response>> {
    match (
        time_param(query, "minLastUpdatedDate")?,
        time_param(query, "maxLastUpdatedDate")?,
    ) {
        (None, None) => Ok(None),
        (Some(min), Some(max))
            if max >= min
                && max.duration_since(min) <= jiff::SignedDuration::from_hours(7 * 24) =>
        {
            Ok(Some((min, max)))
        }
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "minLastUpdatedDate and maxLastUpdatedDate must both be given, at most 7 days apart",
        ))),
    }
}

/// A release definition with only the `$expand` sections asked for.
fn with_expanded(definition: &Value, expanded: &[&str]) -> Value {
    let mut d = definition.clone();
    if let Value::Object(map) = &mut d {
        for (section, keys) in [
            ("environments", &["environments"][..]),
            ("artifacts", &["artifacts"][..]),
            ("triggers", &["triggers"][..]),
            ("variables", &["variables"][..]),
            ("tags", &["tags"][..]),
            ("lastrelease", &["lastRelease"][..]),
        ] {
            if !expanded.contains(&section) {
                for key in keys {
                    map.remove(*key);
                }
            }
        }
    }
    d
}

/// A build's coverage with only the detail `flags` asks for (1 modules, 2 functions, 4
/// block data).
fn with_flags(coverage: &Value, flags: u64) -> Value {
    let mut c = coverage.clone();
    if let Value::Object(map) = &mut c {
        if flags & 1 == 0 {
            map.remove("modules");
        } else if let Some(Value::Array(modules)) = map.get_mut("modules") {
            for module in modules.iter_mut().filter_map(Value::as_object_mut) {
                if flags & 2 == 0 {
                    module.insert("functions".into(), json!([]));
                }
                if flags & 4 == 0 {
                    module.insert("blockData".into(), json!(""));
                }
            }
        }
    }
    c
}

/// A test run as the list returns it without `includeRunDetails`.
fn shallow_run(run: &Value) -> Value {
    let mut r = json!({});
    for key in [
        "id",
        "name",
        "url",
        "isAutomated",
        "state",
        "totalTests",
        "incompleteTests",
        "notApplicableTests",
        "passedTests",
        "unanalyzedTests",
        "revision",
        "webAccessUrl",
    ] {
        if let Some(v) = run.get(key) {
            r[key] = v.clone();
        }
    }
    r
}
