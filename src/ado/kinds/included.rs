//! File texts attached to items: the `includedFiles` selector option of the `repository`,
//! `file` and `folder` kinds, and the deprecated `file://PATH` mapping value of any kind.
//!
//! Each requested path is read from the item's repository, relative to its root (a leading
//! `/` is ignored, as in Port), on the item's branch: a repository item's default branch, a
//! file item's repository's default branch, a folder item's `__branch`. The text goes to
//! `item.__includedFiles[<path as requested>]`: `""` when the file is not there (as Port
//! gives), `null` when reading it failed, which also makes the listing incomplete (Port
//! logs and goes on). Each distinct (repository, branch, path) is read once per listing.
//!
//! `file://PATH` values reach the source as paths under [`FILE_PATHS_OPTION`] in the
//! resource's selector (the config puts them there), so the mapping stays pure: the leaf
//! reads `.__includedFiles["PATH"]`, and the snapshot records the texts with the items.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::git_item::{self, At};
use super::{Problem, each};
use crate::ado::client::Client;

/// The selector key under which a resource's `file://` paths reach the source (no kind's
/// schema accepts a key starting with `__`, so it cannot clash with a written option).
pub const FILE_PATHS_OPTION: &str = "__filePaths";

/// Where an item's files are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A repository's branch.
    At(At),
    /// A repository with no branch yet (empty): every file reads as `""`.
    Empty,
    /// The item belongs to no repository: nothing is attached.
    Nowhere,
}

/// Where `item` of `kind` reads its files: a repository item its default branch; an item
/// with `__repository` its `__branch` or else that repository's default branch; a file item
/// (`repo`) its repository's default branch.
pub(crate) fn place(kind: &str, item: &Value) -> Place {
    if kind == "repository" {
        return default_branch_of(item);
    }
    if let Some(repo) = item.get("__repository").filter(|r| r.is_object()) {
        let branch = item
            .get("__branch")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty());
        return match branch {
            Some(branch) => Place::At(At::branch(repo, branch)),
            None => default_branch_of(repo),
        };
    }
    match item.get("repo").filter(|r| r.is_object()) {
        Some(repo) if item.get("file").is_some() => default_branch_of(repo),
        _ => Place::Nowhere,
    }
}

fn default_branch_of(repo: &Value) -> Place {
    match At::default_branch(repo) {
        Some(at) => Place::At(at),
        None => Place::Empty,
    }
}

/// Removes the `file://` paths from a selector, for the source to read after the fetch.
pub(crate) fn take_file_paths(selector: &mut Map<String, Value>) -> Vec<String> {
    let paths = super::opt_strs(selector, FILE_PATHS_OPTION)
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    selector.remove(FILE_PATHS_OPTION);
    paths
}

/// Attaches the text of each of `paths` to each item of `kind` as `__includedFiles[path]`,
/// reading each distinct file once; with `keep_existing`, a key an item already has stays.
/// Returns the failed reads as problems (their values are `null`).
pub(crate) async fn attach(
    client: &Client,
    kind: &str,
    items: &mut [Value],
    paths: &[String],
    keep_existing: bool,
) -> Vec<Problem> {
    if paths.is_empty() {
        return Vec::new();
    }
    let places: Vec<Place> = items.iter().map(|item| place(kind, item)).collect();
    let mut wanted: Vec<(At, String)> = Vec::new();
    let mut seen: HashSet<(At, String)> = HashSet::new();
    for place in &places {
        if let Place::At(at) = place {
            for path in paths {
                let key = (at.clone(), resolved(path));
                if seen.insert(key.clone()) {
                    wanted.push(key);
                }
            }
        }
    }
    let client = client.clone();
    let read = each(wanted.clone(), move |(at, path)| {
        let client = client.clone();
        async move {
            match git_item::read(&client, &at, &path, None).await {
                Ok(Some(item)) => Ok(text_of(&item)),
                Ok(None) => Ok(String::new()),
                Err(e) => Err(Problem::call(
                    &format!("included file {path} of repository {}", at.repo),
                    &e,
                )),
            }
        }
    })
    .await;
    let mut problems = Vec::new();
    let mut texts: HashMap<(At, String), Value> = HashMap::with_capacity(wanted.len());
    for (key, result) in wanted.into_iter().zip(read) {
        let value = match result {
            Ok(text) => Value::String(text),
            Err(problem) => {
                problems.push(problem);
                Value::Null
            }
        };
        texts.insert(key, value);
    }
    for (item, place) in items.iter_mut().zip(places) {
        let at = match place {
            Place::At(at) => Some(at),
            Place::Empty => None,
            Place::Nowhere => continue,
        };
        let Value::Object(map) = item else { continue };
        let files = map
            .entry("__includedFiles")
            .or_insert_with(|| Value::Object(Map::new()));
        if !files.is_object() {
            *files = Value::Object(Map::new());
        }
        let Value::Object(files) = files else {
            continue;
        };
        for path in paths {
            if keep_existing && files.contains_key(path) {
                continue;
            }
            let value = match &at {
                Some(at) => texts
                    .get(&(at.clone(), resolved(path)))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => Value::String(String::new()),
            };
            files.insert(path.clone(), value);
        }
    }
    problems
}

/// A requested path as read: relative to the repository root (`/README.md` is `README.md`).
fn resolved(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

/// A read item's text (`content`; `""` for a folder or an item without content).
pub(crate) fn text_of(item: &Value) -> String {
    item.get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repo(branch: Option<&str>) -> Value {
        let mut repo = json!({"id": "r1", "project": {"id": "p1"}});
        if let Some(b) = branch {
            repo["defaultBranch"] = json!(b);
        }
        repo
    }

    #[test]
    fn each_kind_reads_from_its_repository_and_branch() {
        let at = |branch: &str| Place::At(At::branch(&repo(None), branch));
        assert_eq!(
            place("repository", &repo(Some("refs/heads/main"))),
            at("main")
        );
        assert_eq!(place("repository", &repo(None)), Place::Empty);
        let folder = json!({"path": "/src", "__repository": repo(Some("refs/heads/main")), "__branch": "dev"});
        assert_eq!(place("folder", &folder), at("dev"));
        let branch = json!({"name": "x", "__repository": repo(Some("refs/heads/trunk"))});
        assert_eq!(place("branch", &branch), at("trunk"));
        let file = json!({"file": {"path": "a"}, "repo": repo(Some("refs/heads/main"))});
        assert_eq!(place("file", &file), at("main"));
        assert_eq!(place("project", &json!({"id": "p1"})), Place::Nowhere);
    }

    #[test]
    fn file_paths_leave_the_selector_before_the_kind_sees_it() {
        let mut selector = json!({"query": "true", FILE_PATHS_OPTION: ["README.md", ""]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(take_file_paths(&mut selector), ["README.md"]);
        assert!(!selector.contains_key(FILE_PATHS_OPTION));
    }
}
