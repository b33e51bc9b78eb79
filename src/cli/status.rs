//! `adoport status`: what the queue database of `serve` says (`adoport::serve::status`).

use clap::{Args, ValueEnum};

use adoport::serve::nats::NatsQueue;
use adoport::serve::queue::{Queue, QueueSpec};
use adoport::serve::status;

use super::{Ctx, Exit};

/// Show the state of `adoport serve` from its queue: signals pending and the oldest's age,
/// dead letters and why they failed, the last resyncs (when, how long, entities per kind,
/// whether every kind was read completely, and on which replica) and, for a NATS queue,
/// which replica holds the resync lease. Works whether or not serve is running.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The queue `serve` uses: `sqlite:PATH`, or `nats://HOST:PORT[/NAME]` (credentials
    /// from ADOPORT_NATS_TOKEN, or ADOPORT_NATS_USER and ADOPORT_NATS_PASSWORD).
    #[arg(
        long,
        value_name = "sqlite:PATH|nats://HOST:PORT[/NAME]",
        default_value = "sqlite:.adoport/queue.sqlite"
    )]
    pub(crate) queue: String,
    /// How many waiting signals and dead letters to show.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub(crate) limit: usize,
    /// How many resyncs to show, newest first.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) resyncs: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub(crate) format: StatusFormat,
}

/// How `status` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    /// For people.
    Text,
    /// One JSON object.
    Json,
}

pub(crate) fn run(args: StatusArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let status = match QueueSpec::parse(&args.queue)? {
        QueueSpec::Sqlite(path) => status::read(&path, args.limit, args.resyncs)?,
        QueueSpec::Nats(spec) => NatsQueue::inspect(&spec, super::serve::nats_auth()?)?
            .status(args.limit, args.resyncs)?,
    };
    let text = match args.format {
        StatusFormat::Text => status::render_text(&status),
        StatusFormat::Json => serde_json::to_string_pretty(&status)? + "\n",
    };
    ctx.out.data(&text)?;
    Ok(Exit::Ok)
}
