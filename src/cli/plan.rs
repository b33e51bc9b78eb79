//! `adoport plan`: what `apply` would change in the catalog, entity by entity and field by
//! field, without writing anything. Exits 0 with no changes, 2 with changes, 1 on error
//! (Terraform's `-detailed-exitcode`), so CI can tell them apart. With `--base`, a review of
//! a mapping change between two revisions.

use clap::Args;

use adoport::catalog::OpenMode;
use adoport::config::ConfigSource;
use adoport::pipeline::{self, Pipeline, SourceSpec};
use adoport::review;

use super::run::{Format, RunArgs, checked, emit, gated, render_plan, report};
use super::{Ctx, Exit};

/// Show what `apply` would create, update (field by field) and delete in the catalog.
///
/// Reads the config, refuses it when it has lint errors (exit 1, the findings as `adoport
/// lint` prints them), maps the source's items, and compares the result with the entities
/// the catalog holds under this datasource. Writes nothing (a SQLite catalog that does not
/// exist yet is not created). Items that failed the mapping are summed up on stderr after
/// the plan. Exits 0 when there is nothing to do, 2 when there are changes, 1 on error
/// (and, with `--strict`, when any item failed the mapping).
///
/// With `--base REV`, review a mapping change instead (for pull requests): what changed in
/// the mapping files, what the change does to the entities (head against base over the same
/// source data), and what applying head to the catalog would do.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Review a change against this revision of the config repository (`origin/main`, a tag,
    /// a commit); the repository is the one `--config` names.
    #[arg(long, value_name = "REV")]
    pub(crate) base: Option<String>,
    /// The change's revision (default: `--config` as given: the work tree, or its revision).
    #[arg(long, value_name = "REV", requires = "base")]
    pub(crate) head: Option<String>,
    /// With `--base`: leave out what applying head to the catalog would do.
    #[arg(long, requires = "base")]
    pub(crate) no_catalog: bool,
}

pub(crate) fn run(args: PlanArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    if let Some(base) = &args.base {
        return run_review(&args, base, ctx);
    }
    let run = &args.run;
    let checked = match checked(&run.config, "the config", run, ctx)? {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let mut pipeline = run.pipeline(&checked.config.settings, OpenMode::ReadOnly, run.options())?;
    let planned = pipeline.plan(&checked)?;
    emit(
        ctx,
        run.out.as_deref(),
        &render_plan(&planned.plan, run.format, run.color(ctx))?,
    )?;
    Ok(if report(&planned.summary, run.strict, ctx) {
        Exit::Failure
    } else if planned.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// `plan --base`: both revisions through the lint gate, mapped over the same items, then
/// compared (and head planned against the catalog unless `--no-catalog`).
fn run_review(args: &PlanArgs, base_rev: &str, ctx: &Ctx) -> anyhow::Result<Exit> {
    let run = &args.run;
    let head_source = match &args.head {
        Some(rev) => run.config.at_revision(rev),
        None => run.config.clone(),
    };
    let head_label = match (&args.head, &head_source) {
        (Some(rev), _) => rev.clone(),
        (None, ConfigSource::Git { rev, .. }) => rev.clone(),
        (None, ConfigSource::Path(_)) => "work tree".to_string(),
    };
    let head = match checked(&head_source, "the config", run, ctx)? {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let base_source = run.config.at_revision(base_rev);
    let base_gate = pipeline::load_base(&base_source)?;
    let base = match gated(
        base_gate,
        &format!("the base revision `{base_rev}`"),
        run,
        ctx,
    )? {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let settings = &head.config.settings;
    let access = super::access()?;
    let source = SourceSpec::or_default(run.source.clone(), &access)?;
    let items = pipeline::open::items(&source, settings, &access)?;
    let catalog = if args.no_catalog {
        None
    } else {
        Some(pipeline::open::catalog(
            &run.target(),
            settings,
            &access,
            OpenMode::ReadOnly,
        )?)
    };
    let mut pipeline = Pipeline::new(items, catalog, &access, run.options())?;
    let reviewed = pipeline.review(&base, base_rev, &head, &head_label)?;
    let text = match run.format {
        Format::Text => review::render::text(&reviewed.review, run.color(ctx)),
        Format::Markdown => review::render::markdown(&reviewed.review),
        Format::Json => serde_json::to_string_pretty(&reviewed.review)? + "\n",
    };
    emit(ctx, run.out.as_deref(), &text)?;
    Ok(if report(&reviewed.summary, run.strict, ctx) {
        Exit::Failure
    } else if reviewed.review.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}
