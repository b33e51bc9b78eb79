//! Following a config repository's branch: fetch it on an interval, and apply each new
//! commit whose mapping lints clean.
//!
//! The branch is fetched with gix into a bare cache repository (`+refs/heads/B:refs/remotes/
//! origin/B`, set on every fetch, since a bare repository has no configured refspec), over
//! https (credentials passed in by the caller, never read here) or a local path (gix's file
//! transport runs `git upload-pack`, so a `git` binary must be on `PATH`). The config is then
//! read from the fetched commit's tree (`config::git`), never from a work tree.
//!
//! A commit whose mapping has errors is refused: its findings are reported once, nothing is
//! applied, and the catalog keeps serving the last good commit. Every apply records its commit
//! in the catalog's run history (`Desired::revision` → `Plan::mapping_revision` → `RunRecord`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::location::split_at_rev;
use crate::config::{self, Loaded};
use crate::pipeline::{self, Pipeline};
use crate::reconcile::ApplyReport;

/// A boxed gix error: one type per gix call, callers only need the chain.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Errors of one poll (the next poll tries again).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `git:URL@BRANCH` could not be parsed.
    #[error("`{0}` is not a branch to follow: use `git:URL@BRANCH`")]
    InvalidRemote(String),
    /// The cache repository could not be created or opened.
    #[error("could not open the fetch cache at {path}")]
    CacheFailed {
        /// The cache folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: Cause,
    },
    /// Fetching the branch failed.
    #[error("fetching {branch} from {url} failed")]
    FetchFailed {
        /// The remote, credentials removed.
        url: String,
        /// The branch.
        branch: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The fetched commit's config could not be read.
    #[error("could not read the config at {commit}")]
    ReadFailed {
        /// The commit.
        commit: String,
        /// Why.
        #[source]
        source: config::git::Error,
    },
    /// Planning or applying the commit failed (the catalog could not be read): the next
    /// poll tries the same commit again.
    #[error("could not plan the commit")]
    PipelineFailed(#[source] pipeline::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The branch of a remote repository to follow. Its URL may carry a token
/// (`https://x-access-token:…@host`): `Debug` and `Display` show it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteBranch {
    /// An https URL or a local path.
    pub url: String,
    /// The branch name.
    pub branch: String,
}

impl std::str::FromStr for RemoteBranch {
    type Err = Error;

    /// Parses `git:URL@BRANCH` (`git:URL` alone follows the remote's `HEAD`).
    fn from_str(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(config::location::GIT_PREFIX)
            .ok_or_else(|| Error::InvalidRemote(redact_url(s)))?;
        let (url, branch) = split_at_rev(rest);
        let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
        if url.is_empty() || branch.is_empty() {
            return Err(Error::InvalidRemote(redact_url(s)));
        }
        Ok(RemoteBranch {
            url: url.to_string(),
            branch: branch.to_string(),
        })
    }
}

impl std::fmt::Debug for RemoteBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBranch")
            .field("url", &redact_url(&self.url))
            .field("branch", &self.branch)
            .finish()
    }
}

impl std::fmt::Display for RemoteBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", redact_url(&self.url), self.branch)
    }
}

/// An https token for fetching; redacted in `Debug`, never displayed.
#[derive(Clone)]
pub struct GitToken {
    username: String,
    token: String,
}

impl GitToken {
    /// A token sent as the password of `username` (Azure DevOps ignores the name; GitHub
    /// accepts `x-access-token`).
    pub fn new(username: impl Into<String>, token: impl Into<String>) -> Self {
        let token = token.into();
        crate::secrets::register(&token);
        GitToken {
            username: username.into(),
            token,
        }
    }
}

impl std::fmt::Debug for GitToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitToken")
            .field("username", &self.username)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// Fetches one branch into a bare cache repository.
#[derive(Debug)]
pub struct Fetcher {
    remote: RemoteBranch,
    cache: PathBuf,
    token: Option<GitToken>,
}

impl Fetcher {
    /// A fetcher keeping its objects in `cache` (created on first fetch).
    pub fn new(remote: RemoteBranch, cache: impl Into<PathBuf>, token: Option<GitToken>) -> Self {
        Fetcher {
            remote,
            cache: cache.into(),
            token,
        }
    }

    /// The cache repository's path.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    fn open_cache(&self) -> Result<gix::Repository> {
        let failed = |e: gix::Error| Error::CacheFailed {
            path: self.cache.clone(),
            source: Box::new(e),
        };
        if self.cache.join("HEAD").is_file() {
            gix::open(&self.cache).map_err(failed)
        } else {
            // A fresh folder: the cache and its parents (`.adoport/`) are made on first use.
            std::fs::create_dir_all(&self.cache).map_err(|e| Error::CacheFailed {
                path: self.cache.clone(),
                source: Box::new(e),
            })?;
            gix::init_bare(&self.cache).map_err(failed)
        }
    }

    /// Fetches the branch and returns the commit it points at, with the cache repository.
    pub fn fetch(&self) -> Result<(gix::Repository, String)> {
        // gix's https transport builds a reqwest client on the crate's rustls, which has no
        // default crypto provider compiled in: install ring's, as the ADO and Port clients do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let repo = self.open_cache()?;
        let failed = |e: gix::Error| Error::FetchFailed {
            url: redact_url(&self.remote.url),
            branch: self.remote.branch.clone(),
            source: Box::new(e),
        };
        let tracking = format!("refs/remotes/origin/{}", self.remote.branch);
        let spec = format!("+refs/heads/{}:{tracking}", self.remote.branch);
        let spec = if self.remote.branch == "HEAD" {
            format!("+HEAD:{tracking}")
        } else {
            spec
        };
        let remote = repo
            .remote_at(self.remote.url.as_str())
            .map_err(failed)?
            .with_refspecs([spec.as_str()], gix::remote::Direction::Fetch)
            .map_err(failed)?;
        let mut connection = remote
            .connect(gix::remote::Direction::Fetch)
            .map_err(failed)?;
        // gix's https client trusts the CA roots compiled in too, as the others do.
        if let Some(options) =
            crate::http::tls::git_transport_options(&repo, &self.remote.url).map_err(failed)?
        {
            connection.set_transport_options(options);
        }
        if let Some(token) = self.token.clone() {
            connection = connection.with_credentials(move |action| match action {
                gix::credentials::helper::Action::Get(ctx) => {
                    Ok(Some(gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username: token.username.clone(),
                            password: token.token.clone(),
                            oauth_refresh_token: None,
                        },
                        next: ctx.into(),
                    }))
                }
                _ => Ok(None),
            });
        }
        let interrupt = AtomicBool::new(false);
        connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(failed)?
            .receive(gix::progress::Discard, &interrupt)
            .map_err(failed)?;
        // Re-open so the updated ref is read from disk, not from a cached view.
        let repo = self.open_cache()?;
        let id = repo
            .find_reference(tracking.as_str())
            .map_err(failed)?
            .peel_to_id()
            .map_err(failed)?
            .to_string();
        Ok((repo, id))
    }
}

/// What one poll found.
#[derive(Debug)]
pub enum Poll {
    /// The branch has not moved since the last poll.
    Unchanged {
        /// The commit it still points at.
        commit: String,
    },
    /// A new commit was applied.
    Applied(Box<Applied>),
    /// A new commit's mapping has errors: nothing applied, the last good commit still serves.
    Refused(Box<Refused>),
}

/// A commit applied.
#[derive(Debug)]
pub struct Applied {
    /// The commit.
    pub commit: String,
    /// The plan that was applied, and what the mapping reported on the way.
    pub planned: pipeline::Planned,
    /// What the apply did.
    pub report: ApplyReport,
    /// Fetch + read + plan + apply.
    pub elapsed: Duration,
}

/// A commit refused.
#[derive(Debug)]
pub struct Refused {
    /// The commit.
    pub commit: String,
    /// Its findings and files.
    pub loaded: Loaded,
    /// The commit still in force, if one was applied before.
    pub serving: Option<String>,
}

/// Fetches the followed branch and runs each new commit through the pipeline.
pub struct Follower {
    fetcher: Fetcher,
    pipeline: Pipeline,
    applied: Option<String>,
    seen: Option<String>,
}

impl Follower {
    /// A follower applying through `pipeline`.
    pub fn new(fetcher: Fetcher, pipeline: Pipeline) -> Self {
        Follower {
            fetcher,
            pipeline,
            applied: None,
            seen: None,
        }
    }

    /// The last commit applied.
    pub fn applied(&self) -> Option<&str> {
        self.applied.as_deref()
    }

    /// Fetches once; applies the branch's commit if it is new and lints clean.
    pub fn poll(&mut self) -> Result<Poll> {
        let started = Instant::now();
        let (repo, commit) = self.fetcher.fetch()?;
        if self.seen.as_deref() == Some(commit.as_str()) {
            return Ok(Poll::Unchanged { commit });
        }
        let read =
            config::git::read_files_in(&repo, &commit, "").map_err(|source| Error::ReadFailed {
                commit: commit.clone(),
                source,
            })?;
        let checked = match pipeline::gate(config::build_config(read.files), Some(commit.clone())) {
            pipeline::Gate::Passed(mut checked) => {
                checked.origin = Some(config::git::Origin {
                    path: repo.path().to_path_buf(),
                    commit: commit.clone(),
                });
                checked
            }
            pipeline::Gate::Refused(loaded) => {
                self.seen = Some(commit.clone());
                return Ok(Poll::Refused(Box::new(Refused {
                    commit,
                    loaded: *loaded,
                    serving: self.applied.clone(),
                })));
            }
        };
        // A new commit is a resync: a live source is read again, not served from memory.
        self.pipeline.refresh();
        let planned = self
            .pipeline
            .plan(&checked)
            .map_err(Error::PipelineFailed)?;
        let report = self
            .pipeline
            .apply(&planned)
            .map_err(Error::PipelineFailed)?;
        self.seen = Some(commit.clone());
        self.applied = Some(commit.clone());
        Ok(Poll::Applied(Box::new(Applied {
            commit,
            planned,
            report,
            elapsed: started.elapsed(),
        })))
    }
}

/// Polls every `interval` until `stop` is set, handing each outcome (or fetch error) to
/// `on_poll`; an error never ends the loop, the next poll tries again.
pub fn run(
    follower: &mut Follower,
    interval: Duration,
    stop: &AtomicBool,
    on_poll: &mut dyn FnMut(Result<Poll>),
) {
    while !stop.load(Ordering::Relaxed) {
        on_poll(follower.poll());
        let until = Instant::now() + interval;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100).min(interval));
        }
    }
}

/// A URL for messages, with any `user:password@` removed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
            format!("{}[redacted]{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_branch_parses_from_git_url_at_branch() {
        let r: RemoteBranch = "git:https://dev.azure.com/acme/cfg/_git/cfg@main"
            .parse()
            .unwrap();
        assert_eq!(r.url, "https://dev.azure.com/acme/cfg/_git/cfg");
        assert_eq!(r.branch, "main");
        let r: RemoteBranch = "git:/srv/cfg.git@refs/heads/prod".parse().unwrap();
        assert_eq!(
            (r.url.as_str(), r.branch.as_str()),
            ("/srv/cfg.git", "prod")
        );
        assert!("https://x@main".parse::<RemoteBranch>().is_err());
    }

    #[test]
    fn credentials_in_a_url_never_reach_messages() {
        let r: RemoteBranch = "git:https://me:s3cret@host/repo@main".parse().unwrap();
        assert!(!r.to_string().contains("s3cret"));
        let token = GitToken::new("x-access-token", "s3cret");
        assert!(!format!("{token:?}").contains("s3cret"));
        let err = "https://me:s3cret@host/repo"
            .parse::<RemoteBranch>()
            .unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
