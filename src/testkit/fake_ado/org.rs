//! The fake server's endpoints for graph groups and memberships, team iterations, area
//! trees, Advanced Security alerts and wikis, in ADO's wire formats:
//!
//! - `GET {vssps}/_apis/graph/groups`: continuation token in the header, no page size.
//! - `GET {vssps}/_apis/graph/memberships/{descriptor}?direction=Up|Down` (default `Up`).
//! - `GET {org}/{project}/{team}/_apis/work/teamsettings/iterations`.
//! - `GET {org}/{project}/_apis/wit/classificationnodes/Areas?$depth=N`: the root with `N`
//!   levels of `children`; without `$depth`, the root alone (as ADO answers).
//! - `GET {advsec}/{project}/_apis/alert/repositories/{repo}/alerts`: `top` (not `$top`) and
//!   continuation token (header); `criteria.states`, `criteria.severities`,
//!   `criteria.alertType` filters (comma lists), an unknown value is a 400; a repository not
//!   onboarded answers 400 `AdvSecNotEnabledException`; the version must be a preview.
//! - `GET {org}/{project}/_apis/wiki/wikis`, `POST …/wikis/{wiki}/pagesbatch` (body `top` ≤
//!   100 and `continuationToken`; the next token in the header), and
//!   `GET …/wikis/{wiki}/pages/{id}[?includeContent=true]`.
//!
//! An `api-version` above 7.2 is refused with ADO's 400 (`VssVersionOutOfRangeException`),
//! so a version a selector sets is seen to arrive.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{MAX_PAGE, TokenIn, continuation_page};
use super::routes::{Query, error, json_response, typed_error};
use crate::testkit::synthetic_org::SyntheticOrg;

/// The most pages one `pagesbatch` request returns.
pub(super) const PAGES_BATCH_CAP: usize = 100;

/// The endpoint name of a request this module serves.
pub(super) fn endpoint_name(method: &Method, service: &str, path: &[&str]) -> Option<&'static str> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    Some(match (service, path) {
        ("vssps", ["_apis", "graph", "groups"]) if get => "graph-groups",
        ("core", [_, _, "_apis", "work", "teamsettings", "iterations"]) if get => "team-iterations",
        ("core", [_, "_apis", "wit", nodes, group])
            if get
                && nodes.eq_ignore_ascii_case("classificationnodes")
                && group.eq_ignore_ascii_case("areas") =>
        {
            "area-nodes"
        }
        ("advsec", [_, "_apis", "alert", "repositories", _, "alerts"]) if get => "advsec-alerts",
        ("core", [_, "_apis", "wiki", "wikis"]) if get => "wikis",
        ("core", [_, "_apis", "wiki", "wikis", _, "pagesbatch"]) if post => "wiki-pages-batch",
        ("core", [_, "_apis", "wiki", "wikis", _, "pages", _]) if get => "wiki-page",
        _ => return None,
    })
}

/// ADO's answer to a request of `endpoint`, if this module serves it.
pub(super) fn route(
    org: &SyntheticOrg,
    endpoint: &str,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Option<Response> {
    let project = || {
        org.projects
            .iter()
            .find(|p| p["id"] == path[0] || p["name"] == path[0])
            .and_then(|p| p["id"].as_str())
    };
    let no_project = || {
        typed_error(
            StatusCode::NOT_FOUND,
            "ProjectDoesNotExistWithNameException",
            "TF200016: The following project does not exist.",
        )
    };
    Some(match endpoint {
        "graph-groups" => continuation_page(&org.groups, query, 500, 500, TokenIn::Header, "value"),
        "team-iterations" => match (project(), org.iterations.get(path[1])) {
            (None, _) => no_project(),
            (Some(_), None) => typed_error(
                StatusCode::NOT_FOUND,
                "TeamNotFoundException",
                "VS403368: The team does not exist.",
            ),
            (Some(_), Some(list)) => listed(list),
        },
        "area-nodes" => match project().and_then(|id| org.areas.get(id)) {
            None => no_project(),
            Some(root) => match query.get("$depth").map(|d| d.parse::<usize>()) {
                None => json_response(StatusCode::OK, &pruned(root, 0), &[]),
                Some(Ok(depth)) => json_response(StatusCode::OK, &pruned(root, depth), &[]),
                Some(Err(_)) => error(StatusCode::BAD_REQUEST, "$depth must be an integer"),
            },
        },
        "advsec-alerts" => {
            refused_version(query, true).unwrap_or_else(|| alerts(org, project(), path[4], query))
        }
        "wikis" => refused_version(query, false).unwrap_or_else(|| match project() {
            None => no_project(),
            Some(id) => listed(org.wikis.get(id).map_or(&[][..], Vec::as_slice)),
        }),
        "wiki-pages-batch" => refused_version(query, false).unwrap_or_else(|| {
            match wiki_of(org, project(), path[4]) {
                None => no_wiki(path[4]),
                Some(pages) => pages_batch(pages, body),
            }
        }),
        "wiki-page" => refused_version(query, false).unwrap_or_else(|| {
            match wiki_of(org, project(), path[4]) {
                None => no_wiki(path[4]),
                Some(pages) => page(pages, path[6], query),
            }
        }),
        _ => return None,
    })
}

/// `GET {vssps}/_apis/graph/memberships/{descriptor}`: the groups a subject belongs to
/// (`Up`, the default) or a group's direct members (`Down`).
pub(super) fn memberships(org: &SyntheticOrg, descriptor: &str, query: &Query) -> Response {
    let known = org
        .groups
        .iter()
        .chain(org.graph_users.iter())
        .any(|s| s["descriptor"] == descriptor);
    if !known {
        return typed_error(
            StatusCode::NOT_FOUND,
            "GraphSubjectNotFoundException",
            "VS860015: The subject does not exist.",
        );
    }
    let down = query
        .get("direction")
        .is_some_and(|d| d.eq_ignore_ascii_case("down"));
    let pairs: Vec<(String, String)> = if down {
        org.memberships_down
            .get(descriptor)
            .into_iter()
            .flatten()
            .map(|member| (descriptor.to_owned(), member.clone()))
            .collect()
    } else {
        let containers: Vec<String> = match org.memberships_up.get(descriptor) {
            Some(groups) => groups.clone(),
            None => org
                .groups
                .iter()
                .filter_map(|g| g["descriptor"].as_str())
                .filter(|g| {
                    org.memberships_down
                        .get(*g)
                        .is_some_and(|members| members.iter().any(|m| m == descriptor))
                })
                .map(str::to_owned)
                .collect(),
        };
        containers
            .into_iter()
            .map(|group| (group, descriptor.to_owned()))
            .collect()
    };
    let value: Vec<Value> = pairs
        .into_iter()
        .map(|(container, member)| {
            json!({"containerDescriptor": container, "memberDescriptor": member, "_links": {}})
        })
        .collect();
    listed(&value)
}

/// `{"count": n, "value": [...]}`.
fn listed(items: &[Value]) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"count": items.len(), "value": items}),
        &[],
    )
}

/// The node with `depth` levels of children; below that, nodes keep `hasChildren` only.
fn pruned(node: &Value, depth: usize) -> Value {
    let mut node = node.clone();
    if let Value::Object(map) = &mut node {
        match map.remove("children") {
            Some(Value::Array(children)) if depth > 0 => {
                let kept = children.iter().map(|c| pruned(c, depth - 1)).collect();
                map.insert("children".into(), Value::Array(kept));
            }
            _ => {}
        }
    }
    node
}

/// ADO's 400 for an `api-version` it does not serve: above 7.2, or (`preview`) a preview API
/// asked for without `-preview`.
fn refused_version(query: &Query, preview: bool) -> Option<Response> {
    let version = query.get("api-version")?;
    let (number, tail) = version.split_once('-').unwrap_or((version, ""));
    let parsed = number
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    let Some(parsed) = parsed else {
        return Some(typed_error(
            StatusCode::BAD_REQUEST,
            "VssInvalidApiVersionException",
            &format!("VS403407: The api-version '{version}' is not valid."),
        ));
    };
    if parsed > (7, 2) {
        return Some(typed_error(
            StatusCode::BAD_REQUEST,
            "VssVersionOutOfRangeException",
            &format!(
                "VS800071: The requested REST API version of {version} is out of range for this server. The latest REST API version this server supports is 7.2."
            ),
        ));
    }
    if preview && !tail.starts_with("preview") {
        return Some(typed_error(
            StatusCode::BAD_REQUEST,
            "VssInvalidPreviewVersionException",
            &format!(
                "VS800075: The requested version \"{version}\" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests."
            ),
        ));
    }
    None
}

const STATES: &[&str] = &["active", "dismissed", "fixed", "autoDismissed", "unknown"];
const SEVERITIES: &[&str] = &[
    "low",
    "medium",
    "high",
    "critical",
    "note",
    "warning",
    "error",
    "undefined",
];
const TYPES: &[&str] = &["dependency", "code", "secret", "unknown"];

fn alerts(org: &SyntheticOrg, project: Option<&str>, repo: &str, query: &Query) -> Response {
    let Some(project) = project else {
        return typed_error(
            StatusCode::NOT_FOUND,
            "ProjectDoesNotExistWithNameException",
            "TF200016: The following project does not exist.",
        );
    };
    let listed_here = org
        .repos
        .iter()
        .any(|r| r["id"] == repo && r["project"]["id"] == project);
    if !listed_here {
        return typed_error(
            StatusCode::NOT_FOUND,
            "GitRepositoryNotFoundException",
            "TF401019: The Git repository does not exist.",
        );
    }
    let Some(all) = org.alerts.get(repo) else {
        return typed_error(
            StatusCode::BAD_REQUEST,
            "AdvSecNotEnabledException",
            "Advanced Security is not enabled for this repository.",
        );
    };
    let mut filters: Vec<(&str, Vec<&str>)> = Vec::new();
    for (param, field, allowed) in [
        ("criteria.states", "state", STATES),
        ("criteria.severities", "severity", SEVERITIES),
        ("criteria.alertType", "alertType", TYPES),
    ] {
        let Some(list) = query.get(param) else {
            continue;
        };
        let values: Vec<&str> = list.split(',').map(str::trim).collect();
        if let Some(bad) = values.iter().find(|v| !allowed.contains(v)) {
            return typed_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgumentValueException",
                &format!("The value '{bad}' is not valid for {param}."),
            );
        }
        filters.push((field, values));
    }
    let modified_since = match super::pages::time_param(query, "criteria.modifiedSince") {
        Ok(since) => since,
        Err(bad) => return *bad,
    };
    let kept: Vec<&Value> = all
        .iter()
        .filter(|alert| {
            filters
                .iter()
                .all(|(field, values)| alert[*field].as_str().is_some_and(|v| values.contains(&v)))
        })
        // An alert changes when it is seen again, fixed or dismissed: its last sighting.
        .filter(|alert| {
            modified_since.is_none_or(|since| {
                super::pages::time_of(alert, "/lastSeenDate").is_some_and(|t| t >= since)
            })
        })
        .collect();
    // The alerts API pages with `top`; `$top` means nothing to it.
    let mut paging = query.clone();
    paging.remove("$top");
    if let Some(top) = query.get("top") {
        paging.insert("$top".into(), top.clone());
    }
    continuation_page(&kept, &paging, 100, 1000, TokenIn::Header, "value")
}

/// The pages of a wiki of the project (by id or name).
fn wiki_of<'a>(org: &'a SyntheticOrg, project: Option<&str>, wiki: &str) -> Option<&'a [Value]> {
    project
        .and_then(|p| org.wikis.get(p))
        .into_iter()
        .flatten()
        .find(|w| w["id"] == wiki || w["name"] == wiki)
        .and_then(|w| w["id"].as_str())
        .and_then(|id| org.wiki_pages.get(id))
        .map(Vec::as_slice)
}

/// ADO's 404 for a wiki that does not exist.
fn no_wiki(wiki: &str) -> Response {
    typed_error(
        StatusCode::NOT_FOUND,
        "WikiNotFoundException",
        &format!("The wiki '{wiki}' does not exist."),
    )
}

fn pages_batch(pages: &[Value], body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let top = match request.get("top").map(Value::as_u64) {
        Some(Some(n)) if (1..=PAGES_BATCH_CAP as u64).contains(&n) => n as usize,
        _ => {
            return typed_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgumentValueException",
                "top must be between 1 and 100.",
            );
        }
    };
    let start = match request.get("continuationToken") {
        None | Some(Value::Null) => 0,
        Some(Value::String(t)) => match t.parse::<usize>() {
            Ok(n) if n <= pages.len() => n,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the continuation token is not valid",
                );
            }
        },
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the continuation token is not valid",
            );
        }
    };
    let size = top.min(MAX_PAGE.with(std::cell::Cell::get));
    let end = start.saturating_add(size).min(pages.len());
    let value: Vec<Value> = pages[start..end]
        .iter()
        .map(|p| json!({"id": p["id"], "path": p["path"]}))
        .collect();
    let headers: Vec<(&'static str, String)> = if end < pages.len() {
        vec![("x-ms-continuationtoken", end.to_string())]
    } else {
        Vec::new()
    };
    json_response(
        StatusCode::OK,
        &json!({"count": value.len(), "value": value}),
        &headers,
    )
}

fn page(pages: &[Value], id: &str, query: &Query) -> Response {
    let wanted = id.parse::<u64>().ok();
    let found = pages
        .iter()
        .find(|p| wanted.is_some() && p["id"].as_u64() == wanted);
    match found {
        Some(page) => {
            let mut page = page.clone();
            let content = query
                .get("includeContent")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if let (false, Value::Object(map)) = (content, &mut page) {
                map.remove("content");
            }
            json_response(StatusCode::OK, &page, &[])
        }
        None => typed_error(
            StatusCode::NOT_FOUND,
            "WikiPageNotFoundException",
            &format!("The page with id {id} does not exist."),
        ),
    }
}
