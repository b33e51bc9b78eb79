//! Reading git items over ADO's `items` endpoints, for `file`, `folder` and included files:
//! one item with its content, the items under a scope path to a depth, and the batch read
//! of several paths at once (`itemsbatch`).
//!
//! Everything is read on a branch (`versionDescriptor`). A 404 whose typed key says the
//! path, the branch or the repository is not there (`absent::FILE_ABSENT`) is "not there";
//! any other failure is the caller's to report. `itemsbatch` answers 400 for the whole batch
//! when any one path is missing, so its callers fall back to reading each path.

use serde_json::{Value, json};

use super::absent;
use super::patterns::Depth;
use crate::ado::client::{self, Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging::{self, Partial};

/// A repository's branch: where items are read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct At {
    /// The project id (the items endpoints sit under it).
    pub(crate) project: String,
    /// The repository id.
    pub(crate) repo: String,
    /// The branch name, without `refs/heads/`.
    pub(crate) branch: String,
}

impl At {
    /// A repository item's default branch; `None` for a repository with none (empty).
    pub(crate) fn default_branch(repo: &Value) -> Option<At> {
        let branch = default_branch_name(repo)?;
        Some(At::branch(repo, branch))
    }

    /// `branch` of a repository item.
    pub(crate) fn branch(repo: &Value, branch: &str) -> At {
        At {
            project: super::field(repo, "/project/id").to_owned(),
            repo: super::field(repo, "/id").to_owned(),
            branch: branch.to_owned(),
        }
    }

    fn call(&self, endpoint: &str) -> Call {
        Call::get(
            Service::Core,
            format!(
                "/{}/_apis/git/repositories/{}/{endpoint}",
                self.project, self.repo
            ),
            Scope::Code,
        )
        .param("versionDescriptor.versionType", "branch")
        .param("versionDescriptor.version", self.branch.clone())
    }
}

/// A repository item's default branch name without `refs/heads/`, if it has one.
pub(crate) fn default_branch_name(repo: &Value) -> Option<&str> {
    let full = repo.get("defaultBranch").and_then(Value::as_str)?;
    let name = full.strip_prefix("refs/heads/").unwrap_or(full);
    (!name.is_empty()).then_some(name)
}

/// `path` as ADO names items: one leading `/`.
pub(crate) fn item_path(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// One item with its content and content metadata (`content` is the text of a blob);
/// `Ok(None)` when the path, branch or repository is not there. `max_body` caps the answer.
pub(crate) async fn read(
    client: &Client,
    at: &At,
    path: &str,
    max_body: Option<usize>,
) -> client::Result<Option<Value>> {
    let mut call = at
        .call("items")
        .param("path", item_path(path))
        .param("includeContent", "true")
        .param("includeContentMetadata", "true")
        .param("$format", "json")
        .param("api-version", "7.1");
    if let Some(bytes) = max_body {
        call = call.max_body(bytes);
    }
    match client.send(&call).await {
        // An answer that is not an item must not read as "not a file": the file would be
        // dropped from the listing, and its entity deleted.
        Ok(page) if !is_item(&page.body) => Err(client::Error::BadBody {
            url: client.url(&call),
            source: crate::http::BadJson::new("the answer is not a git item (no path and type)"),
        }),
        Ok(page) => Ok(Some(page.body)),
        Err(e) if e.is_not_found_as(absent::FILE_ABSENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `value` has the shape of a git item: a path and an object type.
fn is_item(value: &Value) -> bool {
    value.get("path").is_some_and(Value::is_string)
        && value.get("gitObjectType").is_some_and(Value::is_string)
}

/// The items at and under `scope` to `depth` (the scope item first, as ADO lists them),
/// without content metadata (each file's read brings it); `Ok(None)` when the scope path,
/// branch or repository is not there. ADO sends every item in one answer (no `$top` is
/// asked); a continuation token, if one comes, is followed.
pub(crate) async fn list(
    client: &Client,
    at: &At,
    scope: &str,
    depth: Depth,
) -> Result<Option<Vec<Value>>, Partial> {
    let call = at
        .call("items")
        .param("scopePath", item_path(scope))
        .param("recursionLevel", depth.param())
        .param("api-version", "7.1");
    match paging::by_continuation(client, call, "value", None).await {
        Ok(items) => Ok(Some(items)),
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::FILE_ABSENT) => Ok(None),
        Err(p) => Err(p),
    }
}

/// What one `itemsbatch` gave.
#[derive(Debug)]
pub(crate) enum Batch {
    /// The items of each descriptor, in the order asked.
    Items(Vec<Vec<Value>>),
    /// ADO answered 400: some path is not there (ADO does not say which).
    SomeMissing,
    /// The branch or repository is not there.
    Absent,
}

/// Reads several `(path, depth)` descriptors in one `POST …/itemsbatch`.
pub(crate) async fn batch(
    client: &Client,
    at: &At,
    descriptors: &[(String, Depth)],
) -> client::Result<Batch> {
    let body = json!({
        "itemDescriptors": descriptors.iter().map(|(path, depth)| json!({
            "path": item_path(path),
            "recursionLevel": depth.param(),
            "version": at.branch,
            "versionType": "branch",
        })).collect::<Vec<_>>(),
    });
    let call = Call::post(
        Service::Core,
        format!(
            "/{}/_apis/git/repositories/{}/itemsbatch",
            at.project, at.repo
        ),
        Scope::Code,
        body,
    )
    .param("api-version", "7.1");
    match client.send(&call).await {
        Ok(page) => {
            let lists = page
                .body
                .get("value")
                .and_then(Value::as_array)
                .map(|lists| {
                    lists
                        .iter()
                        .map(|l| l.as_array().cloned().unwrap_or_default())
                        .collect::<Vec<_>>()
                });
            match lists {
                Some(lists) if lists.len() == descriptors.len() => Ok(Batch::Items(lists)),
                // An answer that does not line up with the question: read path by path.
                _ => Ok(Batch::SomeMissing),
            }
        }
        Err(e) if is_bad_request(&e) => Ok(Batch::SomeMissing),
        Err(e) if e.is_not_found_as(absent::FILE_ABSENT) => Ok(Batch::Absent),
        Err(e) => Err(e),
    }
}

fn is_bad_request(e: &client::Error) -> bool {
    matches!(e.root(), client::Error::Status { status: 400, .. })
}

/// Whether an item is a file (`blob`), as opposed to a folder or a submodule.
pub(crate) fn is_blob(item: &Value) -> bool {
    item.get("gitObjectType").and_then(Value::as_str) == Some("blob")
}

/// Whether an item is a folder (`tree`).
pub(crate) fn is_tree(item: &Value) -> bool {
    item.get("gitObjectType").and_then(Value::as_str) == Some("tree")
}
