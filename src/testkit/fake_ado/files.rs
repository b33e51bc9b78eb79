//! The fake server's git item endpoints, over the synthetic organization's trees
//! (`SyntheticOrg::files`, `branch_files`), as ADO answers them:
//!
//! - `GET …/git/repositories/{repo}/items?path=` — one item: a file (`blob`, with its text in
//!   `content` when `includeContent=true`) or a folder (`tree`); a 404 `GitItemNotFound`
//!   when the path is not there.
//! - `GET …/items?scopePath=&recursionLevel=` (no `path`) — the scope item and what lies
//!   below it: nothing (`none`), its children (`oneLevel`) or everything (`full`); pages with
//!   `$top` and `x-ms-continuationtoken` when asked.
//! - `POST …/itemsbatch` with `{"itemDescriptors": [{path, recursionLevel, version,
//!   versionType}]}` — one list per descriptor; **400 for the whole batch** when any one path
//!   is not there, as ADO does.
//!
//! Every read names a branch (`versionDescriptor.version`, or `version`); a branch that has
//! no tree of its own but is among the repository's refs has the default branch's files, and
//! any other branch is a 404 `GitUnresolvableToCommit`.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{TokenIn, continuation_page};
use super::routes::{Query, json_response, typed_error};
use crate::testkit::synthetic_org::SyntheticOrg;

/// The endpoint name of a git item request, if it is one.
pub(super) fn endpoint_name(method: &Method, service: &str, path: &[&str]) -> Option<&'static str> {
    match (service, path) {
        ("core", [_, "_apis", "git", "repositories", _, "items"]) if *method == Method::GET => {
            Some("items")
        }
        ("core", [_, "_apis", "git", "repositories", _, "itemsbatch"])
            if *method == Method::POST =>
        {
            Some("itemsbatch")
        }
        _ => None,
    }
}

/// ADO's answer to a git item request; `None` when `endpoint` is not one of these.
pub(super) fn route(
    org: &SyntheticOrg,
    endpoint: &str,
    path: &[&str],
    query: &Query,
    body: &Bytes,
) -> Option<Response> {
    let repo_key = path.get(4).copied().unwrap_or_default();
    let answer = match endpoint {
        "items" => {
            let branch = query
                .get("versionDescriptor.version")
                .or_else(|| query.get("version"))
                .map(String::as_str);
            match (tree(org, repo_key, branch), query.get("path")) {
                (Err(response), _) => *response,
                (Ok(tree), Some(wanted)) => one(&tree, wanted, query),
                (Ok(tree), None) => list(&tree, query),
            }
        }
        "itemsbatch" => batch(org, repo_key, body),
        _ => return None,
    };
    Some(answer)
}

/// One branch of one repository.
struct Tree<'a> {
    files: &'a HashMap<String, String>,
    repo: String,
    branch: String,
    commit: String,
    url: String,
}

impl Tree<'_> {
    /// Every item of the branch by path: files, and the folders their paths imply.
    fn items(&self) -> BTreeMap<String, bool> {
        let mut all: BTreeMap<String, bool> = BTreeMap::new();
        all.insert("/".to_owned(), true);
        for path in self.files.keys() {
            all.insert(path.clone(), false);
            let mut at = path.as_str();
            while let Some(cut) = at.rfind('/').filter(|c| *c > 0) {
                at = &at[..cut];
                all.insert(at.to_owned(), true);
            }
        }
        all
    }

    fn item(&self, path: &str, is_folder: bool, metadata: bool, content: bool) -> Value {
        let text = self.files.get(path);
        let mut item = json!({
            "objectId": sha(&format!("{path}\n{}", text.map_or("", String::as_str))),
            "gitObjectType": if is_folder { "tree" } else { "blob" },
            "commitId": self.commit,
            "path": path,
            "url": format!("{}/items?path={path}&versionType=Branch&version={}", self.url, self.branch),
        });
        if is_folder {
            item["isFolder"] = Value::Bool(true);
            return item;
        }
        if metadata {
            let name = path.rsplit('/').next().unwrap_or(path);
            let mut meta =
                json!({"encoding": 65001, "contentType": "text/plain", "fileName": name});
            if let Some((_, ext)) = name.rsplit_once('.') {
                meta["extension"] = Value::String(ext.to_owned());
            }
            item["contentMetadata"] = meta;
        }
        if content {
            item["content"] = Value::String(text.cloned().unwrap_or_default());
        }
        item
    }

    fn missing(&self, path: &str, status: StatusCode) -> Response {
        typed_error(
            status,
            "GitItemNotFoundException",
            &format!(
                "TF401174: The item '{path}' could not be found in the repository '{}' at the version specified by '<Branch: {}>'.",
                self.repo, self.branch
            ),
        )
    }
}

/// A 40-digit hex id derived from `text`.
fn sha(text: &str) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for byte in text.bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        b = (b ^ u64::from(byte))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(5);
    }
    format!("{a:016x}{b:016x}{:08x}", (a ^ b) >> 32)
}

/// The tree of `branch` (the default branch when `None`) of the repository `key` (id or name).
fn tree<'a>(
    org: &'a SyntheticOrg,
    key: &str,
    branch: Option<&str>,
) -> Result<Tree<'a>, Box<Response>> {
    static EMPTY: std::sync::LazyLock<HashMap<String, String>> =
        std::sync::LazyLock::new(HashMap::new);
    let Some(repo) = org
        .repos
        .iter()
        .find(|r| r["id"] == key || r["name"] == key)
    else {
        return Err(Box::new(typed_error(
            StatusCode::NOT_FOUND,
            "GitRepositoryNotFoundException",
            "TF401019: The Git repository with name or identifier does not exist or you do not have permissions for the operation you are attempting.",
        )));
    };
    let id = repo["id"].as_str().unwrap_or_default();
    let default = repo["defaultBranch"]
        .as_str()
        .map(|b| b.strip_prefix("refs/heads/").unwrap_or(b));
    let branch = branch
        .filter(|b| !b.is_empty())
        .map(|b| b.strip_prefix("refs/heads/").unwrap_or(b))
        .or(default)
        .unwrap_or("main");
    let own = org.branch_files.get(id).and_then(|b| b.get(branch));
    let files = match own {
        Some(files) => files,
        None if Some(branch) == default
            || org.refs.get(id).is_some_and(|refs| {
                refs.iter()
                    .any(|r| r["name"].as_str() == Some(&format!("refs/heads/{branch}")))
            }) =>
        {
            org.files.get(id).unwrap_or(&EMPTY)
        }
        None => {
            return Err(Box::new(typed_error(
                StatusCode::NOT_FOUND,
                "GitUnresolvableToCommitException",
                &format!(
                    "TF401175: The version descriptor <Branch: {branch}> could not be resolved to a version in the repository {}",
                    repo["name"].as_str().unwrap_or_default()
                ),
            )));
        }
    };
    Ok(Tree {
        files,
        repo: repo["name"].as_str().unwrap_or_default().to_owned(),
        branch: branch.to_owned(),
        commit: sha(&format!("{id}@{branch}")),
        url: repo["url"].as_str().unwrap_or_default().to_owned(),
    })
}

fn normalized(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    format!("/{trimmed}")
}

fn truthy(query: &Query, key: &str) -> bool {
    query
        .get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn one(tree: &Tree<'_>, wanted: &str, query: &Query) -> Response {
    let path = normalized(wanted);
    match tree.items().get(&path) {
        Some(is_folder) => json_response(
            StatusCode::OK,
            &tree.item(
                &path,
                *is_folder,
                truthy(query, "includeContentMetadata"),
                truthy(query, "includeContent"),
            ),
            &[],
        ),
        None => tree.missing(&path, StatusCode::NOT_FOUND),
    }
}

/// The items at and below `scope` to `depth` (`none`, `oneLevel`, `full`), scope first.
fn below(tree: &Tree<'_>, scope: &str, depth: &str, metadata: bool) -> Option<Vec<Value>> {
    let items = tree.items();
    let scope_is_folder = *items.get(scope)?;
    let prefix = if scope == "/" {
        "/".to_owned()
    } else {
        format!("{scope}/")
    };
    let mut out = vec![tree.item(scope, scope_is_folder, metadata, false)];
    for (path, is_folder) in &items {
        let Some(rest) = path.strip_prefix(&prefix).filter(|r| !r.is_empty()) else {
            continue;
        };
        let wanted = match depth {
            "full" => true,
            "onelevel" | "onelevelplusnestedemptyfolders" => !rest.contains('/'),
            _ => false,
        };
        if wanted {
            out.push(tree.item(path, *is_folder, metadata, false));
        }
    }
    Some(out)
}

fn depth_of(value: Option<&str>) -> Option<String> {
    let depth = value.unwrap_or("none").to_ascii_lowercase();
    matches!(
        depth.as_str(),
        "none" | "onelevel" | "onelevelplusnestedemptyfolders" | "full"
    )
    .then_some(depth)
}

fn list(tree: &Tree<'_>, query: &Query) -> Response {
    let scope = normalized(query.get("scopePath").map_or("/", String::as_str));
    let Some(depth) = depth_of(query.get("recursionLevel").map(String::as_str)) else {
        return typed_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentValueException",
            "the recursionLevel is not valid",
        );
    };
    match below(
        tree,
        &scope,
        &depth,
        truthy(query, "includeContentMetadata"),
    ) {
        Some(items) => continuation_page(
            &items,
            query,
            usize::MAX,
            usize::MAX,
            TokenIn::Header,
            "value",
        ),
        None => tree.missing(&scope, StatusCode::NOT_FOUND),
    }
}

fn batch(org: &SyntheticOrg, repo_key: &str, body: &Bytes) -> Response {
    let bad = |message: &str| {
        typed_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentValueException",
            message,
        )
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad("the request body is not JSON");
    };
    let Some(descriptors) = request.get("itemDescriptors").and_then(Value::as_array) else {
        return bad("itemDescriptors is required");
    };
    let metadata = request
        .get("includeContentMetadata")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut value = Vec::with_capacity(descriptors.len());
    for d in descriptors {
        let branch = d.get("version").and_then(Value::as_str);
        let tree = match tree(org, repo_key, branch) {
            Ok(tree) => tree,
            Err(response) => return *response,
        };
        let path = normalized(d.get("path").and_then(Value::as_str).unwrap_or("/"));
        let Some(depth) = depth_of(d.get("recursionLevel").and_then(Value::as_str)) else {
            return bad("the recursionLevel is not valid");
        };
        match below(&tree, &path, &depth, metadata) {
            Some(items) => value.push(Value::Array(items)),
            // ADO fails the whole batch when one path is missing.
            None => return tree.missing(&path, StatusCode::BAD_REQUEST),
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"count": value.len(), "value": value}),
        &[],
    )
}
