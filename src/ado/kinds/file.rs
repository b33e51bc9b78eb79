//! `file`: files of repositories' default branches, by path or glob
//! (`files: {path, repos}`), one item per file as Port yields it:
//! `{file: {path, objectId, size, isFolder: false, commitId, <contentMetadata…>,
//! content: {raw, parsed}}, repo: <repository>}`, plus `includedFiles`.
//!
//! Per repository (all of them, or those named in `repos`; a disabled repository cannot be
//! read and an empty one has no branch, so both are left out):
//!
//! 1. One `POST …/itemsbatch` asks for every literal path (depth none) and every glob's
//!    static prefix, listed as deep as its pattern needs (see `patterns`); braces expand
//!    first. ADO fails the whole batch with a 400 when one path is missing, which in Port's
//!    integration loses every path of the repository. Here a 400 means "read path by path":
//!    each literal with its own `GET …/items` (a typed 404 is that file missing, nothing
//!    more) and each prefix with its own listing.
//! 2. Glob patterns match the listed files' repository-relative paths, ignoring case.
//! 3. Each file is read (`GET …/items?includeContent`, one request per file; a literal
//!    read path by path already has its content) and parsed as Port parses it (`content`).
//!
//! Files larger than 1 MiB are skipped as Port skips them, and binary files too (Port's
//! UTF-8 decode fails on them); unlike Port, each sync logs how many were skipped and which.
//! A file is listed once however many patterns match it. An empty file is an item (Port
//! drops it with the files it failed to read).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::git_item::{self, At, Batch};
use super::patterns::{self, Depth, Pattern};
use super::{
    Collected, KindDef, Problem, SyncCtx, each, field, included, opt_strs, selector_schema,
};
use crate::ado::client::{self, Client, Scope};

/// Files larger than this are skipped, as Port skips them.
pub(crate) const MAX_FILE_BYTES: usize = 1 << 20;

/// The largest answer read for one file: its JSON-escaped text can be up to six times the
/// file, so a file at the limit always fits, and a larger answer is a file over it.
const MAX_READ_BYTES: usize = 8 * MAX_FILE_BYTES;

pub(super) const KIND: KindDef = KindDef {
    name: "file",
    schema: selector_schema!("file"),
    options: &["files", "includedFiles"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

/// What the selector asks for.
#[derive(Debug)]
struct Spec {
    /// Literal paths (`/package.json`), in the order written.
    literals: Vec<String>,
    /// Glob patterns.
    globs: Vec<Pattern>,
    /// Repository names to look in; all when `None`.
    repos: Option<Vec<String>>,
}

impl Spec {
    fn read(selector: &Map<String, Value>) -> Result<Spec, String> {
        let files = selector.get("files").and_then(Value::as_object);
        let written = files.map(|f| opt_strs(f, "path")).unwrap_or_default();
        if written.is_empty() {
            return Err("the selector names no files (`files.path`)".to_owned());
        }
        let mut spec = Spec {
            literals: Vec::new(),
            globs: Vec::new(),
            repos: files
                .map(|f| opt_strs(f, "repos"))
                .filter(|names| !names.is_empty()),
        };
        for path in &written {
            let compiled = patterns::compile(path, true)
                .map_err(|e| format!("file path {}", super::chain(&e)))?;
            for pattern in compiled {
                if pattern.is_literal() {
                    if !spec.literals.contains(&pattern.base) {
                        spec.literals.push(pattern.base);
                    }
                } else {
                    spec.globs.push(pattern);
                }
            }
        }
        Ok(spec)
    }

    fn wants(&self, repo: &Value) -> bool {
        let name = field(repo, "/name");
        self.repos
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

/// A file not turned into an item, and why.
#[derive(Debug)]
struct Skipped {
    repo: String,
    path: String,
    why: &'static str,
}

/// One repository's files and what was skipped.
#[derive(Debug, Default)]
struct Part {
    out: Collected,
    skipped: Vec<Skipped>,
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let spec = match Spec::read(&selector) {
        Ok(spec) => Arc::new(spec),
        Err(reason) => {
            out.problem(reason);
            return out;
        }
    };
    let readable: Vec<Value> = repos
        .items
        .iter()
        .filter(|r| spec.wants(r) && !disabled(r))
        .cloned()
        .collect();
    let client = ctx.client.clone();
    let parts = each(readable, move |repo| {
        files_of(client.clone(), repo, spec.clone())
    })
    .await;
    let mut skipped = Vec::new();
    for part in parts {
        out.extend(part.out);
        skipped.extend(part.skipped);
    }
    report(&skipped);
    let included = opt_strs(&selector, "includedFiles");
    let problems = included::attach(&ctx.client, "file", &mut out.items, &included, false).await;
    out.problems.extend(problems);
    out
}

/// A disabled repository cannot be read (ADO refuses its items).
pub(super) fn disabled(repo: &Value) -> bool {
    repo.get("isDisabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Says how many files were skipped, and which (the first few).
fn report(skipped: &[Skipped]) {
    if skipped.is_empty() {
        return;
    }
    let first: Vec<String> = skipped
        .iter()
        .take(5)
        .map(|s| format!("{}:{} ({})", s.repo, s.path, s.why))
        .collect();
    tracing::warn!(
        kind = "file",
        skipped = skipped.len(),
        first = %first.join(", "),
        "files skipped: over 1 MiB or not text, as Port skips them"
    );
}

/// A file to read, or already read.
enum Candidate {
    /// Listed: its path, still to be read.
    Listed(String),
    /// Read path by path: the item with its content.
    Read(Value),
}

impl Candidate {
    fn path(&self) -> String {
        match self {
            Candidate::Listed(path) => path.clone(),
            Candidate::Read(item) => field(item, "/path").to_owned(),
        }
    }
}

async fn files_of(client: Client, repo: Value, spec: Arc<Spec>) -> Part {
    let mut part = Part::default();
    let Some(at) = At::default_branch(&repo) else {
        return part;
    };
    let name = field(&repo, "/name").to_owned();
    let candidates = discover(&client, &at, &spec, &name, &mut part).await;
    let to_read: Vec<String> = candidates
        .iter()
        .filter_map(|c| match c {
            Candidate::Listed(path) => Some(path.clone()),
            Candidate::Read(_) => None,
        })
        .collect();
    let mut reads = read_each(&client, &at, to_read).await.into_iter();
    for candidate in candidates {
        let (path, item) = match candidate {
            Candidate::Read(item) => (field(&item, "/path").to_owned(), item),
            Candidate::Listed(path) => match reads.next() {
                Some(Ok(Some(item))) => (path, item),
                // Gone since it was listed.
                Some(Ok(None)) | None => continue,
                Some(Err(e)) => {
                    skip_or_fail(&mut part, &name, &path, &e);
                    continue;
                }
            },
        };
        match file_item(&item, &repo) {
            Ok(value) => part.out.items.push(value),
            Err(why) => part.skipped.push(Skipped {
                repo: name.clone(),
                path,
                why,
            }),
        }
    }
    part
}

/// The files of one repository branch the selector names, each once: literal paths in the
/// order written, then glob matches in path order. One batch, or path by path after a 400.
async fn discover(
    client: &Client,
    at: &At,
    spec: &Spec,
    name: &str,
    part: &mut Part,
) -> Vec<Candidate> {
    let listings = patterns::listings(&spec.globs);
    let mut descriptors: Vec<(String, Depth)> = spec
        .literals
        .iter()
        .map(|path| (path.clone(), Depth::None))
        .collect();
    descriptors.extend(listings.iter().cloned());

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut listed: Vec<Value> = Vec::new();
    match git_item::batch(client, at, &descriptors).await {
        Ok(Batch::Items(lists)) => {
            for (i, list) in lists.into_iter().enumerate() {
                if i < spec.literals.len() {
                    let item = list.into_iter().next();
                    if let Some(item) = item.filter(git_item::is_blob) {
                        candidates.push(Candidate::Listed(field(&item, "/path").to_owned()));
                    }
                } else {
                    listed.extend(list);
                }
            }
        }
        Ok(Batch::Absent) => return candidates,
        Ok(Batch::SomeMissing) => {
            let reads = read_each(client, at, spec.literals.clone()).await;
            for (path, result) in spec.literals.iter().zip(reads) {
                match result {
                    Ok(Some(item)) if git_item::is_blob(&item) => {
                        candidates.push(Candidate::Read(item));
                    }
                    Ok(_) => {}
                    Err(e) => skip_or_fail(part, name, path, &e),
                }
            }
            for (scope, depth) in &listings {
                match git_item::list(client, at, scope, *depth).await {
                    Ok(items) => listed.extend(items.unwrap_or_default()),
                    Err(p) => {
                        let what = format!("files under {scope} of repository {name}");
                        listed.extend(part.out.take(&what, Err(p)));
                    }
                }
            }
        }
        Err(e) => {
            part.out.failed(&format!("files of repository {name}"), &e);
            return candidates;
        }
    }
    let mut matched: Vec<String> = listed
        .iter()
        .filter(|item| git_item::is_blob(item))
        .map(|item| field(item, "/path").to_owned())
        .filter(|path| spec.globs.iter().any(|g| g.matches(path)))
        .collect();
    matched.sort();
    candidates.extend(matched.into_iter().map(Candidate::Listed));
    let mut seen: HashSet<String> = HashSet::new();
    candidates.retain(|c| seen.insert(c.path()));
    candidates
}

/// Reads each path with its content, concurrently, in order.
async fn read_each(
    client: &Client,
    at: &At,
    paths: Vec<String>,
) -> Vec<client::Result<Option<Value>>> {
    let client = client.clone();
    let at = at.clone();
    each(paths, move |path| {
        let client = client.clone();
        let at = at.clone();
        async move { git_item::read(&client, &at, &path, Some(MAX_READ_BYTES)).await }
    })
    .await
}

/// A failed read: a file too large to read is skipped; anything else is a problem.
fn skip_or_fail(part: &mut Part, repo: &str, path: &str, e: &client::Error) {
    if matches!(e.root(), client::Error::BodyTooLarge { .. }) {
        part.skipped.push(Skipped {
            repo: repo.to_owned(),
            path: path.to_owned(),
            why: "over 1 MiB",
        });
    } else {
        part.out.problems.push(Problem::call(
            &format!("file {path} of repository {repo}"),
            e,
        ));
    }
}

/// The item Port makes of a read file, or why it skips it.
fn file_item(read: &Value, repo: &Value) -> Result<Value, &'static str> {
    let metadata = read.get("contentMetadata").and_then(Value::as_object);
    if metadata
        .and_then(|m| m.get("isBinary"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Err("binary");
    }
    let text = included::text_of(read);
    if text.len() > MAX_FILE_BYTES {
        return Err("over 1 MiB");
    }
    let mut file = Map::new();
    file.insert(
        "path".into(),
        Value::String(field(read, "/path").trim_start_matches('/').to_owned()),
    );
    file.insert(
        "objectId".into(),
        read.get("objectId").cloned().unwrap_or(Value::Null),
    );
    file.insert("size".into(), Value::from(text.len()));
    file.insert("isFolder".into(), Value::Bool(false));
    file.insert(
        "commitId".into(),
        read.get("commitId").cloned().unwrap_or(Value::Null),
    );
    for (key, value) in metadata.into_iter().flatten() {
        file.insert(key.clone(), value.clone());
    }
    let parsed = super::content::parse(&text);
    file.insert("content".into(), json!({"raw": text, "parsed": parsed}));
    Ok(json!({"file": file, "repo": repo}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: Value) -> Result<Spec, String> {
        Spec::read(value.as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn paths_split_into_literals_and_globs_after_brace_expansion() {
        let s =
            spec(json!({"files": {"path": ["/package.json", "{a,b}.json", "**/*.yaml"]}})).unwrap();
        assert_eq!(s.literals, ["/package.json", "/a.json", "/b.json"]);
        assert_eq!(s.globs.len(), 1);
        assert!(s.repos.is_none());
        assert!(spec(json!({"files": {"repos": ["x"]}})).is_err());
        assert!(spec(json!({"files": {"path": "[x"}})).is_err());
    }

    #[test]
    fn a_file_item_has_ports_shape_and_parsed_content() {
        let read = json!({"objectId": "o1", "gitObjectType": "blob", "commitId": "c1",
                          "path": "/a/b.yaml", "content": "x: 1\n",
                          "contentMetadata": {"fileName": "b.yaml", "extension": "yaml"}});
        let item = file_item(&read, &json!({"id": "r"})).unwrap();
        assert_eq!(
            item,
            json!({"file": {"path": "a/b.yaml", "objectId": "o1", "size": 5, "isFolder": false,
                            "commitId": "c1", "fileName": "b.yaml", "extension": "yaml",
                            "content": {"raw": "x: 1\n", "parsed": {"x": 1}}},
                   "repo": {"id": "r"}})
        );
        let big = json!({"path": "/big", "content": "x".repeat(MAX_FILE_BYTES + 1)});
        assert_eq!(file_item(&big, &json!({})), Err("over 1 MiB"));
        let binary = json!({"path": "/b", "content": "", "contentMetadata": {"isBinary": true}});
        assert_eq!(file_item(&binary, &json!({})), Err("binary"));
    }
}
