//! `adoport apply`: plan and write, once, or following a config repository's branch.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use adoport::config::{self, ConfigSource};
use adoport::desired::Evaluator;
use adoport::follow::{self, Fetcher, Follower, GitToken, Poll, RemoteBranch};
use adoport::reconcile::{self, ApplyOptions, render};
use adoport::review::{self, SideLoad};

use super::plan::{SourceArg, items, mapper, open_catalog};
use super::{Ctx, Exit};

/// Plan and write the changes to the catalog. With `--follow git:URL@BRANCH`, keep the
/// catalog in step with a config repository's branch: fetch it every `--interval`, apply each
/// new commit whose mapping lints clean, refuse (and report) one that does not while the last
/// good commit stays in force. Each apply records its commit in the catalog's run history.
///
/// https credentials for `--follow` come from ADOPORT_GIT_TOKEN (sent as the password of
/// ADOPORT_GIT_USER, default `x-access-token`). Exits 0 when everything was applied, 1 on
/// errors.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The config: a folder, a mapping file, or a git revision `git:PATH@REV`.
    #[arg(
        long,
        default_value = ".",
        value_name = "DIR|FILE|git:PATH@REV",
        conflicts_with = "follow"
    )]
    config: ConfigSource,
    /// Where raw items come from: `ado` or `snapshot:DIR`.
    #[arg(long, default_value = "ado", value_name = "ado|snapshot:DIR")]
    source: SourceArg,
    /// The catalog: `sqlite:PATH`, `port`, `port:eu`, `port:us` or `port:URL`.
    #[arg(long, value_name = "TARGET")]
    catalog: Option<String>,
    /// Follow a branch of a config repository (https URL or local path): `git:URL@BRANCH`.
    #[arg(long, value_name = "git:URL@BRANCH")]
    follow: Option<RemoteBranch>,
    /// With `--follow`: how often to fetch (`60s`, `5m`, `1h`, `500ms`).
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "follow")]
    interval: Duration,
    /// With `--follow`: poll once and exit (for scripts and tests).
    #[arg(long, requires = "follow")]
    once: bool,
    /// With `--follow`: where fetched objects are kept between polls.
    #[arg(
        long,
        default_value = ".adoport/follow",
        requires = "follow",
        value_name = "DIR"
    )]
    cache_dir: PathBuf,
    /// The datasource id stamped on writes when following (a single apply reads it from
    /// the config's settings).
    #[arg(long, requires = "follow", default_value = config::settings::DEFAULT_DATASOURCE)]
    datasource: String,
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

pub(crate) fn run(args: ApplyArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    if let Some(remote) = args.follow.clone() {
        return follow(args, remote, ctx);
    }
    let rt = tokio::runtime::Runtime::new()?;
    let side = match review::load_side(&args.config, "config")? {
        SideLoad::Ready(side) => *side,
        SideLoad::Invalid(loaded) => {
            let text = config::render::text(&loaded.diagnostics, &loaded.sources, ctx.out.color());
            ctx.out.data(&text)?;
            return Ok(Exit::Failure);
        }
    };
    let mut items = items(&args.source, &[&side.config])?;
    let evaluation = Evaluator::new(mapper(&side.config.settings)).evaluate(
        &side.config,
        side.commit.clone(),
        items.as_mut(),
    );
    let catalog = open_catalog(args.catalog.as_deref(), side.config.settings.datasource())?;
    let actual = rt.block_on(catalog.list_owned())?;
    let plan = reconcile::plan(evaluation.desired, actual, &evaluation.guards);
    ctx.out
        .data(&render::text::render(&plan, ctx.out.color()))?;
    let report = rt.block_on(reconcile::apply(
        &plan,
        catalog.as_ref(),
        ApplyOptions::default(),
    ));
    ctx.out
        .data(&render::text::render_report(&report, ctx.out.color()))?;
    Ok(if report.is_success() {
        Exit::Ok
    } else {
        Exit::Failure
    })
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
    let items = items(&args.source, &[])?;
    let catalog = open_catalog(args.catalog.as_deref(), &args.datasource)?;
    let fetcher = Fetcher::new(remote.clone(), &args.cache_dir, token);
    let mut follower = Follower::new(
        fetcher,
        mapper(&config::Settings::default()),
        items,
        Arc::from(catalog),
    )
    .context("could not start following")?;
    ctx.out.status(&format!("following {remote}"));
    let mut failed = false;
    let mut on_poll = |poll: follow::Result<Poll>| match poll {
        Ok(Poll::Unchanged { commit }) => {
            tracing::debug!(commit = %commit, "the branch has not moved");
        }
        Ok(Poll::Applied(a)) => {
            failed = !a.report.is_success();
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
            tracing::warn!(commit = %r.commit, "refusing a commit whose mapping has errors; {serving}");
            let _ = ctx.out.data(&format!(
                "refused {}: its mapping has errors ({serving})\n{}",
                r.commit,
                config::render::text(&r.loaded.diagnostics, &r.loaded.sources, ctx.out.color())
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
