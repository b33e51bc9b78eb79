//! The fake server's routes: which endpoint a request is, and ADO's answer to it. Paging,
//! WIQL and batch reads are `pages`'.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{
    MAX_PAGE, TokenIn, continuation_page, id_in, ids_param, skip_page, time_of, time_param, wiql,
    work_items,
};
use super::{FakeConfig, Shared, add_headers};

/// Query parameters of a request.
pub(super) type Query = HashMap<String, String>;

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    typed_error(status, "VssServiceException", message)
}

/// ADO's JSON error body with `type_key` (`typeName` built from it, as ADO does).
pub(super) fn typed_error(status: StatusCode, type_key: &str, message: &str) -> Response {
    let body = json!({"$id": "1", "innerException": null, "message": message,
                      "typeName": format!("Microsoft.TeamFoundation.Server.{type_key}, Microsoft.TeamFoundation.Server"),
                      "typeKey": type_key, "errorCode": 0, "eventId": 3000});
    json_response(status, &body, &[])
}

/// A 404 with ADO's typed error body.
fn missing(type_key: &str, message: &str) -> Response {
    typed_error(StatusCode::NOT_FOUND, type_key, message)
}

pub(super) fn json_response(
    status: StatusCode,
    body: &Value,
    headers: &[(&'static str, String)],
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8; api-version=7.1"),
    );
    add_headers(&mut response, headers);
    response
}

/// The endpoint name of a request: the key of counts and faults.
pub(super) fn endpoint_name(method: &Method, service: &str, path: &[&str]) -> &'static str {
    let get = *method == Method::GET;
    match (service, path) {
        ("core", ["_apis", "projects"]) if get => "projects",
        ("core", ["_apis", "projects", _]) if get => "project",
        ("core", ["_apis", "projects", _, "properties"]) if get => "project-properties",
        ("core", ["_apis", "teams"]) if get => "teams",
        ("core", ["_apis", "projects", _, "teams"]) if get => "project-teams",
        ("core", ["_apis", "projects", _, "teams", _, "members"]) if get => "team-members",
        ("core", [_, _, "_apis", "work", "teamsettings", "teamfieldvalues"]) if get => {
            "team-field-values"
        }
        ("core", [_, "_apis", "git", "repositories"]) if get => "repositories",
        ("core", [_, "_apis", "git", "repositories", _, "refs"]) if get => "refs",
        ("core", [_, "_apis", "git", "policy", "configurations"]) if get => "policies",
        ("core", [_, "_apis", "git", "pullrequests"]) if get => "pull-requests",
        ("core", [_, "_apis", "pipelines"]) if get => "pipelines",
        ("core", [_, "_apis", "build", "definitions", _]) if get => "build-definition",
        ("core", [_, "_apis", "build", "builds"]) if get => "builds",
        ("core", [_, "_apis", "build", "builds", _, "changes"]) if get => "build-changes",
        ("core", [_, "_apis", "git", "repositories", _, "commits", _]) if get => "commit",
        ("core", [_, "_apis", "wit", "wiql"]) if *method == Method::POST => "wiql",
        ("core", [_, "_apis", "wit", "workitems"] | ["_apis", "wit", "workitems"]) if get => {
            "work-items"
        }
        ("core", [_, _, "_apis", "work", "boards"]) if get => "boards",
        ("core", [_, _, "_apis", "work", "boards", _]) if get => "board",
        ("vsrm", [_, "_apis", "release", "releases"]) if get => "releases",
        ("vssps", ["_apis", "graph", "users"]) if get => "graph-users",
        ("vssps", ["_apis", "graph", "memberships", _]) if get => "graph-memberships",
        ("vssps", ["_apis", "graph", "subjectlookup"]) if *method == Method::POST => {
            "subject-lookup"
        }
        ("vsaex", ["_apis", "userentitlements"]) if get => "user-entitlements",
        (_, ["_apis", "hooks", "subscriptions", ..]) => super::hooks::endpoint(method, path),
        _ => super::org::endpoint_name(method, service, path)
            .or_else(|| super::pipelines::endpoint_name(method, service, path))
            .or_else(|| super::files::endpoint_name(method, service, path))
            .unwrap_or("unknown"),
    }
}

#[allow(clippy::too_many_arguments)] // One request's parts, as the handler has them.
pub(super) fn route(
    shared: &Shared,
    org: &crate::testkit::synthetic_org::SyntheticOrg,
    config: &FakeConfig,
    method: &Method,
    service: &str,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Response {
    MAX_PAGE.with(|m| m.set(config.max_page.unwrap_or(usize::MAX).max(1)));
    let endpoint = endpoint_name(method, service, path);
    let project = |key: &str| {
        org.projects
            .iter()
            .find(|p| p["id"] == key || p["name"] == key)
            .cloned()
    };
    let not_found = || {
        missing(
            "ProjectDoesNotExistWithNameException",
            "TF200016: The following project does not exist.",
        )
    };
    match endpoint {
        "projects" => continuation_page(&org.projects, query, 100, 1000, TokenIn::Header, "value"),
        "project" => match project(path[2]) {
            Some(mut p) => {
                let id = p["id"].as_str().unwrap_or_default().to_owned();
                if let (Value::Object(into), Some(Value::Object(extra))) =
                    (&mut p, org.project_details.get(&id))
                {
                    into.extend(extra.clone());
                }
                json_response(StatusCode::OK, &p, &[])
            }
            None => not_found(),
        },
        "project-properties" => match project(path[2]) {
            Some(p) => {
                let tags = org
                    .project_tags
                    .get(p["id"].as_str().unwrap_or_default())
                    .cloned()
                    .unwrap_or_default();
                let value: Vec<Value> = tags
                    .iter()
                    .map(|t| json!({"name": format!("Microsoft.TeamFoundation.Project.Tag.{t}"), "value": "True"}))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"count": value.len(), "value": value}),
                    &[],
                )
            }
            None => not_found(),
        },
        "teams" => skip_page(&org.teams, query, 100, 1000, ("$top", "$skip"), "value"),
        "project-teams" => match project(path[2]) {
            Some(p) => {
                let teams: Vec<&Value> = org
                    .teams
                    .iter()
                    .filter(|t| t["projectId"] == p["id"])
                    .collect();
                skip_page(&teams, query, 100, 1000, ("$top", "$skip"), "value")
            }
            None => not_found(),
        },
        "team-members" => match org.team_members.get(path[4]) {
            Some(members) => skip_page(members, query, 100, 1000, ("$top", "$skip"), "value"),
            None => missing("TeamNotFoundException", "the team does not exist"),
        },
        "team-field-values" => match project(path[0]) {
            Some(p) => {
                let name = p["name"].clone();
                json_response(
                    StatusCode::OK,
                    &json!({"field": {"referenceName": "System.AreaPath", "url": "https://dev.azure.com/_apis/wit/fields/System.AreaPath"},
                            "defaultValue": name, "values": [{"value": name, "includeChildren": true}],
                            "url": "", "_links": {}}),
                    &[],
                )
            }
            None => not_found(),
        },
        "repositories" => match project(path[0]) {
            Some(p) => {
                let repos: Vec<Value> = org
                    .repos
                    .iter()
                    .filter(|r| r["project"]["id"] == p["id"])
                    .cloned()
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"value": repos, "count": repos.len()}),
                    &[],
                )
            }
            None => not_found(),
        },
        "refs" => match org.refs.get(path[4]) {
            Some(refs) => {
                let filter = query.get("filter").map(|f| format!("refs/{f}"));
                let refs: Vec<&Value> = refs
                    .iter()
                    .filter(|r| {
                        filter.as_ref().is_none_or(|f| {
                            r["name"]
                                .as_str()
                                .unwrap_or_default()
                                .starts_with(f.as_str())
                        })
                    })
                    .collect();
                continuation_page(&refs, query, usize::MAX, 1000, TokenIn::Header, "value")
            }
            None => missing(
                "GitRepositoryNotFoundException",
                "TF401019: The Git repository does not exist.",
            ),
        },
        "policies" => match project(path[0]) {
            Some(p) => {
                let id = p["id"].as_str().unwrap_or_default();
                let mut all: Vec<&Value> = org
                    .project_policies
                    .get(id)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default();
                for repo in org.repos.iter().filter(|r| r["project"]["id"] == p["id"]) {
                    if let Some(own) = org.policies.get(repo["id"].as_str().unwrap_or_default()) {
                        all.extend(own.iter());
                    }
                }
                // ADO's filter: policies whose scope names the repository (or none) and the ref.
                if let Some(repo) = query.get("repositoryId") {
                    let branch = query.get("refName").map(String::as_str);
                    all.retain(|policy| crate::ado::kinds::policy_applies(policy, repo, branch));
                }
                continuation_page(&all, query, 1000, 1000, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "pull-requests" => match project(path[0]) {
            Some(p) => {
                let status = query
                    .get("searchCriteria.status")
                    .map_or("active", String::as_str);
                let closed_since = (query
                    .get("searchCriteria.queryTimeRangeType")
                    .map(String::as_str)
                    == Some("closed"))
                .then(|| {
                    query
                        .get("searchCriteria.minTime")
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                })
                .flatten();
                let repo = query.get("searchCriteria.repositoryId");
                let prs: Vec<&Value> = org
                    .pull_requests
                    .iter()
                    .filter(|pr| pr["repository"]["project"]["id"] == p["id"])
                    .filter(|pr| status == "all" || pr["status"] == status)
                    .filter(|pr| repo.is_none_or(|r| pr["repository"]["id"] == r.as_str()))
                    .filter(|pr| {
                        closed_since.is_none_or(|since| {
                            pr["closedDate"]
                                .as_str()
                                .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                                .is_some_and(|d| d >= since)
                        })
                    })
                    .collect();
                skip_page(&prs, query, 101, 1000, ("$top", "$skip"), "value")
            }
            None => not_found(),
        },
        "pipelines" => match project(path[0]) {
            Some(p) => {
                let pipelines: Vec<&Value> = org
                    .pipelines
                    .iter()
                    .filter(|pl| {
                        pl["id"]
                            .as_u64()
                            .and_then(|id| org.pipeline_project.get(&id))
                            .map(String::as_str)
                            == p["id"].as_str()
                    })
                    .collect();
                continuation_page(&pipelines, query, 100, 1000, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "build-definition" => match path[4]
            .parse::<u64>()
            .ok()
            .and_then(|id| org.definitions.get(&id))
        {
            Some(definition) => json_response(StatusCode::OK, definition, &[]),
            None => missing(
                "DefinitionNotFoundException",
                "the definition does not exist",
            ),
        },
        "builds" => match project(path[0]) {
            Some(p) => {
                let (ids, min_time) =
                    match (ids_param(query, "buildIds"), time_param(query, "minTime")) {
                        (Ok(ids), Ok(min)) => (ids, min),
                        (Err(bad), _) | (_, Err(bad)) => return *bad,
                    };
                // `minTime` bounds the time `queryOrder` sorts by (queue time by default).
                let order_field = match query.get("queryOrder").map(String::as_str) {
                    Some("finishTimeDescending" | "finishTimeAscending") => "/finishTime",
                    Some("startTimeDescending" | "startTimeAscending") => "/startTime",
                    _ => "/queueTime",
                };
                let builds: Vec<&Value> = org
                    .builds
                    .iter()
                    .filter(|b| b["project"]["id"] == p["id"])
                    .filter(|b| id_in(b, "/id", ids.as_deref()))
                    .filter(|b| {
                        min_time.is_none_or(|min| time_of(b, order_field).is_some_and(|t| t >= min))
                    })
                    .collect();
                continuation_page(&builds, query, 1000, 1000, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "build-changes" => match path[4]
            .parse::<usize>()
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|i| org.build_changes.get(i))
        {
            Some(changes) => continuation_page(changes, query, 50, 1000, TokenIn::Header, "value"),
            None => missing("BuildNotFoundException", "the build does not exist"),
        },
        "commit" => match org.commits.get(path[6]) {
            Some(commit) => json_response(StatusCode::OK, commit, &[]),
            None => missing(
                "GitCommitDoesNotExistException",
                "TF401175: The commit does not exist.",
            ),
        },
        "wiql" => match project(path[0]) {
            Some(p) => wiql(org, &p, query, body),
            None => not_found(),
        },
        "work-items" => work_items(org, config, query),
        "boards" => match org.boards.get(path[1]) {
            Some(boards) => {
                let list: Vec<Value> = boards
                    .iter()
                    .map(|b| json!({"id": b["id"], "url": b["url"], "name": b["name"]}))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"count": list.len(), "value": list}),
                    &[],
                )
            }
            None => missing("TeamNotFoundException", "the team does not exist"),
        },
        "board" => match org
            .boards
            .get(path[1])
            .and_then(|boards| boards.iter().find(|b| b["id"] == path[5]))
        {
            Some(board) => json_response(StatusCode::OK, board, &[]),
            None => missing("BoardDoesNotExistException", "the board does not exist"),
        },
        "releases" => match project(path[0]) {
            Some(p) => {
                let status = query.get("statusFilter");
                let (ids, min_created) = match (
                    ids_param(query, "releaseIdFilter"),
                    time_param(query, "minCreatedTime"),
                ) {
                    (Ok(ids), Ok(min)) => (ids, min),
                    (Err(bad), _) | (_, Err(bad)) => return *bad,
                };
                let releases: Vec<&Value> = org
                    .releases
                    .iter()
                    .filter(|r| r["projectReference"]["id"] == p["id"])
                    .filter(|r| status.is_none_or(|s| r["status"] == s.as_str()))
                    .filter(|r| id_in(r, "/id", ids.as_deref()))
                    .filter(|r| {
                        min_created
                            .is_none_or(|min| time_of(r, "/createdOn").is_some_and(|t| t >= min))
                    })
                    .collect();
                continuation_page(&releases, query, 50, 100, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "graph-users" => {
            continuation_page(&org.graph_users, query, 500, 500, TokenIn::Header, "value")
        }
        "graph-memberships" => super::org::memberships(org, path[3], query),
        "subject-lookup" => {
            let keys: Vec<String> = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|b| b.get("lookupKeys").and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|k| {
                    k.get("descriptor")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            if keys.len() > 500 {
                return error(StatusCode::BAD_REQUEST, "too many lookup keys");
            }
            let mut found = serde_json::Map::new();
            for key in keys {
                let subject = org
                    .groups
                    .iter()
                    .chain(org.graph_users.iter())
                    .find(|s| s["descriptor"] == key.as_str());
                if let Some(subject) = subject {
                    found.insert(key, subject.clone());
                }
            }
            json_response(
                StatusCode::OK,
                &json!({"count": found.len(), "value": found}),
                &[],
            )
        }
        "user-entitlements" => {
            continuation_page(&org.entitlements, query, 100, 100, TokenIn::Body, "items")
        }
        hook if hook.starts_with("hooks-") => {
            super::hooks::route(shared, service, method, path, query, body)
        }
        other => super::org::route(org, other, path, query, body)
            .or_else(|| super::pipelines::route(org, other, path, query))
            .or_else(|| super::files::route(org, other, path, query, body))
            .unwrap_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "the resource does not exist on this host",
                )
            }),
    }
}
