//! Where a config comes from, as every subcommand's `--config` names it: a folder, a single
//! mapping file, or a git revision (`git:PATH@REV`).
//!
//! This module only parses the name and dispatches to the reader that owns each place
//! (`files::read_files` for the file system, `git::read_files_at` for a revision); building
//! the model stays with `build_config`, whichever way the files were found.

use std::path::{Path, PathBuf};

use super::files::{self, ConfigFiles};
use super::git;
use super::load::{Loaded, build_config};

/// The prefix that marks a git revision.
pub const GIT_PREFIX: &str = "git:";

/// Where a config is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// A config repo folder or a single mapping file on disk, as it is now.
    Path(PathBuf),
    /// A revision of a git repository: `git:PATH@REV` (`git:PATH` alone means `HEAD`).
    Git {
        /// The repository, or a folder or file inside its work tree.
        repo: PathBuf,
        /// Any revision git understands: branch, tag, commit, `origin/main`, `HEAD~1`.
        rev: String,
    },
}

/// Errors reading a config from its source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--config` value cannot be parsed.
    #[error("`{0}` is not a config source: use a folder, a file, or `git:PATH@REV`")]
    Invalid(String),
    /// The folder or file could not be read (its error names the file and why).
    #[error(transparent)]
    ReadFailed(files::Error),
    /// The git revision could not be read.
    #[error("could not read the config from git")]
    GitFailed(#[source] git::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config's files plus the commit they came from, when they came from git.
#[derive(Clone, Debug)]
pub struct SourcedFiles {
    /// The raw files.
    pub files: ConfigFiles,
    /// The full commit id, for a git source.
    pub revision: Option<String>,
}

impl std::str::FromStr for ConfigSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some(rest) = s.strip_prefix(GIT_PREFIX) else {
            if s.is_empty() {
                return Err(Error::Invalid(s.to_string()));
            }
            return Ok(ConfigSource::Path(PathBuf::from(s)));
        };
        let (repo, rev) = split_at_rev(rest);
        if repo.is_empty() || rev.is_empty() {
            return Err(Error::Invalid(s.to_string()));
        }
        Ok(ConfigSource::Git {
            repo: PathBuf::from(repo),
            rev: rev.to_string(),
        })
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Path(p) => write!(f, "{}", p.display()),
            ConfigSource::Git { repo, rev } => write!(f, "{GIT_PREFIX}{}@{rev}", repo.display()),
        }
    }
}

/// Splits `PATH@REV` at the last `@` that does not start a reflog suffix (`@{1}`), so
/// `main@{1}` stays a revision; without one, the revision is `HEAD`.
pub fn split_at_rev(s: &str) -> (&str, &str) {
    let at = s
        .char_indices()
        .filter(|&(i, c)| c == '@' && !s[i + 1..].starts_with('{'))
        .map(|(i, _)| i)
        .next_back();
    match at {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, "HEAD"),
    }
}

impl ConfigSource {
    /// The same repository at another revision: used to compare a pull request's head
    /// with its base. A path source stands for the repository around it.
    #[must_use]
    pub fn at_revision(&self, rev: &str) -> ConfigSource {
        let repo = match self {
            ConfigSource::Path(p) => p.clone(),
            ConfigSource::Git { repo, .. } => repo.clone(),
        };
        ConfigSource::Git {
            repo,
            rev: rev.to_string(),
        }
    }

    /// The folder or repository this source reads from.
    pub fn path(&self) -> &Path {
        match self {
            ConfigSource::Path(p) => p,
            ConfigSource::Git { repo, .. } => repo,
        }
    }

    /// Reads the raw files, and the commit id for a git source.
    pub fn read(&self) -> Result<SourcedFiles> {
        match self {
            ConfigSource::Path(p) => Ok(SourcedFiles {
                files: files::read_files(p).map_err(Error::ReadFailed)?,
                revision: None,
            }),
            ConfigSource::Git { repo, rev } => {
                let read = git::read_files_at(repo, rev).map_err(Error::GitFailed)?;
                Ok(SourcedFiles {
                    files: read.files,
                    revision: Some(read.commit),
                })
            }
        }
    }

    /// Reads and builds the config; the commit id comes back for a git source.
    pub fn load(&self) -> Result<(Loaded, Option<String>)> {
        let read = self.read()?;
        Ok((build_config(read.files), read.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(repo: &str, rev: &str) -> ConfigSource {
        ConfigSource::Git {
            repo: repo.into(),
            rev: rev.into(),
        }
    }

    #[test]
    fn a_plain_value_is_a_path_and_a_git_prefix_names_a_revision() {
        assert_eq!(
            "config".parse::<ConfigSource>().unwrap(),
            ConfigSource::Path("config".into())
        );
        assert_eq!(
            "git:.@origin/main".parse::<ConfigSource>().unwrap(),
            git(".", "origin/main")
        );
        assert_eq!(
            "git:repo".parse::<ConfigSource>().unwrap(),
            git("repo", "HEAD")
        );
        assert_eq!(
            "git:a@b/repo@v1.2".parse::<ConfigSource>().unwrap(),
            git("a@b/repo", "v1.2")
        );
    }

    #[test]
    fn a_reflog_suffix_stays_part_of_the_revision() {
        assert_eq!(
            "git:repo@main@{1}".parse::<ConfigSource>().unwrap(),
            git("repo", "main@{1}")
        );
        assert_eq!(split_at_rev("repo"), ("repo", "HEAD"));
    }

    #[test]
    fn empty_parts_are_refused() {
        assert!("git:@main".parse::<ConfigSource>().is_err());
        assert!("git:repo@".parse::<ConfigSource>().is_err());
        assert!("".parse::<ConfigSource>().is_err());
    }

    #[test]
    fn a_source_displays_as_it_is_written() {
        assert_eq!(git("r", "main").to_string(), "git:r@main");
        assert_eq!(
            ConfigSource::Path("x".into()).at_revision("HEAD~1"),
            git("x", "HEAD~1")
        );
    }
}
