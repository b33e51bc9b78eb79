//! The fake server's routes: which endpoint a request is, and ADO's answer to it, with
//! both pagination styles and their caps, WIQL's 20,000 cap and 200-id batch reads.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{FakeConfig, Shared, WIQL_CAP, WORK_ITEM_BATCH_CAP, add_headers};
use crate::testkit::synthetic_org::SyntheticOrg;

/// Query parameters of a request.
pub(super) type Query = HashMap<String, String>;

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"$id": "1", "innerException": null, "message": message,
                      "typeName": "Microsoft.VisualStudio.Services.WebApi.VssServiceException",
                      "typeKey": "VssServiceException", "errorCode": 0, "eventId": 3000});
    json_response(status, &body, &[])
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
        ("core", [_, "_apis", "git", "repositories", _, "items"]) if get => "items",
        ("core", [_, "_apis", "git", "repositories", _, "refs"]) if get => "refs",
        ("core", [_, "_apis", "git", "policy", "configurations"]) if get => "policies",
        ("core", [_, "_apis", "git", "pullrequests"]) if get => "pull-requests",
        ("core", [_, "_apis", "pipelines"]) if get => "pipelines",
        ("core", [_, "_apis", "build", "definitions", _]) if get => "build-definition",
        ("core", [_, "_apis", "build", "builds"]) if get => "builds",
        ("core", [_, "_apis", "build", "builds", _, "changes"]) if get => "build-changes",
        ("core", [_, "_apis", "git", "repositories", _, "commits", _]) if get => "commit",
        ("core", [_, "_apis", "wit", "wiql"]) if *method == Method::POST => "wiql",
        ("core", [_, "_apis", "wit", "workitems"]) if get => "work-items",
        ("core", [_, _, "_apis", "work", "boards"]) if get => "boards",
        ("core", [_, _, "_apis", "work", "boards", _]) if get => "board",
        ("vsrm", [_, "_apis", "release", "releases"]) if get => "releases",
        ("vssps", ["_apis", "graph", "users"]) if get => "graph-users",
        ("vssps", ["_apis", "graph", "memberships", _]) if get => "graph-memberships",
        ("vssps", ["_apis", "graph", "subjectlookup"]) if *method == Method::POST => {
            "subject-lookup"
        }
        ("vsaex", ["_apis", "userentitlements"]) if get => "user-entitlements",
        _ => "unknown",
    }
}

pub(super) fn route(
    shared: &Shared,
    config: &FakeConfig,
    method: &Method,
    service: &str,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Response {
    MAX_PAGE.with(|m| m.set(config.max_page.unwrap_or(usize::MAX).max(1)));
    let org = &shared.org;
    let endpoint = endpoint_name(method, service, path);
    let project = |key: &str| {
        org.projects
            .iter()
            .find(|p| p["id"] == key || p["name"] == key)
            .cloned()
    };
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
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
            None => error(StatusCode::NOT_FOUND, "the team does not exist"),
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
        "items" => {
            let wanted = query.get("path").cloned().unwrap_or_default();
            let wanted = format!("/{}", wanted.trim_start_matches('/'));
            match org.files.get(path[4]).and_then(|files| files.get(&wanted)) {
                Some(text) => json_response(
                    StatusCode::OK,
                    &json!({"objectId": format!("{:040x}", text.len()), "gitObjectType": "blob",
                            "commitId": "0000000000000000000000000000000000000001", "path": wanted,
                            "content": text, "url": ""}),
                    &[],
                ),
                None => error(
                    StatusCode::NOT_FOUND,
                    "TF401174: The item could not be found in the repository.",
                ),
            }
        }
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
            None => error(
                StatusCode::NOT_FOUND,
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
            None => error(StatusCode::NOT_FOUND, "the definition does not exist"),
        },
        "builds" => match project(path[0]) {
            Some(p) => {
                let builds: Vec<&Value> = org
                    .builds
                    .iter()
                    .filter(|b| b["project"]["id"] == p["id"])
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
            None => error(StatusCode::NOT_FOUND, "the build does not exist"),
        },
        "commit" => match org.commits.get(path[6]) {
            Some(commit) => json_response(StatusCode::OK, commit, &[]),
            None => error(
                StatusCode::NOT_FOUND,
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
            None => error(StatusCode::NOT_FOUND, "the team does not exist"),
        },
        "board" => match org
            .boards
            .get(path[1])
            .and_then(|boards| boards.iter().find(|b| b["id"] == path[5]))
        {
            Some(board) => json_response(StatusCode::OK, board, &[]),
            None => error(StatusCode::NOT_FOUND, "the board does not exist"),
        },
        "releases" => match project(path[0]) {
            Some(p) => {
                let status = query.get("statusFilter");
                let releases: Vec<&Value> = org
                    .releases
                    .iter()
                    .filter(|r| r["projectReference"]["id"] == p["id"])
                    .filter(|r| status.is_none_or(|s| r["status"] == s.as_str()))
                    .collect();
                continuation_page(&releases, query, 50, 100, TokenIn::Header, "value")
            }
            None => not_found(),
        },
        "graph-users" => {
            continuation_page(&org.graph_users, query, 500, 500, TokenIn::Header, "value")
        }
        "graph-memberships" => match org.memberships_up.get(path[3]) {
            Some(groups)
                if query
                    .get("direction")
                    .is_some_and(|d| d.eq_ignore_ascii_case("up")) =>
            {
                let value: Vec<Value> = groups
                    .iter()
                    .map(|g| json!({"containerDescriptor": g, "memberDescriptor": path[3], "_links": {}}))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"count": value.len(), "value": value}),
                    &[],
                )
            }
            Some(_) => json_response(StatusCode::OK, &json!({"count": 0, "value": []}), &[]),
            None => error(StatusCode::NOT_FOUND, "the subject does not exist"),
        },
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
        _ => error(
            StatusCode::NOT_FOUND,
            "the resource does not exist on this host",
        ),
    }
}

thread_local! {
    /// `FakeConfig::max_page` of the request being routed (routing is synchronous).
    static MAX_PAGE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

#[derive(Clone, Copy)]
enum TokenIn {
    Header,
    Body,
}

fn continuation_page<T: std::borrow::Borrow<Value>>(
    items: &[T],
    query: &Query,
    default_top: usize,
    cap: usize,
    token_in: TokenIn,
    key: &str,
) -> Response {
    let cap = cap.min(MAX_PAGE.with(std::cell::Cell::get));
    let start = match query.get("continuationToken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= items.len() => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the continuation token is not valid",
            );
        }
    };
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => default_top,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "$top must be a positive integer"),
    };
    let end = start.saturating_add(top.min(cap)).min(items.len());
    let page: Vec<&Value> = items[start..end]
        .iter()
        .map(std::borrow::Borrow::borrow)
        .collect();
    let token = (end < items.len()).then(|| end.to_string());
    let mut body = json!({"count": page.len(), key: page});
    let mut headers = Vec::new();
    match (token, token_in) {
        (Some(t), TokenIn::Header) => headers.push(("x-ms-continuationtoken", t)),
        (Some(t), TokenIn::Body) => body["continuationToken"] = Value::String(t),
        (None, TokenIn::Body) => body["continuationToken"] = Value::Null,
        (None, TokenIn::Header) => {}
    }
    json_response(StatusCode::OK, &body, &headers)
}

fn skip_page<T: std::borrow::Borrow<Value>>(
    items: &[T],
    query: &Query,
    default_top: usize,
    cap: usize,
    names: (&str, &str),
    key: &str,
) -> Response {
    let cap = cap.min(MAX_PAGE.with(std::cell::Cell::get));
    let parse = |name: &str, default: usize| match query.get(name).map(|v| v.parse::<usize>()) {
        None => Ok(default),
        Some(Ok(n)) => Ok(n),
        Some(Err(_)) => Err(()),
    };
    let (Ok(top), Ok(skip)) = (parse(names.0, default_top), parse(names.1, 0)) else {
        return error(StatusCode::BAD_REQUEST, "$top and $skip must be integers");
    };
    let start = skip.min(items.len());
    let end = start.saturating_add(top.min(cap)).min(items.len());
    let page: Vec<&Value> = items[start..end]
        .iter()
        .map(std::borrow::Borrow::borrow)
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"count": page.len(), key: page}),
        &[],
    )
}

fn wiql(org: &SyntheticOrg, project: &Value, query: &Query, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the WIQL request body is not JSON");
    };
    let text = request["query"].as_str().unwrap_or_default();
    let after = text
        .find("[System.Id] > ")
        .and_then(|at| text[at + 14..].split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let name = project["name"].as_str().unwrap_or_default();
    let ids: Vec<u64> = org
        .work_items
        .iter()
        .filter(|w| w["fields"]["System.TeamProject"] == name)
        .filter_map(|w| w["id"].as_u64())
        .filter(|id| *id > after)
        .collect();
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if (1..=WIQL_CAP).contains(&n) => Some(n),
        Some(_) => return error(StatusCode::BAD_REQUEST, "$top must be between 1 and 20000"),
    };
    if top.is_none() && ids.len() > WIQL_CAP {
        return error(
            StatusCode::BAD_REQUEST,
            "VS402337: The number of work items returned exceeds the size limit of 20000. Change the query to return fewer items.",
        );
    }
    let base = "https://dev.azure.com";
    let items: Vec<Value> = ids
        .iter()
        .take(top.unwrap_or(WIQL_CAP))
        .map(|id| json!({"id": id, "url": format!("{base}/_apis/wit/workItems/{id}")}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"queryType": "flat", "queryResultType": "workItem", "asOf": "2026-06-01T00:00:00Z",
                "columns": [{"referenceName": "System.Id", "name": "ID", "url": format!("{base}/_apis/wit/fields/System.Id")}],
                "workItems": items}),
        &[],
    )
}

fn work_items(org: &SyntheticOrg, config: &FakeConfig, query: &Query) -> Response {
    let ids: Result<Vec<u64>, _> = query
        .get("ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse::<u64>)
        .collect();
    let Ok(ids) = ids else {
        return error(StatusCode::BAD_REQUEST, "ids must be integers");
    };
    if ids.len() > WORK_ITEM_BATCH_CAP {
        return error(
            StatusCode::BAD_REQUEST,
            "VS403474: The maximum number of work items to retrieve is 200.",
        );
    }
    let omit = query
        .get("errorPolicy")
        .is_some_and(|p| p.eq_ignore_ascii_case("omit"));
    let expand = query
        .get("$expand")
        .map_or("none", String::as_str)
        .to_ascii_lowercase();
    let mut value = Vec::with_capacity(ids.len());
    for id in ids {
        let found = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| org.work_items.get(i))
            .filter(|_| !config.vanished_work_items.contains(&id));
        match found {
            Some(item) => {
                let mut item = item.clone();
                if let Value::Object(map) = &mut item {
                    if !matches!(expand.as_str(), "all" | "relations") {
                        map.remove("relations");
                    }
                    if !matches!(expand.as_str(), "all" | "links") {
                        map.remove("_links");
                    }
                }
                value.push(item);
            }
            None if omit => value.push(Value::Null),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "TF401232: Work item {id} does not exist, or you do not have permissions to read it."
                    ),
                );
            }
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"count": value.len(), "value": value}),
        &[],
    )
}
