//! `adoport apply`: plan, print the plan, execute it against the catalog, print what was
//! done. Exits 0 when everything was applied, 1 otherwise. With `--follow`, the same for
//! every new commit of a config repository's branch (`follow`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;

use adoport::catalog::OpenMode;
use adoport::config;
use adoport::follow::{self, Fetcher, Follower, GitToken, Poll, RemoteBranch};
use adoport::pipeline::Options;
use adoport::reconcile::{ApplyOptions, render};

use super::run::{Format, RunArgs, checked, emit, render_plan, report};
use super::{Ctx, Exit};

/// Apply the mapping to the catalog: create, update and delete what `plan` shows.
///
/// Prints the plan it executes, then a summary. Deletes held back by a guard (an incomplete
/// kind, `entityDeletionThreshold`, `--max-deletes`, `--no-prune`) are not applied. A failed
/// entity or batch does not stop the run; it is reported, and the exit code is 1.
///
/// With `--follow git:URL@BRANCH` (instead of `--config`), keep the catalog in step with a
/// config repository's branch: fetch it every `--interval`, apply each new commit whose
/// mapping lints clean, refuse (and report) one that does not while the last good commit
/// stays in force. Each apply records its commit in the catalog's run history. https
/// credentials come from ADOPORT_GIT_TOKEN, sent as the password of ADOPORT_GIT_USER
/// (default `x-access-token`).
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Catalog calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Follow a branch of a config repository (https URL or local path): `git:URL@BRANCH`.
    #[arg(long, value_name = "git:URL@BRANCH")]
    pub(crate) follow: Option<RemoteBranch>,
    /// With `--follow`: how often to fetch (`60s`, `5m`, `1h`, `500ms`).
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "follow")]
    pub(crate) interval: Duration,
    /// With `--follow`: poll once and exit (for scripts and tests).
    #[arg(long, requires = "follow")]
    pub(crate) once: bool,
    /// With `--follow`: where fetched objects are kept between polls.
    #[arg(
        long,
        default_value = ".adoport/follow",
        requires = "follow",
        value_name = "DIR"
    )]
    pub(crate) cache_dir: PathBuf,
}

pub(crate) fn run(args: ApplyArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    if let Some(remote) = args.follow.clone() {
        return follow(args, remote, ctx);
    }
    let run = &args.run;
    let checked = match checked(&run.config, "the config", run, ctx)? {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let mut pipeline = run.pipeline(
        &checked.config.settings,
        OpenMode::ReadWrite,
        options(&args),
    )?;
    let planned = pipeline.plan(&checked)?;
    let color = run.color(ctx);
    let mut text = String::new();
    if run.format != Format::Json {
        text.push_str(&render_plan(&planned.plan, run.format, color)?);
        if run.out.is_none() {
            emit(ctx, None, &text)?;
            text.clear();
        }
    }
    let report_failed = report(&planned.summary, run.strict, ctx);
    let applied = pipeline.apply(&planned)?;
    let summary = match run.format {
        Format::Text => format!("\n{}", render::text::render_report(&applied, color)),
        Format::Markdown => format!("\n{}", render::markdown::render_report(&applied)),
        Format::Json => render::json::render_report(&planned.plan, &applied),
    };
    text.push_str(&summary);
    emit(ctx, run.out.as_deref(), &text)?;
    Ok(if applied.is_success() && !report_failed {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

/// The run's options: the shared flags, and how many catalog calls run at once.
fn options(args: &ApplyArgs) -> Options {
    let mut options = args.run.options();
    options.apply = ApplyOptions {
        concurrency: args.concurrency.max(1),
    };
    options
}

/// `60s`, `5m`, `1h`, `250ms`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 60s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("`{s}`: use ms, s, m or h")),
    }
}

fn follow(args: ApplyArgs, remote: RemoteBranch, ctx: &Ctx) -> anyhow::Result<Exit> {
    let token = std::env::var("ADOPORT_GIT_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let user = std::env::var("ADOPORT_GIT_USER")
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| "x-access-token".into());
            GitToken::new(user, t.trim())
        });
    let fetcher = Fetcher::new(remote.clone(), &args.cache_dir, token);
    // Settings (datasource, organization, catalog) come from the branch as it is when
    // following starts; a change to them takes a restart. The jq settings follow each commit.
    let settings = head_settings(&fetcher, ctx);
    let pipeline = args
        .run
        .pipeline(&settings, OpenMode::ReadWrite, options(&args))?;
    let mut follower = Follower::new(fetcher, pipeline);
    ctx.out.status(&format!("following {remote}"));
    let strict = args.run.strict;
    let mut failed = false;
    let mut on_poll = |poll: follow::Result<Poll>| match poll {
        Ok(Poll::Unchanged { commit }) => {
            tracing::debug!(commit = %commit, "the branch has not moved");
        }
        Ok(Poll::Applied(a)) => {
            let report_failed = report(&a.planned.summary, strict, ctx);
            failed = !a.report.is_success() || report_failed;
            let _ = ctx.out.data(&format!(
                "applied {}: {}",
                a.commit,
                render::text::render_report(&a.report, ctx.out.color())
            ));
        }
        Ok(Poll::Refused(r)) => {
            failed = true;
            let serving = r
                .serving
                .as_deref()
                .map_or("nothing applied yet".to_string(), |c| {
                    format!("still serving {c}")
                });
            ctx.out.findings(&r.loaded.diagnostics, &r.loaded.sources);
            ctx.out.error(&anyhow::anyhow!(
                "refused {}: its mapping has lint errors ({serving})",
                r.commit
            ));
        }
        Err(e) => {
            failed = true;
            ctx.out.error(&anyhow::Error::new(e));
        }
    };
    if args.once {
        on_poll(follower.poll());
    } else {
        let stop = AtomicBool::new(false);
        follow::run(&mut follower, args.interval, &stop, &mut on_poll);
    }
    Ok(if failed { Exit::Failure } else { Exit::Ok })
}

/// The followed branch's `adoport.yaml` at its current head, or the defaults (said on
/// stderr) when the branch cannot be fetched yet or its config does not load.
fn head_settings(fetcher: &Fetcher, ctx: &Ctx) -> config::Settings {
    let loaded = fetcher.fetch().ok().and_then(|(repo, commit)| {
        let read = config::git::read_files_in(&repo, &commit, "").ok()?;
        config::build_config(read.files).config
    });
    match loaded {
        Some(config) => config.settings,
        None => {
            ctx.out.status(
                "the branch's settings could not be read yet; following with the default settings",
            );
            config::Settings::default()
        }
    }
}
