//! Reading a config repository's files at a git revision, straight from the object database.
//!
//! No work tree is needed or touched: the revision is resolved to a commit, the commit's
//! tree is walked for the same layout a folder has (`port-app-config.yaml` or
//! `mappings/*.yaml`, `adoport.yaml`, `blueprints/*.json`), and the blobs become
//! [`ConfigFiles`] named `REV:path` (git's own notation), so diagnostics point at the
//! revision they came from. Building the model is left to [`super::build_config`], exactly as
//! for a folder. Fetching from remotes lives in `crate::follow`.

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;

use super::load::{BLUEPRINTS_DIR, ConfigFiles, MAPPING_FILE, MAPPINGS_DIR};
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
pub fn read_files_in(repo: &gix::Repository, rev: &str, prefix: &str) -> Result<GitConfig> {
    let commit = commit_of(repo, rev)?;
    let commit_id = commit.id.to_string();
    let read_err = |path: &str| {
        let rev = rev.to_string();
        let path = path.to_string();
        move |e: gix::Error| Error::ReadFailed {
            rev,
            path,
            source: Box::new(e),
        }
    };
    let tree = commit.tree().map_err(read_err(""))?;
    let joined = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    };
    let display = |path: &str| format!("{rev}:{path}");
    let mut files = ConfigFiles::default();

    // The config folder itself (the root, or a subfolder, or a single file).
    let root = if prefix.is_empty() {
        tree
    } else {
        let entry = tree
            .lookup_entry_by_path(prefix)
            .map_err(read_err(prefix))?
            .ok_or_else(|| Error::PathNotInRevision {
                rev: rev.to_string(),
                path: prefix.to_string(),
            })?;
        let object = entry.object().map_err(read_err(prefix))?;
        if entry.mode().is_blob() {
            let name = display(prefix);
            if prefix.rsplit('/').next() == Some(SETTINGS_FILE) {
                files.settings = Some((name, object.detach().data));
            } else {
                files.mappings.push((name, object.detach().data));
            }
            return Ok(GitConfig {
                files,
                commit: commit_id,
            });
        }
        object.into_tree()
    };

    let blob = |name: &str| -> Result<Option<Vec<u8>>> {
        let Some(entry) = root
            .lookup_entry_by_path(name)
            .map_err(read_err(&joined(name)))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let object = entry.object().map_err(read_err(&joined(name)))?;
        Ok(Some(object.detach().data))
    };
    for single in [MAPPING_FILE, "port-app-config.yml"] {
        if let Some(bytes) = blob(single)? {
            files.mappings.push((display(&joined(single)), bytes));
        }
    }
    for name in blobs_in(&root, MAPPINGS_DIR, &["yaml", "yml"], rev, &joined)? {
        let path = format!("{MAPPINGS_DIR}/{name}");
        if let Some(bytes) = blob(&path)? {
            files.mappings.push((display(&joined(&path)), bytes));
        }
    }
    if files.mappings.is_empty() {
        return Err(Error::NoMapping {
            rev: rev.to_string(),
            path: if prefix.is_empty() { "." } else { prefix }.to_string(),
        });
    }
    if let Some(bytes) = blob(SETTINGS_FILE)? {
        files.settings = Some((display(&joined(SETTINGS_FILE)), bytes));
    }
    for name in blobs_in(&root, BLUEPRINTS_DIR, &["json"], rev, &joined)? {
        let path = format!("{BLUEPRINTS_DIR}/{name}");
        if let Some(bytes) = blob(&path)? {
            files.blueprints.push((display(&joined(&path)), bytes));
        }
    }
    Ok(GitConfig {
        files,
        commit: commit_id,
    })
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

/// The names of the blobs with one of `exts` directly in `dir` of `root`, sorted.
fn blobs_in(
    root: &gix::Tree<'_>,
    dir: &str,
    exts: &[&str],
    rev: &str,
    joined: &dyn Fn(&str) -> String,
) -> Result<Vec<String>> {
    let read_err = |e: gix::Error| Error::ReadFailed {
        rev: rev.to_string(),
        path: joined(dir),
        source: Box::new(e),
    };
    let Some(entry) = root.lookup_entry_by_path(dir).map_err(read_err)? else {
        return Ok(Vec::new());
    };
    if !entry.mode().is_tree() {
        return Ok(Vec::new());
    }
    let tree = entry.object().map_err(read_err)?.into_tree();
    let mut names = Vec::new();
    for entry in tree.iter() {
        let entry = entry.map_err(read_err)?;
        if !entry.mode().is_blob() {
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
