//! `adoport apply`: plan, print the plan, execute it against the catalog, print what was
//! done. Exits 0 when everything was applied, 1 otherwise.

use clap::Args;

use adoport::reconcile::{ApplyOptions, apply, render};

use super::plan::{Format, RunArgs, color, emit, prepare, render_plan};
use super::{Ctx, Exit};

/// Apply the mapping to the catalog: create, update and delete what `plan` shows.
///
/// Prints the plan it executes, then a summary. Deletes held back by a guard (an incomplete
/// kind, `entityDeletionThreshold`, `--max-deletes`, `--no-prune`) are not applied. A failed
/// entity or batch does not stop the run; it is reported, and the exit code is 1.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Catalog calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) concurrency: usize,
}

pub(crate) fn run(args: ApplyArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let prepared = prepare(&args.run, ctx)?;
    let color = color(&args.run, ctx);
    let (plan, catalog, runtime) = (&prepared.plan, &prepared.catalog, &prepared.runtime);
    let mut text = String::new();
    if args.run.format != Format::Json {
        text.push_str(&render_plan(plan, args.run.format, color));
        if args.run.out.is_none() {
            emit(ctx, None, &text)?;
            text.clear();
        }
    }
    let options = ApplyOptions {
        concurrency: args.concurrency.max(1),
    };
    let report = runtime.block_on(apply(plan, &**catalog, options));
    let summary = match args.run.format {
        Format::Text => format!("\n{}", render::text::render_report(&report, color)),
        Format::Markdown => format!("\n{}", render::markdown::render_report(&report)),
        Format::Json => render::json::render_report(plan, &report),
    };
    text.push_str(&summary);
    emit(ctx, args.run.out.as_deref(), &text)?;
    Ok(if report.is_success() {
        Exit::Ok
    } else {
        Exit::Failure
    })
}
