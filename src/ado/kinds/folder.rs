//! `folder`: folders of repositories matched by path patterns
//! (`folders: [{path, repos: [{name, branch}]}]`, `project_name`), each the ADO git item
//! `{objectId, gitObjectType: "tree", commitId, path, isFolder, url}` plus `__repository`,
//! `__branch` and `__pattern` as Port adds them, and `includedFiles`.
//!
//! Which patterns a repository gets is Port's rule: the patterns that name it in `repos`
//! (each with that entry's branch), else every pattern without `repos`. `project_name`
//! (a name or an id) keeps the repositories of that project only.
//!
//! Two of Port's defects are not copied. Port lists one level below a pattern's static
//! prefix whatever the pattern is, so `src/*/docs` (its own documented example) never
//! matches; here each prefix is listed as deep as its patterns need
//! (`GET …/items?scopePath&recursionLevel`, see `patterns`), once per repository and branch
//! however many patterns share it. Port also reports the mapping's `branch` as `__branch`
//! but lists the default branch; here the listing is of that branch. `*` stays within a
//! segment (Port's `fnmatch` plus its equal-depth check), `**` spans segments, and matching
//! is case-sensitive, as `fnmatch` is. A repository that is disabled, or has no branch and
//! none is named, is left out; a branch or prefix that is not there has no folders.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::git_item::{self, At};
use super::patterns::{self, Pattern};
use super::{
    Collected, KindDef, SyncCtx, each, field, included, opt_str, opt_strs, selector_schema,
};
use crate::ado::client::{Client, Scope};

pub(super) const KIND: KindDef = KindDef {
    name: "folder",
    schema: selector_schema!("folder"),
    options: &["project_name", "folders", "includedFiles"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

/// One entry of `folders`.
#[derive(Debug)]
struct Folders {
    /// `path` as written (it becomes `__pattern`).
    written: String,
    /// `path` after brace expansion.
    patterns: Vec<Pattern>,
    /// `repos`: names with their optional branch; empty for every repository.
    repos: Vec<(String, Option<String>)>,
}

fn read(selector: &Map<String, Value>) -> Result<Vec<Folders>, String> {
    let mut out = Vec::new();
    for entry in selector
        .get("folders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(written) = entry.get("path").and_then(Value::as_str) else {
            continue;
        };
        let patterns = patterns::compile(written, false)
            .map_err(|e| format!("folder path {}", super::chain(&e)))?;
        let repos = entry
            .get("repos")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let name = r.get("name").and_then(Value::as_str)?;
                let branch = r
                    .get("branch")
                    .and_then(Value::as_str)
                    .filter(|b| !b.is_empty())
                    .map(|b| b.strip_prefix("refs/heads/").unwrap_or(b).to_owned());
                Some((name.to_owned(), branch))
            })
            .collect();
        out.push(Folders {
            written: written.to_owned(),
            patterns,
            repos,
        });
    }
    Ok(out)
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let folders = match read(&selector) {
        Ok(folders) => Arc::new(folders),
        Err(reason) => {
            out.problem(reason);
            return out;
        }
    };
    let project = opt_str(&selector, "project_name").map(str::to_owned);
    let in_scope: Vec<Value> = repos
        .items
        .iter()
        .filter(|r| {
            project.as_deref().is_none_or(|p| {
                field(r, "/project/id") == p || field(r, "/project/name").eq_ignore_ascii_case(p)
            })
        })
        .filter(|r| !super::file::disabled(r))
        .cloned()
        .collect();
    let client = ctx.client.clone();
    let parts = each(in_scope, move |repo| {
        folders_of(client.clone(), repo, folders.clone())
    })
    .await;
    out.absorb(parts);
    let included = opt_strs(&selector, "includedFiles");
    let problems = included::attach(&ctx.client, "folder", &mut out.items, &included, false).await;
    out.problems.extend(problems);
    out
}

/// The folders of one repository: its patterns grouped by branch, each branch's prefixes
/// listed once, then each pattern's matches in path order.
async fn folders_of(client: Client, repo: Value, folders: Arc<Vec<Folders>>) -> Collected {
    let mut out = Collected::default();
    let name = field(&repo, "/name").to_owned();
    let mut assigned: Vec<(&Folders, Option<String>)> = Vec::new();
    for f in folders.iter() {
        for (repo_name, branch) in &f.repos {
            if *repo_name == name {
                assigned.push((f, branch.clone()));
            }
        }
    }
    if assigned.is_empty() {
        assigned = folders
            .iter()
            .filter(|f| f.repos.is_empty())
            .map(|f| (f, None))
            .collect();
    }
    let default = git_item::default_branch_name(&repo).map(str::to_owned);
    let mut branches: Vec<String> = Vec::new();
    for (_, branch) in &assigned {
        if let Some(b) = branch.clone().or_else(|| default.clone())
            && !branches.contains(&b)
        {
            branches.push(b);
        }
    }
    for branch in branches {
        let at = At::branch(&repo, &branch);
        let here: Vec<&Folders> = assigned
            .iter()
            .filter(|(_, b)| b.as_ref().or(default.as_ref()) == Some(&branch))
            .map(|(f, _)| *f)
            .collect();
        let trees = trees(&client, &at, &here, &name, &mut out).await;
        for f in here {
            let mut matched: Vec<&Value> = trees
                .iter()
                .filter(|t| f.patterns.iter().any(|p| p.matches(field(t, "/path"))))
                .collect();
            matched.sort_by(|a, b| field(a, "/path").cmp(field(b, "/path")));
            for tree in matched {
                let mut item = tree.clone();
                if let Value::Object(map) = &mut item {
                    map.insert("__repository".into(), repo.clone());
                    map.insert("__branch".into(), Value::String(branch.clone()));
                    map.insert("__pattern".into(), Value::String(f.written.clone()));
                }
                out.items.push(item);
            }
        }
    }
    out
}

/// Every folder under the prefixes `folders` need on one branch, each listed once.
async fn trees(
    client: &Client,
    at: &At,
    folders: &[&Folders],
    repo: &str,
    out: &mut Collected,
) -> Vec<Value> {
    let listings = patterns::listings(folders.iter().flat_map(|f| f.patterns.iter()));
    let client = client.clone();
    let at_all = at.clone();
    let listed = each(listings, move |(scope, depth)| {
        let client = client.clone();
        let at = at_all.clone();
        async move { git_item::list(&client, &at, &scope, depth).await }
    })
    .await;
    let mut trees: Vec<Value> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for result in listed {
        let items = match result {
            Ok(items) => items.unwrap_or_default(),
            Err(p) => out.take(
                &format!("folders of repository {repo} on {}", at.branch),
                Err(p),
            ),
        };
        for item in items.into_iter().filter(git_item::is_tree) {
            if seen.insert(field(&item, "/path").to_owned()) {
                trees.push(item);
            }
        }
    }
    trees
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folder_patterns_keep_their_written_path_and_repositories() {
        let selector = json!({"folders": [
            {"path": "measure/", "repos": [{"name": "a", "branch": "refs/heads/dev"}, {"name": "b"}]},
            {"path": "src/{x,y}/docs"},
        ]});
        let folders = read(selector.as_object().unwrap_or(&Map::new())).unwrap();
        assert_eq!(folders[0].written, "measure/");
        assert_eq!(
            folders[0].repos,
            [
                ("a".to_owned(), Some("dev".to_owned())),
                ("b".to_owned(), None)
            ]
        );
        assert_eq!(folders[1].patterns.len(), 2);
        assert!(folders[1].repos.is_empty());
        let bad = json!({"folders": [{"path": "[x"}]});
        assert!(read(bad.as_object().unwrap_or(&Map::new())).is_err());
    }
}
