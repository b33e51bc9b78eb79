//! Finding and reading a config folder's files on disk, refusing the ones that are unsafe
//! to read.
//!
//! A config repo holds either one `port-app-config.yaml` or several `mappings/*.yaml`, an
//! optional `adoport.yaml`, and optional Port blueprint JSON files in `blueprints/`; a
//! single mapping file may also be named directly. The files are collected into
//! [`ConfigFiles`] without being interpreted (`load::build_config` does that, whether they
//! came from here or from a git revision).
//!
//! Config files arrive in pull requests, and what `lint` and `plan` print may be posted as a
//! PR comment, so before a file is read it must pass three checks, or the read stops with
//! [`Error::Refused`], which names the file and never quotes it:
//!
//! 1. Its real path, symbolic links followed, stays inside the **config root**: the git work
//!    tree that holds the config folder, or the folder itself when it is not in one. This is
//!    the rule `git` applies to links inside a revision, whose tree is the repository: a link
//!    may point anywhere inside the repository (a shared `blueprints` folder), never out of
//!    it (`/proc/self/environ`, `~/.netrc`), nor into the work tree's `.git` folder, where a
//!    CI checkout keeps its credentials and which a revision's tree never holds.
//! 2. It is a regular file: reading a FIFO would wait for ever and a device never ends.
//!    Folders with a config file's name are not files, and are skipped as git skips trees.
//! 3. It holds at most [`MAX_FILE_BYTES`], checked while reading too (files in `/proc`
//!    claim a size of zero).
//!
//! A file named directly on the command line is trusted as to where it is; the other two
//! checks still apply.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::settings::SETTINGS_FILE;

/// The single-file mapping's name in a config repo (Port's own name for it).
pub const MAPPING_FILE: &str = "port-app-config.yaml";
/// The folder of split mapping files.
pub const MAPPINGS_DIR: &str = "mappings";
/// The folder of Port blueprint JSON files.
pub const BLUEPRINTS_DIR: &str = "blueprints";

/// The largest config file read: 16 MiB. A hand-written mapping is a few kilobytes and a
/// generated one a few megabytes; the limit keeps a hostile or mistaken file (a log, a
/// device) from exhausting memory, in folders and git revisions alike.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Errors that stop a config from being read at all (lint exits 2 on these).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path does not exist.
    #[error("no config at {0}")]
    NotFound(PathBuf),
    /// A folder holds no mapping file.
    #[error("{0} holds no mapping: expected `port-app-config.yaml` or `mappings/*.yaml`")]
    NoMapping(PathBuf),
    /// A file or folder could not be read.
    #[error("could not read {path}")]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A config file was refused before it was read (see the module docs).
    #[error("refusing to read {path}: {reason}")]
    Refused {
        /// The file, as found in the config folder (not where a link leads).
        path: PathBuf,
        /// Which check it failed.
        reason: Refusal,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a config file is refused before it is read; shared by folders and git revisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A symbolic link leads outside the repository that holds the config.
    #[error("it is a link that leads outside the repository holding the config")]
    OutsideRoot,
    /// A symbolic link leads into the work tree's `.git` folder.
    #[error("it is a link into the repository's `.git` folder")]
    IntoGitDir,
    /// Symbolic links loop, or chain too long to follow.
    #[error("its symbolic links loop or chain too long to follow")]
    LinkLoop,
    /// A FIFO, socket or device: reading it could block or never end.
    #[error("it is not a regular file (a FIFO, socket or device)")]
    NotAFile,
    /// Over [`MAX_FILE_BYTES`].
    #[error("it is larger than {} MiB", MAX_FILE_BYTES >> 20)]
    TooLarge,
}

/// The raw files of a config repo, however they were found (folder or git revision).
#[derive(Clone, Debug, Default)]
pub struct ConfigFiles {
    /// Mapping files, in merge order: (display name, bytes).
    pub mappings: Vec<(String, Vec<u8>)>,
    /// The settings file, if any.
    pub settings: Option<(String, Vec<u8>)>,
    /// Blueprint JSON files: (display name, bytes).
    pub blueprints: Vec<(String, Vec<u8>)>,
}

/// Collects a folder's (or a single file's) config files without interpreting them.
pub fn read_files(path: &Path) -> Result<ConfigFiles> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => read_error(path)(e),
    })?;
    let mut files = ConfigFiles::default();
    if !meta.is_dir() {
        let name = path.display().to_string();
        let bytes = read_named(path)?;
        if path.file_name().is_some_and(|n| n == SETTINGS_FILE) {
            files.settings = Some((name, bytes));
        } else {
            files.mappings.push((name, bytes));
        }
        return Ok(files);
    }
    let real = std::fs::canonicalize(path).map_err(read_error(path))?;
    let root = Root::around(&real);
    for single in [MAPPING_FILE, "port-app-config.yml"] {
        let p = path.join(single);
        if let Some(bytes) = root.read(&p)? {
            files.mappings.push((p.display().to_string(), bytes));
        }
    }
    for p in root.list(&path.join(MAPPINGS_DIR), &["yaml", "yml"])? {
        if let Some(bytes) = root.read(&p)? {
            files.mappings.push((p.display().to_string(), bytes));
        }
    }
    if files.mappings.is_empty() {
        return Err(Error::NoMapping(path.to_path_buf()));
    }
    let settings = path.join(SETTINGS_FILE);
    if let Some(bytes) = root.read(&settings)? {
        files.settings = Some((settings.display().to_string(), bytes));
    }
    for p in root.list(&path.join(BLUEPRINTS_DIR), &["json"])? {
        if let Some(bytes) = root.read(&p)? {
            files.blueprints.push((p.display().to_string(), bytes));
        }
    }
    Ok(files)
}

fn read_error(path: &Path) -> impl Fn(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Read {
        path: path.clone(),
        source,
    }
}

/// The config root (see the module docs), as a real path.
struct Root(PathBuf);

impl Root {
    /// The git work tree around the real folder `dir`, else `dir` itself.
    fn around(dir: &Path) -> Root {
        let top = dir
            .ancestors()
            .find(|a| std::fs::symlink_metadata(a.join(".git")).is_ok())
            .unwrap_or(dir);
        Root(top.to_path_buf())
    }

    /// Where `path` really is, once it has passed the root checks.
    fn resolve(&self, path: &Path) -> Result<PathBuf> {
        let refused = |reason| Error::Refused {
            path: path.to_path_buf(),
            reason,
        };
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) => {
                // A dangling link is judged by where it points, so the answer does not tell
                // whether something exists outside the root.
                if let Some(target) = link_target(path)
                    && !target.starts_with(&self.0)
                {
                    return Err(refused(Refusal::OutsideRoot));
                }
                return Err(read_error(path)(e));
            }
        };
        let inside = real
            .strip_prefix(&self.0)
            .map_err(|_| refused(Refusal::OutsideRoot))?;
        if inside
            .components()
            .any(|c| c == Component::Normal(".git".as_ref()))
        {
            return Err(refused(Refusal::IntoGitDir));
        }
        Ok(real)
    }

    /// The bytes of the config file at `path`; `None` when nothing, or a folder, is there.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        if std::fs::symlink_metadata(path).is_err() {
            return Ok(None);
        }
        let real = self.resolve(path)?;
        if std::fs::metadata(&real).is_ok_and(|m| m.is_dir()) {
            return Ok(None);
        }
        read_checked(path, &real).map(Some)
    }

    /// The entries with one of `exts` directly in `dir`, sorted by name; none if `dir` is
    /// absent. `dir` itself may be a link, under the same rule as a file.
    fn list(&self, dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
        if std::fs::symlink_metadata(dir).is_err() {
            return Ok(Vec::new());
        }
        let real = self.resolve(dir)?;
        let entries = std::fs::read_dir(&real).map_err(read_error(dir))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(read_error(dir))?;
            let name = entry.file_name();
            let p = dir.join(&name);
            if p.extension().is_some_and(|e| exts.iter().any(|x| e == *x)) {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Where the symbolic link at `path` points, as a path made absolute against the link's
/// real folder and with `.` and `..` resolved as text; `None` when `path` is not a link.
fn link_target(path: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(path).ok()?;
    let folder = std::fs::canonicalize(path.parent()?).ok()?;
    let mut out = PathBuf::new();
    for part in folder.join(target).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Reads a file named on the command line: it must be a regular file of bounded size.
fn read_named(path: &Path) -> Result<Vec<u8>> {
    let real = std::fs::canonicalize(path).map_err(read_error(path))?;
    read_checked(path, &real)
}

/// Reads the regular file at `real` (shown as `path`), up to [`MAX_FILE_BYTES`].
fn read_checked(path: &Path, real: &Path) -> Result<Vec<u8>> {
    let refused = |reason| Error::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(real).map_err(read_error(path))?;
    if !meta.is_file() {
        return Err(refused(Refusal::NotAFile));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(refused(Refusal::TooLarge));
    }
    let file = File::open(real).map_err(read_error(path))?;
    // The file was regular when looked at; the opened one is checked again before reading.
    if !file.metadata().map_err(read_error(path))?.is_file() {
        return Err(refused(Refusal::NotAFile));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error(path))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(refused(Refusal::TooLarge));
    }
    Ok(bytes)
}
