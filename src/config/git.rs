//! Reading a config repository's files at a git revision, straight from the object database.
//!
//! No work tree is needed or touched: the revision is resolved to a commit, the commit's
//! tree is walked for the same layout a folder has (`port-app-config.yaml` or
//! `mappings/*.yaml`, `adoport.yaml`, `blueprints/*.json`), and the blobs become
//! [`ConfigFiles`] named `REV:path` (git's own notation), so diagnostics point at the
//! revision they came from. Building the model is left to [`super::build_config`], exactly as
//! for a folder. Fetching from remotes lives in `crate::follow`.
//!
//! Files are refused by the same rules as in a folder (`super::files`): a symbolic link may
//! point anywhere inside the revision's tree, never out of it (an absolute target, or one
//! climbing above the root), and a blob larger than [`MAX_FILE_BYTES`] is not read. A refused
//! file stops the read with [`Error::Refused`], naming it; trees and submodules that happen
//! to have a config file's name are skipped, as folders are.

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;

use super::files::{
    BLUEPRINTS_DIR, ConfigFiles, MAPPING_FILE, MAPPINGS_DIR, MAX_FILE_BYTES, Refusal,
};
use super::settings::SETTINGS_FILE;

/// A boxed gix error: gix has one error type per call, and callers only need the chain.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Errors reading a config at a git revision.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No git repository at or above the path.
    #[error("no git repository at {path}")]
    OpenFailed {
        /// The path given.
        path: PathBuf,
        /// Why gix could not open it.
        #[source]
        source: Cause,
    },
    /// The revision does not name a commit in the repository.
    #[error("revision `{rev}` does not name a commit")]
    RevisionNotFound {
        /// The revision as given.
        rev: String,
        /// Why it could not be resolved.
        #[source]
        source: Cause,
    },
    /// An object of the commit's tree could not be read.
    #[error("could not read `{rev}:{path}`")]
    ReadFailed {
        /// The revision.
        rev: String,
        /// The path within the repository.
        path: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The path does not exist in the revision's tree.
    #[error("`{rev}` has no `{path}`")]
    PathNotInRevision {
        /// The revision.
        rev: String,
        /// The path within the repository.
        path: String,
    },
    /// A config file was refused before it was read (see the module docs).
    #[error("refusing to read `{rev}:{path}`: {reason}")]
    Refused {
        /// The revision.
        rev: String,
        /// The file, as found in the tree (not where a link leads).
        path: String,
        /// Which check it failed.
        reason: Refusal,
    },
    /// The revision's tree holds no mapping file where one is expected.
    #[error(
        "`{rev}` holds no mapping at `{path}`: expected `port-app-config.yaml` or `mappings/*.yaml`"
    )]
    NoMapping {
        /// The revision.
        rev: String,
        /// The config folder within the repository (`.` for the root).
        path: String,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config's files read at a revision, and the commit the revision resolved to.
#[derive(Clone, Debug)]
pub struct GitConfig {
    /// The files, named `REV:path`.
    pub files: ConfigFiles,
    /// The full commit id the revision resolved to (recorded with plans and runs).
    pub commit: String,
}

/// Reads the config at `rev` of the repository containing `path`.
///
/// `path` may be the repository itself or a folder inside its work tree: the config is
/// then read from that folder's place in the revision's tree (`git:examples/config@main`).
/// A path naming a single mapping file reads just that file.
pub fn read_files_at(path: &Path, rev: &str) -> Result<GitConfig> {
    let repo = gix::discover(path).map_err(|e| Error::OpenFailed {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    let prefix = prefix_in_repo(&repo, path);
    read_files_in(&repo, rev, &prefix)
}

/// Resolves `rev` in the repository containing `path` to a full commit id.
pub fn resolve(path: &Path, rev: &str) -> Result<String> {
    let repo = gix::discover(path).map_err(|e| Error::OpenFailed {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    Ok(commit_of(&repo, rev)?.id.to_string())
}

/// Reads the config under `prefix` (`""` for the root) at `rev` of an open repository.
///
/// Symbolic links inside the revision's tree are followed as a checkout would follow them
/// (a `blueprints` link to a shared folder reads that folder); a link leaving the
/// repository is refused.
pub fn read_files_in(repo: &gix::Repository, rev: &str, prefix: &str) -> Result<GitConfig> {
    let commit = commit_of(repo, rev)?;
    let commit_id = commit.id.to_string();
    let tree = commit.tree().map_err(|e| Error::ReadFailed {
        rev: rev.to_string(),
        path: String::new(),
        source: Box::new(e),
    })?;
    let reader = TreeReader { tree, rev };
    let joined = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    };
    let display = |path: &str| format!("{rev}:{path}");
    let mut files = ConfigFiles::default();

    // A prefix naming one file reads just that file.
    if !prefix.is_empty() {
        match reader.entry(prefix)? {
            None => {
                return Err(Error::PathNotInRevision {
                    rev: rev.to_string(),
                    path: prefix.to_string(),
                });
            }
            Some(Found::Refused(reason)) => return Err(reader.refused(prefix, reason)),
            Some(Found::Blob(bytes)) => {
                if prefix.rsplit('/').next() == Some(SETTINGS_FILE) {
                    files.settings = Some((display(prefix), bytes));
                } else {
                    files.mappings.push((display(prefix), bytes));
                }
                return Ok(GitConfig {
                    files,
                    commit: commit_id,
                });
            }
            Some(Found::Tree(_) | Found::Other) => {}
        }
    }

    for single in [MAPPING_FILE, "port-app-config.yml"] {
        if let Some(bytes) = reader.blob(&joined(single))? {
            files.mappings.push((display(&joined(single)), bytes));
        }
    }
    for name in reader.names_in(&joined(MAPPINGS_DIR), &["yaml", "yml"])? {
        let path = joined(&format!("{MAPPINGS_DIR}/{name}"));
        if let Some(bytes) = reader.blob(&path)? {
            files.mappings.push((display(&path), bytes));
        }
    }
    if files.mappings.is_empty() {
        return Err(Error::NoMapping {
            rev: rev.to_string(),
            path: if prefix.is_empty() { "." } else { prefix }.to_string(),
        });
    }
    if let Some(bytes) = reader.blob(&joined(SETTINGS_FILE))? {
        files.settings = Some((display(&joined(SETTINGS_FILE)), bytes));
    }
    for name in reader.names_in(&joined(BLUEPRINTS_DIR), &["json"])? {
        let path = joined(&format!("{BLUEPRINTS_DIR}/{name}"));
        if let Some(bytes) = reader.blob(&path)? {
            files.blueprints.push((display(&path), bytes));
        }
    }
    Ok(GitConfig {
        files,
        commit: commit_id,
    })
}

/// Where a config was read from in git: the repository (or a folder inside its work tree)
/// and the commit. What `--prune-blueprints` reads the history from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The repository, its git folder, or the config folder inside its work tree.
    pub path: PathBuf,
    /// The commit the config was read at.
    pub commit: String,
}

/// The most commits [`declared_blueprints`] reads; older ones are not looked at (fewer
/// blueprints count as once declared, so fewer may be pruned: the safe side).
pub const MAX_HISTORY_COMMITS: usize = 100_000;

/// The identifiers of every blueprint the config declared (`blueprints/*.json` in its folder)
/// at `origin`'s commit or any commit before it: which blueprints the config repository
/// "once declared", the only ones `--prune-blueprints` may delete.
///
/// A commit whose `blueprints/` folder is the same tree as one already read is skipped, so
/// the cost is one path lookup per commit plus each distinct folder once. Files that cannot
/// be read or parsed are skipped (the safe side, as above).
pub fn declared_blueprints(origin: &Origin) -> Result<std::collections::BTreeSet<String>> {
    let repo = gix::discover(&origin.path).map_err(|e| Error::OpenFailed {
        path: origin.path.clone(),
        source: Box::new(e),
    })?;
    let prefix = prefix_in_repo(&repo, &origin.path);
    let dir = if prefix.is_empty() {
        BLUEPRINTS_DIR.to_string()
    } else {
        format!("{prefix}/{BLUEPRINTS_DIR}")
    };
    let tip = commit_of(&repo, &origin.commit)?;
    let walk_failed = |e: Cause| Error::ReadFailed {
        rev: origin.commit.clone(),
        path: dir.clone(),
        source: e,
    };
    let walk = repo
        .rev_walk([tip.id])
        .all()
        .map_err(|e| walk_failed(Box::new(e)))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = std::collections::BTreeSet::new();
    for info in walk.take(MAX_HISTORY_COMMITS) {
        let info = info.map_err(|e| walk_failed(Box::new(e)))?;
        let commit = info.object().map_err(|e| walk_failed(Box::new(e)))?;
        let tree = commit.tree().map_err(|e| walk_failed(Box::new(e)))?;
        let rev = info.id.to_string();
        let reader = TreeReader { tree, rev: &rev };
        let Ok(Some(Found::Tree(folder))) = reader.entry(&dir) else {
            continue;
        };
        if !seen.insert(folder.id) {
            continue;
        }
        for name in reader.names_in(&dir, &["json"]).unwrap_or_default() {
            let Ok(Some(bytes)) = reader.blob(&format!("{dir}/{name}")) else {
                continue;
            };
            let docs = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(serde_json::Value::Array(docs)) => docs,
                Ok(doc) => vec![doc],
                Err(_) => continue,
            };
            out.extend(
                docs.iter()
                    .filter_map(|d| d.get("identifier")?.as_str().map(str::to_owned)),
            );
        }
    }
    Ok(out)
}

/// Resolves a revision to its commit (peeling tags).
fn commit_of<'r>(repo: &'r gix::Repository, rev: &str) -> Result<gix::Commit<'r>> {
    let not_found = |e: gix::Error| Error::RevisionNotFound {
        rev: rev.to_string(),
        source: Box::new(e),
    };
    let id = repo.rev_parse_single(rev).map_err(not_found)?;
    let object = id.object().map_err(not_found)?;
    object.peel_to_commit().map_err(not_found)
}

/// How many symbolic links one lookup follows before giving up (a loop, or a long chain).
const MAX_LINKS: usize = 8;

/// What a path names in the tree, links followed.
enum Found<'r> {
    /// A file's bytes.
    Blob(Vec<u8>),
    /// A folder.
    Tree(gix::Tree<'r>),
    /// A submodule: neither a file nor a folder of this repository.
    Other,
    /// Something that must not be read.
    Refused(Refusal),
}

/// Reads paths of one commit's tree, following symbolic links within it.
struct TreeReader<'r, 'a> {
    tree: gix::Tree<'r>,
    rev: &'a str,
}

impl<'r> TreeReader<'r, '_> {
    fn failed(&self, path: &str) -> impl Fn(gix::Error) -> Error {
        let rev = self.rev.to_string();
        let path = path.to_string();
        move |e| Error::ReadFailed {
            rev: rev.clone(),
            path: path.clone(),
            source: Box::new(e),
        }
    }

    fn refused(&self, path: &str, reason: Refusal) -> Error {
        Error::Refused {
            rev: self.rev.to_string(),
            path: path.to_string(),
            reason,
        }
    }

    /// What `path` names, or `None` when nothing is there.
    fn entry(&self, path: &str) -> Result<Option<Found<'r>>> {
        let mut path = path.to_string();
        'follow: for _ in 0..=MAX_LINKS {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            for i in 0..parts.len() {
                let sub = parts[..=i].join("/");
                let Some(entry) = self
                    .tree
                    .lookup_entry_by_path(&sub)
                    .map_err(self.failed(&sub))?
                else {
                    return Ok(None);
                };
                if entry.mode().is_link() {
                    let target = entry.object().map_err(self.failed(&sub))?.detach().data;
                    // An absolute target leaves the tree, whatever it names.
                    let Some(target) = String::from_utf8(target)
                        .ok()
                        .filter(|t| !t.starts_with('/'))
                    else {
                        return Ok(Some(Found::Refused(Refusal::OutsideRoot)));
                    };
                    let mut next: Vec<&str> = parts[..i].to_vec();
                    next.push(&target);
                    next.extend(&parts[i + 1..]);
                    match normalize(&next.join("/")) {
                        Some(p) => {
                            path = p;
                            continue 'follow;
                        }
                        None => return Ok(Some(Found::Refused(Refusal::OutsideRoot))),
                    }
                }
                if i + 1 == parts.len() {
                    if entry.mode().is_blob() {
                        let size = self
                            .tree
                            .repo
                            .find_header(entry.object_id())
                            .map_err(|e| Error::ReadFailed {
                                rev: self.rev.to_string(),
                                path: sub.clone(),
                                source: Box::new(e),
                            })?
                            .size();
                        if size > MAX_FILE_BYTES {
                            return Ok(Some(Found::Refused(Refusal::TooLarge)));
                        }
                    }
                    if !(entry.mode().is_blob() || entry.mode().is_tree()) {
                        return Ok(Some(Found::Other));
                    }
                    let object = entry.object().map_err(self.failed(&sub))?;
                    return Ok(Some(if entry.mode().is_blob() {
                        Found::Blob(object.detach().data)
                    } else {
                        Found::Tree(object.into_tree())
                    }));
                }
            }
            return Ok(Some(Found::Tree(self.tree.clone())));
        }
        Ok(Some(Found::Refused(Refusal::LinkLoop)))
    }

    /// The bytes of the file at `path`; `None` when nothing, a folder or a submodule is there.
    fn blob(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.entry(path)? {
            Some(Found::Blob(bytes)) => Ok(Some(bytes)),
            Some(Found::Refused(reason)) => Err(self.refused(path, reason)),
            _ => Ok(None),
        }
    }

    /// The names of the entries with one of `exts` directly in the folder `dir`, sorted
    /// (files and links; `blob` decides later whether each is a file).
    fn names_in(&self, dir: &str, exts: &[&str]) -> Result<Vec<String>> {
        let tree = match self.entry(dir)? {
            Some(Found::Tree(tree)) => tree,
            Some(Found::Refused(reason)) => return Err(self.refused(dir, reason)),
            _ => return Ok(Vec::new()),
        };
        let mut names = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(self.failed(dir))?;
            if !(entry.mode().is_blob() || entry.mode().is_link()) {
                continue;
            }
            let Ok(name) = entry.filename().to_str() else {
                continue;
            };
            let ext = Path::new(name).extension().and_then(|e| e.to_str());
            if ext.is_some_and(|e| exts.contains(&e)) {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// `a/b/../c` → `a/c`; `None` for an absolute path or one that leaves the root.
fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some(out.join("/"))
}

/// Where `path` sits inside the repository's work tree, as a `/`-separated tree path
/// (`""` for the root or a bare repository).
fn prefix_in_repo(repo: &gix::Repository, path: &Path) -> String {
    let (Some(workdir), Ok(path)) = (repo.workdir(), path.canonicalize()) else {
        return String::new();
    };
    let Ok(workdir) = workdir.canonicalize() else {
        return String::new();
    };
    match path.strip_prefix(&workdir) {
        Ok(rel) => rel
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn link_targets_are_normalised_and_may_not_leave_the_repository() {
        assert_eq!(
            normalize("a/b/../../mappings/x").as_deref(),
            Some("mappings/x")
        );
        assert_eq!(normalize("./a//b").as_deref(), Some("a/b"));
        assert_eq!(normalize("a/../../x"), None);
        assert_eq!(normalize("/etc/passwd"), None);
    }
}
