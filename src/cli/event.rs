//! `adoport event replay`: one service-hook payload through the same signal → handler path
//! `serve` uses, offline, printing what it did.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use adoport::config::ConfigSource;
use adoport::pipeline::{self, Options, SourceSpec, TargetSpec};
use adoport::reconcile::render;
use adoport::serve::events::{self, Envelope};
use adoport::serve::handler::EventHandler;
use adoport::serve::worker::Outcome;

use super::run::parse_source;
use super::{Ctx, Exit};

/// Work with service-hook events.
#[derive(Debug, Args)]
pub(crate) struct EventArgs {
    #[command(subcommand)]
    pub(crate) command: EventCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventCommand {
    /// Run one payload (as ADO posts it; examples/webhooks/ has one per event type) through
    /// the signals serve derives from it and the handler serve uses: prints the signals, the
    /// plan, what was applied, and each signal's outcome. With a snapshot source it runs
    /// offline: a way to try a mapping against an event. Offline, no earlier run recorded
    /// which item each entity came from, so an event whose item is gone deletes nothing
    /// (serve, which records them, deletes its entities).
    Replay(ReplayArgs),
}

/// `event replay` flags.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The payload: a JSON file with the service-hook envelope.
    pub(crate) file: PathBuf,
    /// The config: a folder, a mapping file, or `git:PATH@REV`.
    #[arg(long, value_name = "DIR|FILE|git:PATH@REV", default_value = ".")]
    pub(crate) config: ConfigSource,
    /// Where raw items come from: `snapshot:DIR` or `ado`.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source)]
    pub(crate) source: Option<SourceSpec>,
    /// The catalog: `sqlite:PATH` or `port`.
    #[arg(long, value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// The datasource id writes are stamped with.
    #[arg(long, value_name = "ID")]
    pub(crate) datasource: Option<String>,
    /// Plan only: write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

pub(crate) fn run(args: EventArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let EventCommand::Replay(args) = args.command;
    let body = std::fs::read(&args.file)
        .with_context(|| format!("could not read {}", args.file.display()))?;
    let envelope = Envelope::parse(&body)
        .with_context(|| format!("{} is not a service-hook event", args.file.display()))?;
    let Some(event_type) = events::find(&envelope.event_type) else {
        ctx.out.data(&format!(
            "adoport does not handle event type {}: serve answers 202 and ignores it\n",
            envelope.event_type
        ))?;
        return Ok(Exit::Ok);
    };
    let signals = event_type.signals(&envelope);
    let mut text = format!(
        "event {} ({}): {} signals\n",
        event_type.name,
        event_type.publisher.id(),
        signals.len()
    );
    for s in &signals {
        let locator = serde_json::to_string(&s.locator)?;
        let deleted = if s.deleted { " (deleted)" } else { "" };
        text.push_str(&format!("  {} {locator}{deleted}\n", s.kind));
    }
    ctx.out.data(&text)?;
    let checked = match pipeline::load(&args.config).context("could not read the config")? {
        pipeline::Gate::Passed(checked) => *checked,
        pipeline::Gate::Refused(loaded) => {
            ctx.out.findings(&loaded.diagnostics, &loaded.sources);
            anyhow::bail!("the config has lint errors: nothing was planned or written");
        }
    };
    let target = TargetSpec {
        target: args.target.clone(),
        datasource: args.datasource.clone(),
    };
    // Offline, no earlier run recorded which item each entity came from: an event whose item
    // is gone finds no entity to delete; one whose item exists is handled in full.
    let runner = super::serve::runner(
        checked,
        args.source.clone(),
        target,
        Options::default(),
        std::sync::Arc::new(adoport::pipeline::NoOrigins),
    )?;
    let handler = if args.dry_run {
        EventHandler::planning_only(runner)
    } else {
        EventHandler::new(runner)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    let (handled, run) = runtime.block_on(handler.handle_run(&signals))?;
    let color = ctx.out.color();
    let mut text = render::text::render(&run.planned.plan, color);
    if let Some(report) = &run.report {
        text.push('\n');
        text.push_str(&render::text::render_report(report, color));
    }
    text.push_str("\noutcomes:\n");
    for (signal, outcome) in signals.iter().zip(&handled.outcomes) {
        let outcome = match outcome {
            Outcome::Done => "done".to_owned(),
            Outcome::Skipped(why) => format!("skipped: {why}"),
            Outcome::Retry(why) => format!("would be retried: {why}"),
            Outcome::Refused(why) => format!("refused: {why}"),
        };
        text.push_str(&format!("  {}: {outcome}\n", signal.kind));
    }
    ctx.out.notes(&run.planned.summary.notes());
    ctx.out.data(&text)?;
    Ok(Exit::Ok)
}
