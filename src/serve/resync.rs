//! The interval resync: a full plan + apply every `resync.interval`, following the config.
//!
//! - **Never two at once.** [`run_loop`] starts the next run only after the last one ended,
//!   and every run goes through the one pipeline thread anyway. A run that outlives its
//!   interval delays the next (which then starts at once) and says so in the log.
//! - **Repairs drift.** It is a full plan against the catalog as it is: an entity changed or
//!   deleted by hand is put back; deletes stay behind the usual guards.
//! - **Follows the config.** Before each run the [`ConfigFeed`] is read again: a folder as it
//!   is now, or a branch (`git:URL@BRANCH`, fetched with `follow::Fetcher`). A version with
//!   lint errors is refused, reported once, and the last good config stays in force.
//! - **Recorded.** Each run is written to the queue database (start, end, entities per kind,
//!   completeness), and a complete, successful run clears the signals it made unnecessary.
//! - **Incremental passes between.** With `resync.incrementalInterval`, passes run between
//!   full resyncs (never during one: the pipeline thread runs one job at a time): each reads,
//!   for the kinds ADO can filter by time, what changed since that kind's cursor
//!   (`cursors`), and upserts it. A pass deletes only what a targeted plan would (an item
//!   the selector no longer keeps, an identifier that changed), never an item merely not
//!   listed: full resyncs prune. A cursor moves only after its kind was read completely and
//!   the plan applied; a full resync moves the cursors of the kinds it read completely.
//!
//! The mapping, the jq settings, the guards of `adoport.yaml` and `resync.interval` follow
//! each config put in force; what was opened at start (the source's organization, the
//! catalog and its datasource, the listener) takes a restart to change, as with
//! `apply --follow`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use tokio::sync::watch;

use super::app::Health;
use super::cursors::Cursors;
use super::metrics::{LastResync, Metrics};
use super::queue::{self, Queue, ResyncRecord};
use super::runner::{self, Runner, Work};
use crate::config::{self, ConfigSource, Loaded};
use crate::follow::{self, Fetcher, RemoteBranch};
use crate::pipeline::TargetOutcome;
use crate::pipeline::{self, Checked, Gate};
use crate::reconcile::ApplyReport;
use std::collections::BTreeMap;

/// The interval when `resync.interval` is not set.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Errors reading the config or a duration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A duration that does not parse.
    #[error("`{0}` is not a duration: use digits followed by ms, s, m, h or d, e.g. 30m or 1h30m")]
    BadDuration(String),
    /// The config folder or file could not be read.
    #[error("could not read the config")]
    Config(#[source] config::location::Error),
    /// The followed branch could not be fetched.
    #[error("could not fetch the config branch")]
    Follow(#[source] follow::Error),
    /// The fetched commit's config could not be read.
    #[error("could not read the config at {commit}")]
    ReadCommit {
        /// The commit.
        commit: String,
        /// Why.
        #[source]
        source: config::git::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses `30m`, `1h30m`, `500ms`, `2d`: digits and a unit, repeated. Zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || Error::BadDuration(text.to_owned());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let after = &rest[digits..];
        let (unit_ms, len) = if after.starts_with("ms") {
            (1, 2)
        } else {
            match after.chars().next() {
                Some('s') => (1_000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                Some('d') => (86_400_000, 1),
                _ => return Err(bad()),
            }
        };
        let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(bad)?;
        rest = &after[len..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

/// Where the config comes from: `serve --config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSpec {
    /// A folder or file, read again before each resync.
    Local(ConfigSource),
    /// A branch followed: `git:URL@BRANCH`.
    Branch(RemoteBranch),
}

impl std::str::FromStr for ConfigSpec {
    type Err = String;

    /// `git:URL@BRANCH` follows a branch; anything else is a folder or a file.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.starts_with(config::location::GIT_PREFIX) {
            s.parse()
                .map(ConfigSpec::Branch)
                .map_err(|e: follow::Error| e.to_string())
        } else {
            s.parse()
                .map(ConfigSpec::Local)
                .map_err(|e: config::location::Error| e.to_string())
        }
    }
}

/// What reading the config again found.
#[derive(Debug)]
pub enum Polled {
    /// The same as last time.
    Unchanged,
    /// A new version that passed the lint gate.
    Passed(Box<Checked>),
    /// A new version with lint errors: not put in force.
    Refused {
        /// Which version (a commit, or the folder).
        label: String,
        /// Its findings and files.
        loaded: Box<Loaded>,
    },
}

enum Place {
    Local(ConfigSource),
    Branch(Fetcher),
}

/// The config, read again on demand; each version is judged once.
pub struct ConfigFeed {
    place: Place,
    seen: Option<u64>,
}

impl std::fmt::Debug for ConfigFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFeed").finish_non_exhaustive()
    }
}

impl ConfigFeed {
    /// A feed over `spec`; a followed branch is fetched into `cache`.
    #[must_use]
    pub fn new(spec: ConfigSpec, cache: &std::path::Path, token: Option<follow::GitToken>) -> Self {
        let place = match spec {
            ConfigSpec::Local(source) => Place::Local(source),
            ConfigSpec::Branch(remote) => Place::Branch(Fetcher::new(remote, cache, token)),
        };
        ConfigFeed { place, seen: None }
    }

    /// Reads the config again; a version already judged is [`Polled::Unchanged`].
    pub fn poll(&mut self) -> Result<Polled> {
        let (gate, label, fingerprint) = match &self.place {
            Place::Local(source) => {
                let gate = pipeline::load(source).map_err(Error::Config)?;
                let sources = match &gate {
                    Gate::Passed(c) => &c.sources,
                    Gate::Refused(l) => &l.sources,
                };
                let mut hasher = DefaultHasher::new();
                for s in sources {
                    s.name.hash(&mut hasher);
                    s.text.hash(&mut hasher);
                }
                (gate, source.to_string(), hasher.finish())
            }
            Place::Branch(fetcher) => {
                let (repo, commit) = fetcher.fetch().map_err(Error::Follow)?;
                let mut hasher = DefaultHasher::new();
                commit.hash(&mut hasher);
                let fingerprint = hasher.finish();
                if self.seen == Some(fingerprint) {
                    return Ok(Polled::Unchanged);
                }
                let read = config::git::read_files_in(&repo, &commit, "").map_err(|source| {
                    Error::ReadCommit {
                        commit: commit.clone(),
                        source,
                    }
                })?;
                let mut gate =
                    pipeline::gate(config::build_config(read.files), Some(commit.clone()));
                if let Gate::Passed(checked) = &mut gate {
                    checked.origin = Some(config::git::Origin {
                        path: repo.path().to_path_buf(),
                        commit: commit.clone(),
                    });
                }
                (gate, commit, fingerprint)
            }
        };
        if self.seen == Some(fingerprint) {
            return Ok(Polled::Unchanged);
        }
        self.seen = Some(fingerprint);
        Ok(match gate {
            Gate::Passed(checked) => Polled::Passed(checked),
            Gate::Refused(loaded) => Polled::Refused { label, loaded },
        })
    }
}

/// One resync, and how long to wait between them: what [`run_loop`] drives.
#[async_trait]
pub trait Resync: Send + Sync {
    /// Runs one resync (`trigger`: why) to its end, recording it.
    async fn resync(&self, trigger: &str) -> ResyncRecord;
    /// The interval in force.
    fn interval(&self) -> Duration;
    /// The time between incremental passes in force (`None`: none run).
    fn incremental_interval(&self) -> Option<Duration> {
        None
    }
    /// Runs one incremental pass to its end.
    async fn incremental(&self) {}
    /// Reads the config again without resyncing: what a replica that does not hold the
    /// resync lease does every interval ([`lease::run_leased`](super::lease::run_leased)).
    async fn follow(&self) {}
}

/// Runs a resync at once, then one every interval, never two at once, until `stop`
/// turns true (a run in progress is abandoned to the pipeline thread; it finishes there or
/// ends with the process, and the next process resyncs at start).
pub async fn run_loop(resync: &dyn Resync, mut stop: watch::Receiver<bool>) {
    let mut trigger = "start";
    loop {
        if *stop.borrow() {
            return;
        }
        let interval = resync.interval();
        let started = Instant::now();
        tokio::select! {
            _ = resync.resync(trigger) => {}
            _ = stop.changed() => return,
        }
        let took = started.elapsed();
        if took >= interval {
            tracing::warn!(took = ?took, interval = ?interval,
                "the resync took longer than its interval: the next one, already due, starts now");
        }
        let next_full = started + interval;
        trigger = "interval";
        // Incremental passes while one more fits before the next full resync.
        while let Some(every) = resync.incremental_interval() {
            let next_pass = Instant::now() + every;
            if next_pass >= next_full {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(next_pass.into()) => {}
                _ = stop.changed() => return,
            }
            tokio::select! {
                () = resync.incremental() => {}
                _ = stop.changed() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(next_full.into()) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The resync of `serve`: reads the config again, runs a full plan + apply on the pipeline
/// thread, records the run, and clears the signals it handled.
pub struct Resyncer {
    /// The pipeline thread.
    pub runner: Runner,
    /// Where runs are recorded and superseded signals cleared.
    pub queue: Arc<dyn Queue>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
    /// The config, read again before each run (`None`: the config given at start stays).
    pub feed: Option<Arc<Mutex<ConfigFeed>>>,
    /// The incremental passes' cursors (`None`: no incremental passes).
    pub cursors: Option<Arc<Cursors>>,
}

impl Resyncer {
    async fn follow_config(&self) {
        let Some(feed) = self.feed.clone() else {
            return;
        };
        let polled = tokio::task::spawn_blocking(move || {
            feed.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .poll()
        })
        .await;
        let serving = self.runner.config().revision.clone();
        let serving = serving.as_deref().unwrap_or("the config given at start");
        match polled {
            Ok(Ok(Polled::Unchanged)) => {}
            Ok(Ok(Polled::Passed(checked))) => {
                tracing::info!(revision = ?checked.revision, "a new config is in force");
                self.health.set_revision(checked.revision.clone());
                self.runner.set_config(*checked);
                self.health.set_config_loaded(true);
            }
            Ok(Ok(Polled::Refused { label, loaded })) => {
                let findings =
                    crate::config::render::text(&loaded.diagnostics, &loaded.sources, false);
                tracing::warn!(
                    "refused the config {label}: it has lint errors; still serving {serving}\n{findings}"
                );
            }
            Ok(Err(e)) => tracing::warn!(error = %crate::http::error_chain(&e),
                "could not read the config; still serving {serving}"),
            Err(e) => tracing::error!(error = %e, "reading the config panicked"),
        }
    }
}

#[async_trait]
impl Resync for Resyncer {
    async fn resync(&self, trigger: &str) -> ResyncRecord {
        self.follow_config().await;
        let started = SystemTime::now();
        let queue = self.queue.clone();
        let trigger_text = trigger.to_owned();
        let id = tokio::task::spawn_blocking(move || queue.resync_started(&trigger_text, started))
            .await
            .ok()
            .and_then(Result::ok);
        self.metrics.resync_started();
        let clock = Instant::now();
        let result = self.runner.run(Work::Full, true).await;
        let mut record = ResyncRecord {
            trigger: trigger.to_owned(),
            started_ms: queue::millis(started),
            finished_ms: Some(queue::millis(SystemTime::now())),
            ..ResyncRecord::default()
        };
        let mut supersede = Vec::new();
        match &result {
            Ok(run) => {
                let report = run.report.as_ref();
                let ok = report.is_some_and(crate::reconcile::ApplyReport::is_success);
                record.outcome = if ok { "ok" } else { "failed" }.into();
                record.revision = run.revision.clone();
                record.entities = run.entities();
                record.incomplete = run
                    .mapped
                    .iter()
                    .filter(|k| run.incomplete(k).is_some())
                    .cloned()
                    .collect();
                record.complete = record.incomplete.is_empty();
                if let Some(r) = report {
                    record.created = r.created as u64;
                    record.updated = r.updated as u64;
                    record.deleted = r.deleted as u64;
                    record.failed = (r.failed + r.skipped_deletes) as u64;
                }
                if ok {
                    self.advance(run, &record.incomplete, started);
                    supersede = crate::ado::KINDS
                        .iter()
                        .map(|k| k.name)
                        .filter(|k| {
                            !run.mapped.contains(*k)
                                || (run.incomplete(k).is_none() && !run.refused(k))
                        })
                        .map(str::to_owned)
                        .collect();
                }
                for note in run.planned.summary.notes() {
                    tracing::warn!("{}", note.text);
                }
                tracing::info!(trigger, elapsed = ?clock.elapsed(), complete = record.complete,
                    "resync finished: {}", run.summary());
                self.health.set_catalog_error(None);
            }
            Err(e) => {
                let text = crate::http::error_chain(e);
                record.outcome = "failed".into();
                record.error = Some(text.clone());
                tracing::error!(trigger, error = %text, "resync failed");
                if matches!(e, runner::Error::Pipeline(_)) {
                    self.health.set_catalog_error(Some(text));
                }
            }
        }
        self.metrics.resync_finished(LastResync {
            duration: clock.elapsed(),
            ok: record.outcome == "ok",
            complete: record.complete,
            entities: record.entities.clone(),
        });
        self.health.progress();
        let queue = self.queue.clone();
        let saved = record.clone();
        let superseded = tokio::task::spawn_blocking(move || {
            if let Some(id) = id {
                queue.resync_finished(id, &saved)?;
            }
            queue.supersede(&supersede, started)
        })
        .await;
        match superseded {
            Ok(Ok(n)) => self.metrics.superseded(n),
            Ok(Err(e)) => tracing::error!(error = %crate::http::error_chain(&e),
                "could not record the resync in the queue database"),
            Err(e) => tracing::error!(error = %e, "recording the resync panicked"),
        }
        record
    }

    async fn follow(&self) {
        self.follow_config().await;
    }

    fn interval(&self) -> Duration {
        let config = self.runner.config();
        match config.config.settings.resync.interval.as_deref() {
            None => DEFAULT_INTERVAL,
            Some(text) => parse_duration(text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "resync.interval: using the default of 1h");
                DEFAULT_INTERVAL
            }),
        }
    }

    fn incremental_interval(&self) -> Option<Duration> {
        self.cursors.as_ref()?;
        let config = self.runner.config();
        let text = config
            .config
            .settings
            .resync
            .incremental_interval
            .as_deref()?;
        parse_duration(text)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "resync.incrementalInterval: no incremental passes");
            })
            .ok()
    }

    async fn incremental(&self) {
        let Some(cursors) = self.cursors.clone() else {
            return;
        };
        let read = cursors.clone();
        let since = match tokio::task::spawn_blocking(move || read.all()).await {
            Ok(Ok(all)) => all,
            Ok(Err(e)) => {
                tracing::error!(error = %crate::http::error_chain(&e), "could not read the incremental cursors");
                return;
            }
            Err(_) => return,
        };
        let config = self.runner.config();
        let since: BTreeMap<String, jiff::Timestamp> = since
            .into_iter()
            .filter(|(kind, _)| {
                config
                    .config
                    .mapping
                    .resources
                    .iter()
                    .any(|r| r.kind == *kind)
                    && crate::ado::kinds::find(kind).is_some_and(|k| k.incremental)
            })
            .collect();
        if since.is_empty() {
            return;
        }
        let started = jiff::Timestamp::now();
        let clock = Instant::now();
        let kinds: Vec<String> = since.keys().cloned().collect();
        match self.runner.run(Work::Changed(since), true).await {
            Ok(run) => {
                let applied = run.report.as_ref().is_some_and(ApplyReport::is_success);
                let read: Vec<String> = kinds
                    .iter()
                    .zip(&run.outcomes)
                    .filter(|(_, o)| **o == TargetOutcome::Read)
                    .map(|(k, _)| k.clone())
                    .collect();
                for (kind, outcome) in kinds.iter().zip(&run.outcomes) {
                    if let TargetOutcome::Failed { reason, .. } = outcome {
                        tracing::warn!(
                            kind,
                            reason,
                            "incremental pass: kind not read; its cursor stays"
                        );
                    }
                }
                if applied && !read.is_empty() {
                    let moved =
                        tokio::task::spawn_blocking(move || cursors.advance(&read, started)).await;
                    if let Ok(Err(e)) = moved {
                        tracing::error!(error = %crate::http::error_chain(&e), "could not move the incremental cursors");
                    }
                }
                let outcome = if !applied {
                    "failed"
                } else if run.outcomes.iter().all(|o| *o == TargetOutcome::Read) {
                    "ok"
                } else {
                    "partial"
                };
                self.metrics.incremental(outcome);
                tracing::info!(elapsed = ?clock.elapsed(), outcome, "incremental pass: {}", run.summary());
                self.health.progress();
            }
            Err(e) => {
                self.metrics.incremental("failed");
                tracing::error!(error = %crate::http::error_chain(&e), "incremental pass failed");
            }
        }
    }
}

impl Resyncer {
    /// After a successful full resync: the incremental kinds it read completely have every
    /// change up to its start.
    fn advance(&self, run: &runner::Run, incomplete: &[String], started: SystemTime) {
        let Some(cursors) = self.cursors.clone() else {
            return;
        };
        let kinds: Vec<String> = run
            .mapped
            .iter()
            .filter(|k| !incomplete.contains(k) && !run.refused(k))
            .filter(|k| crate::ado::kinds::find(k).is_some_and(|d| d.incremental))
            .cloned()
            .collect();
        let started = jiff::Timestamp::try_from(started).unwrap_or_else(|_| jiff::Timestamp::now());
        if let Err(e) = cursors.advance(&kinds, started) {
            tracing::error!(error = %crate::http::error_chain(&e), "could not move the incremental cursors");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_chain_units() {
        let d = |s: &str| parse_duration(s).unwrap();
        assert_eq!(d("30m"), Duration::from_secs(1800));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("2d"), Duration::from_secs(172_800));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        for bad in ["", "30", "m", "1x", "0s", "1h 30m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
