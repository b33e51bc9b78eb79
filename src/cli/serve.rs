//! `adoport serve`: the always-on integration (`adoport::serve`). This file turns flags,
//! `adoport.yaml` and the environment into the server's parts, and prints where it listens.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use adoport::ado::ClientOptions;
use adoport::catalog::OpenMode;
use adoport::config::Settings;
use adoport::pipeline::{self, Checked, Options, SourceSpec, TargetSpec};
use adoport::secrets::Secret;
use adoport::serve::app::{self, AppState, Health};
use adoport::serve::auth::WebhookAuth;
use adoport::serve::cursors::Cursors;
use adoport::serve::handler::EventHandler;
use adoport::serve::hooks::SyncOptions;
use adoport::serve::nats::{NatsAuth, NatsOptions, NatsQueue};
use adoport::serve::queue::{Queue, QueueSpec, SqliteQueue};
use adoport::serve::resync::{self, ConfigFeed, ConfigSpec, Polled, Resyncer};
use adoport::serve::runner::{Opener, Runner};
use adoport::serve::server::{self, ServeOptions, Server};
use adoport::serve::traces::{SqliteTraces, Traces};
use adoport::serve::worker::{RetryPolicy, Worker};
use adoport::sync::GuardFlags;

use super::run::parse_source;
use super::{Ctx, Exit};

/// Receive Azure DevOps service hooks, keep a durable queue of what changed, and keep the
/// catalog in step: each event's items are read again from Azure DevOps and planned and
/// applied through the same pipeline as `apply`; a full resync runs every `resync.interval`
/// (default 1h), with incremental passes every `resync.incrementalInterval` between.
///
/// The webhook requires basic auth: the password is ADOPORT_WEBHOOK_SECRET, the user
/// ADOPORT_WEBHOOK_USER (default `adoport`). Without a secret, serve refuses to start unless
/// `--insecure-no-webhook-auth` is given. With `webhook.syncSubscriptions: true` in
/// adoport.yaml, the ADO subscriptions are created at start (as `adoport hooks sync` does).
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The config: a folder or a mapping file (read again before each resync), or a branch
    /// to follow, `git:URL@BRANCH` (fetched before each resync; https credentials from
    /// ADOPORT_GIT_TOKEN and ADOPORT_GIT_USER). A version with lint errors is refused and
    /// the last good one stays in force.
    #[arg(long, value_name = "DIR|FILE|git:URL@BRANCH", default_value = ".")]
    pub(crate) config: ConfigSpec,
    /// Where raw items come from: `ado` (the live API) or `snapshot:DIR`. Default: `ado`
    /// when AZURE_DEVOPS_ORG_URL is set.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source)]
    pub(crate) source: Option<SourceSpec>,
    /// The catalog: `sqlite:PATH` or `port` (as for `apply`).
    #[arg(long, value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// The datasource id writes are stamped with (as for `apply`).
    #[arg(long, value_name = "ID")]
    pub(crate) datasource: Option<String>,
    /// Address to listen on (port 0 picks a free one). Default: `webhook.listen` in
    /// adoport.yaml, else 0.0.0.0:8080.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    /// The durable event queue (and resync history): `sqlite:PATH` for one process, which
    /// also keeps there the incremental cursors and which item each entity came from; or
    /// `nats://HOST:PORT[/NAME]` for replicas sharing NATS JetStream streams (NAME, default
    /// `adoport`, names them): every replica takes events from the one work queue, and the
    /// interval resync runs on the replica holding the resync lease; each replica keeps its
    /// cursors and item records in `.adoport/serve-state.sqlite`. Credentials from
    /// ADOPORT_NATS_TOKEN, or ADOPORT_NATS_USER and ADOPORT_NATS_PASSWORD.
    #[arg(
        long,
        value_name = "sqlite:PATH|nats://HOST:PORT[/NAME]",
        default_value = "sqlite:.adoport/queue.sqlite"
    )]
    pub(crate) queue: String,
    /// This replica's name in the resync lease and the resync records (NATS queue). Default:
    /// the host name and the process id.
    #[arg(long, env = "ADOPORT_REPLICA_ID", value_name = "NAME")]
    pub(crate) replica_id: Option<String>,
    /// NATS queue: how long events taken by a replica that stopped wait before another
    /// replica takes them [default: 30s]. Fixed when the queue is first made.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) ack_wait: Option<Duration>,
    /// NATS queue: how long the resync lease outlives its holder's last renewal [default:
    /// 30s]; a replica takes it over within this plus a third. Keep it below
    /// resync.interval. Fixed when the queue is first made.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) lease_ttl: Option<Duration>,
    /// Accept webhook requests without credentials (only behind something that checks them).
    #[arg(long)]
    pub(crate) insecure_no_webhook_auth: bool,
    /// The public URL of this server's `/webhook`, for `webhook.syncSubscriptions`.
    /// Default: `webhook.url` in adoport.yaml.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// Where a followed branch's objects are kept.
    #[arg(long, default_value = ".adoport/follow", value_name = "DIR")]
    pub(crate) cache_dir: PathBuf,
    /// Signals handed to the handler at once.
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub(crate) batch_size: usize,
    /// Attempts before a signal goes to the dead letters.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub(crate) max_attempts: u32,
    /// The first wait before a failed signal is tried again (doubling each time).
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) retry_base: Duration,
    /// The longest wait between attempts.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) retry_max: Duration,
    /// `/readyz` fails when signals have been due this long and nothing was handled.
    #[arg(long, default_value = "30m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) stuck_after: Duration,
    /// The longest a shutdown (SIGTERM, Ctrl-C) may take.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) shutdown_timeout: Duration,
    /// Show deletes but apply none of them.
    #[arg(long)]
    pub(crate) no_prune: bool,
    /// Delete nothing in a run that would delete more than N entities.
    #[arg(long, value_name = "N")]
    pub(crate) max_deletes: Option<usize>,
}

/// A duration flag: `30s`, `5m`, `1h30m`, `500ms`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    resync::parse_duration(s).map_err(|e| e.to_string())
}

/// The webhook credentials from the environment: ADOPORT_WEBHOOK_SECRET (registered as a
/// secret) and ADOPORT_WEBHOOK_USER.
pub(crate) fn webhook_auth() -> Option<WebhookAuth> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let secret = var("ADOPORT_WEBHOOK_SECRET")?;
    let user =
        var("ADOPORT_WEBHOOK_USER").unwrap_or_else(|| adoport::serve::auth::DEFAULT_USER.into());
    Some(WebhookAuth::new(
        user.trim(),
        adoport::secrets::Secret::new(secret.trim()),
    ))
}

/// The NATS credentials from the environment: ADOPORT_NATS_TOKEN, or ADOPORT_NATS_USER and
/// ADOPORT_NATS_PASSWORD (registered as secrets).
pub(crate) fn nats_auth() -> anyhow::Result<NatsAuth> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Ok(
        match (
            var("ADOPORT_NATS_TOKEN"),
            var("ADOPORT_NATS_USER"),
            var("ADOPORT_NATS_PASSWORD"),
        ) {
            (None, None, None) => NatsAuth::None,
            (Some(token), None, None) => NatsAuth::Token(Secret::new(token.trim())),
            (None, Some(user), Some(password)) => NatsAuth::UserPassword {
                user: user.trim().to_owned(),
                password: Secret::new(password.trim()),
            },
            (Some(_), _, _) => anyhow::bail!(
                "set ADOPORT_NATS_TOKEN or ADOPORT_NATS_USER and ADOPORT_NATS_PASSWORD, not both"
            ),
            _ => anyhow::bail!("ADOPORT_NATS_USER and ADOPORT_NATS_PASSWORD go together"),
        },
    )
}

/// This replica's default name: the host name (a pod's name in Kubernetes) and the pid.
fn default_replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "adoport".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The queue every part uses, and the NATS queue again when it is one (for the lease).
type Opened = (Arc<dyn Queue>, Option<Arc<NatsQueue>>);

/// The queue `--queue` names, opened; for NATS, also the handle the resync lease needs.
fn open_queue(args: &ServeArgs, spec: &QueueSpec) -> anyhow::Result<Opened> {
    match spec {
        QueueSpec::Sqlite(path) => {
            for (given, flag) in [
                (args.ack_wait.is_some(), "--ack-wait"),
                (args.lease_ttl.is_some(), "--lease-ttl"),
            ] {
                if given {
                    anyhow::bail!("{flag} applies to a nats:// queue only (--queue {spec})");
                }
            }
            Ok((Arc::new(SqliteQueue::open(path)?), None))
        }
        QueueSpec::Nats(nats) => {
            let defaults = NatsOptions::default();
            let replica = args
                .replica_id
                .clone()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(default_replica_id);
            let options = NatsOptions {
                replica: Some(replica),
                ack_wait: args.ack_wait.unwrap_or(defaults.ack_wait),
                lease_ttl: args.lease_ttl.unwrap_or(defaults.lease_ttl),
                max_deliveries: args.max_attempts,
                auth: nats_auth()?,
            };
            let queue = Arc::new(NatsQueue::connect(nats, options)?);
            Ok((queue.clone(), Some(queue)))
        }
    }
}

/// Where the incremental cursors and the record of which item each entity came from are
/// kept: beside a SQLite queue, in its database; with NATS, in a database of this replica's
/// own (a replica that did not record an item's entities deletes nothing when the item goes:
/// the next full resync prunes them).
fn serve_state_path(spec: &QueueSpec) -> anyhow::Result<PathBuf> {
    match spec {
        QueueSpec::Sqlite(path) => Ok(path.clone()),
        QueueSpec::Nats(_) => {
            let path = PathBuf::from(".adoport/serve-state.sqlite");
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("could not create {}", dir.display()))?;
            }
            Ok(path)
        }
    }
}

/// The https token for a followed branch, as `apply --follow` reads it.
pub(crate) fn git_token() -> Option<adoport::follow::GitToken> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    var("ADOPORT_GIT_TOKEN").map(|token| {
        let user = var("ADOPORT_GIT_USER").unwrap_or_else(|| "x-access-token".into());
        adoport::follow::GitToken::new(user, token.trim())
    })
}

/// Reads the config the first time: a refused one is printed and is `Err(exit)`.
pub(crate) fn first_config(
    feed: &mut ConfigFeed,
    ctx: &Ctx,
) -> anyhow::Result<Result<Checked, Exit>> {
    match feed.poll().context("could not read the config")? {
        Polled::Passed(checked) => Ok(Ok(*checked)),
        Polled::Refused { label, loaded } => {
            ctx.out.findings(&loaded.diagnostics, &loaded.sources);
            ctx.out.error(&anyhow::anyhow!(
                "the config {label} has lint errors: nothing was started"
            ));
            Ok(Err(Exit::Failure))
        }
        Polled::Unchanged => anyhow::bail!("the config could not be read"),
    }
}

/// The pipeline thread over the source and catalog the flags name.
pub(crate) fn runner(
    checked: Checked,
    source: Option<SourceSpec>,
    target: TargetSpec,
    options: Options,
    traces: Arc<dyn Traces>,
) -> anyhow::Result<Runner> {
    let access = super::access()?;
    let settings = &checked.config.settings;
    let source = SourceSpec::or_default(source, &access)?;
    let catalog = pipeline::open::catalog(&target, settings, &access, OpenMode::ReadWrite)?;
    let opener = Opener {
        source,
        catalog,
        access,
        options,
        traces,
    };
    Runner::start(opener, checked).context("could not start the pipeline thread")
}

pub(crate) fn run(args: ServeArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let auth = webhook_auth();
    if auth.is_none() && !args.insecure_no_webhook_auth {
        anyhow::bail!(
            "set ADOPORT_WEBHOOK_SECRET (and optionally ADOPORT_WEBHOOK_USER) so that only \
             Azure DevOps can post events, or pass --insecure-no-webhook-auth"
        );
    }
    if auth.is_none() {
        tracing::warn!(
            "the webhook accepts requests without credentials (--insecure-no-webhook-auth)"
        );
    }
    let mut feed = ConfigFeed::new(args.config.clone(), &args.cache_dir, git_token());
    let checked = match first_config(&mut feed, ctx)? {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let settings: Settings = checked.config.settings.clone();
    let listen = args
        .listen
        .clone()
        .or_else(|| settings.webhook.listen.clone())
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let spec = QueueSpec::parse(&args.queue)?;
    let (queue, nats) = open_queue(&args, &spec)?;
    let options = Options {
        guards: GuardFlags {
            no_prune: args.no_prune,
            max_deletes: args.max_deletes,
            ..GuardFlags::default()
        },
        ..Options::default()
    };
    let target = TargetSpec {
        target: args.target.clone(),
        datasource: args.datasource.clone(),
    };
    let state_path = serve_state_path(&spec)?;
    let traces = Arc::new(SqliteTraces::open(&state_path)?);
    let cursors = Arc::new(Cursors::open(&state_path)?);
    let runner = runner(checked, args.source.clone(), target, options, traces)?;
    let subscriptions = if settings.webhook.sync_subscriptions == Some(true) {
        let url = args
            .public_url
            .clone()
            .or_else(|| settings.webhook.url.clone())
            .context("webhook.syncSubscriptions needs the public URL: set webhook.url in adoport.yaml or pass --public-url")?;
        let clients =
            pipeline::open::ado_clients(&settings, &super::access()?, ClientOptions::default())?;
        let sync = SyncOptions {
            url,
            projects: settings.webhook.projects.clone(),
            auth: auth.clone(),
            prune: false,
        };
        clients
            .into_iter()
            .map(|client| (client, sync.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let mut state = AppState::new(queue.clone(), auth);
    state.health = Arc::new(Health::new(args.stuck_after));
    state.health.set_config_loaded(true);
    state.health.set_revision(runner.config().revision.clone());
    state.max_body_bytes = settings
        .webhook
        .max_body_bytes
        .map_or(app::DEFAULT_MAX_BODY_BYTES, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
    let worker = Worker {
        queue: queue.clone(),
        handler: Arc::new(EventHandler::new(runner.clone())),
        metrics: state.metrics.clone(),
        health: state.health.clone(),
        wake: state.wake.clone(),
        policy: RetryPolicy {
            base: args.retry_base,
            cap: args.retry_max,
            max_attempts: args.max_attempts,
        },
        batch_size: args.batch_size,
    };
    let resyncer = Resyncer {
        runner,
        queue,
        metrics: state.metrics.clone(),
        health: state.health.clone(),
        feed: Some(Arc::new(Mutex::new(feed))),
        cursors: Some(cursors),
    };
    let options = ServeOptions {
        shutdown_timeout: args.shutdown_timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    runtime.block_on(async {
        let mut server = Server::bind(&listen, state, worker, resyncer, subscriptions, options)
            .await
            .with_context(|| format!("could not listen on {listen}"))?;
        let mut shared = String::new();
        if let Some(nats) = nats
            && let Some(lease) = nats.lease()
        {
            shared = format!(" as replica {}", lease.replica());
            server = server.with_lease(lease, nats);
        }
        let addr = server.local_addr()?;
        ctx.out.status(&format!(
            "listening on {addr} (POST /webhook, GET /, /healthz, /readyz, /metrics); queue {spec}{shared}"
        ));
        server.run(server::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    // The pipeline thread may be in the middle of a run: the process ends it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    ctx.out.status("stopped");
    Ok(Exit::Ok)
}
