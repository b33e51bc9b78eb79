//! `adoport status`: what the queue database of `serve` says (`adoport::serve::status`).

use clap::{Args, ValueEnum};

use adoport::serve::{queue, status};

use super::{Ctx, Exit};

/// Show the state of `adoport serve` from its queue database: signals pending and the
/// oldest's age, dead letters and why they failed, and the last resyncs (when, how long,
/// entities per kind, whether every kind was read completely). Works whether or not serve
/// is running.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The queue `serve` uses: `sqlite:PATH`.
    #[arg(
        long,
        value_name = "sqlite:PATH",
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
    let path = queue::parse_spec(&args.queue)?;
    let status = status::read(&path, args.limit, args.resyncs)?;
    let text = match args.format {
        StatusFormat::Text => status::render_text(&status),
        StatusFormat::Json => serde_json::to_string_pretty(&status)? + "\n",
    };
    ctx.out.data(&text)?;
    Ok(Exit::Ok)
}
