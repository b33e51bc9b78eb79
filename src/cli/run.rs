//! What `plan` and `apply` share: their arguments, turning them into a [`Pipeline`], and
//! how a run's outcome is printed and becomes an exit code.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};

use adoport::catalog::OpenMode;
use adoport::config::{self, ConfigSource};
use adoport::pipeline::{self, Checked, Options, Pipeline, RunSummary, SourceSpec, TargetSpec};
use adoport::reconcile::{Plan, render};
use adoport::sync::GuardFlags;

use super::{Ctx, Exit};

/// The arguments `plan` and `apply` share.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The config: a folder, a single mapping file, or a git revision `git:PATH@REV` (read
    /// from the commit, its id recorded with the plan and in the run history).
    #[arg(long, value_name = "DIR|FILE|git:PATH@REV", default_value = ".")]
    pub(crate) config: ConfigSource,
    /// Where raw items come from: `snapshot:DIR`, a snapshot recorded by
    /// `adoport fetch --out DIR`, or `ado`, the live API (AZURE_DEVOPS_ORG_URL or the
    /// settings' `organizationUrl`/`organizationUrls`, and AZURE_DEVOPS_PAT or an Entra ID
    /// service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET). Default:
    /// `ado` when AZURE_DEVOPS_ORG_URL is set.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source)]
    pub(crate) source: Option<SourceSpec>,
    /// The catalog: `sqlite:PATH`, or `port` (`port:eu`, `port:us`, `port:URL`). Default: the
    /// settings' `catalog`, else `port` when PORT_CLIENT_ID is set, else
    /// `sqlite:.adoport/catalog.sqlite`. Port's API is PORT_BASE_URL, else the settings'
    /// `port.baseUrl`, else their `port.region` (`eu` or `us`).
    #[arg(long, value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Output format: `text` for terminals, `markdown` for PR comments, `json` for machines
    /// (documented in docs/plan-json.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Show deletes but apply none of them.
    #[arg(long)]
    pub(crate) no_prune: bool,
    /// Delete nothing when more than N entities would be deleted.
    #[arg(long, value_name = "N")]
    pub(crate) max_deletes: Option<usize>,
    /// Allow one run to delete every entity of this kind's blueprints (or of this
    /// blueprint), which is otherwise refused for a blueprint the mapping still writes.
    /// Repeat, or separate with commas; `*` allows every blueprint.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub(crate) allow_empty_kind: Vec<String>,
    /// Take over entities another datasource wrote under keys the mapping produces
    /// (re-stamped as ours, then updated and pruned as ours). Without it they are left
    /// alone and listed in the plan.
    #[arg(long)]
    pub(crate) adopt: bool,
    /// Delete blueprints the config repository once declared (in its git history) and
    /// declares no more, after their entities, and remove the properties, relations and other
    /// entries a declared blueprint no longer lists. Without it, blueprints are created and
    /// updated but never deleted, and dropped entries are kept (the plan lists them). A
    /// blueprint the mapping still writes, that keeps entities, or that a remaining blueprint
    /// relates to is never deleted.
    #[arg(long)]
    pub(crate) prune_blueprints: bool,
    /// Exit 1 when any item failed the mapping (a field that raised an error, an item the
    /// selector could not judge), not only on errors of the run itself.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Write the output to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The datasource id writes are stamped with; only entities carrying it are compared and
    /// deleted. Default: the settings file's `datasource`, else `adoport`.
    #[arg(long, value_name = "ID")]
    pub(crate) datasource: Option<String>,
}

/// How plans and reports are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable, coloured on a terminal.
    Text,
    /// Markdown for a pull-request comment (collapsible, truncated under 60,000 characters).
    Markdown,
    /// Stable JSON (docs/plan-json.md).
    Json,
}

/// `--source` as clap parses it.
pub(crate) fn parse_source(s: &str) -> Result<SourceSpec, String> {
    s.parse().map_err(|e: pipeline::open::Error| e.to_string())
}

impl RunArgs {
    /// The guards and write settings the flags ask for.
    pub(crate) fn options(&self) -> Options {
        Options {
            guards: GuardFlags {
                no_prune: self.no_prune,
                max_deletes: self.max_deletes,
                allow_empty_kinds: self.allow_empty_kind.clone(),
                adopt: self.adopt,
                prune_blueprints: self.prune_blueprints,
            },
            ..Options::default()
        }
    }

    /// The catalog the flags name.
    pub(crate) fn target(&self) -> TargetSpec {
        TargetSpec {
            target: self.target.clone(),
            datasource: self.datasource.clone(),
        }
    }

    /// A pipeline over the source and catalog the flags (and `settings`) name.
    pub(crate) fn pipeline(
        &self,
        settings: &config::Settings,
        mode: OpenMode,
        options: Options,
    ) -> anyhow::Result<Pipeline> {
        let access = super::access()?;
        let source = SourceSpec::or_default(self.source.clone(), &access)?;
        let items = pipeline::open::items(&source, settings, &access)?;
        let catalog = pipeline::open::catalog(&self.target(), settings, &access, mode)?;
        Ok(Pipeline::new(items, Some(catalog), &access, options)?)
    }

    /// Colour only for text on a terminal, never into a file.
    pub(crate) fn color(&self, ctx: &Ctx) -> bool {
        self.out.is_none() && self.format == Format::Text && ctx.out.color()
    }
}

/// Loads the config through the lint gate; a refused config is printed (as `lint` prints
/// it, on stderr; and as the requested format on stdout for markdown and JSON, so a PR
/// comment says why) and is `Err(exit)`.
pub(crate) fn checked(
    source: &ConfigSource,
    what: &str,
    args: &RunArgs,
    ctx: &Ctx,
) -> anyhow::Result<Result<Checked, Exit>> {
    let gate = pipeline::load(source).with_context(|| format!("could not read {what}"))?;
    gated(gate, what, args, ctx)
}

/// [`checked`] for a gate already run.
pub(crate) fn gated(
    gate: pipeline::Gate,
    what: &str,
    args: &RunArgs,
    ctx: &Ctx,
) -> anyhow::Result<Result<Checked, Exit>> {
    match gate {
        pipeline::Gate::Passed(checked) => {
            let warnings = checked.warnings.len();
            if warnings > 0 {
                ctx.out.status(&format!(
                    "{what} has {} (`adoport lint` shows them)",
                    render::count(warnings, "lint warning")
                ));
            }
            Ok(Ok(*checked))
        }
        pipeline::Gate::Refused(loaded) => {
            ctx.out.findings(&loaded.diagnostics, &loaded.sources);
            let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
            let headline = format!(
                "{what} has {}: nothing was planned or written",
                render::count(errors, "lint error")
            );
            let document = match args.format {
                Format::Text => None,
                Format::Markdown => Some(adoport::review::render::refused_markdown(
                    &headline,
                    &loaded.diagnostics,
                    &loaded.sources,
                )),
                Format::Json => Some(
                    serde_json::to_string_pretty(&serde_json::json!({
                        "error": headline,
                        "findings": serde_json::from_str::<serde_json::Value>(&config::render::json(&loaded.diagnostics))?,
                    }))? + "\n",
                ),
            };
            if let Some(doc) = document {
                emit(ctx, args.out.as_deref(), &doc)?;
            }
            ctx.out.error(&anyhow::anyhow!(headline));
            Ok(Err(Exit::Failure))
        }
    }
}

/// Prints a run's notes and says whether they fail it: `--strict` with item failures, or a
/// kind Azure DevOps refused the credentials for.
pub(crate) fn report(summary: &RunSummary, strict: bool, ctx: &Ctx) -> bool {
    ctx.out.notes(&summary.notes());
    let failures = summary.item_failures();
    if strict && failures > 0 {
        ctx.out.error(&anyhow::anyhow!(
            "--strict: {} failed the mapping",
            render::count(failures, "item")
        ));
        return true;
    }
    !summary.unauthorized.is_empty()
}

pub(crate) fn render_plan(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Text => render::text::render(plan, color),
        Format::Markdown => render::markdown::render(plan),
        Format::Json => render::json::render(plan),
    }
}

/// Writes `text` to `out` when given, else to stdout.
pub(crate) fn emit(ctx: &Ctx, out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write {}", path.display())),
        None => Ok(ctx.out.data(text)?),
    }
}
