//! `adoport plan`: what `apply` would change in the catalog, entity by entity and field by
//! field, without writing anything. Exits 0 with no changes, 2 with changes, 1 on error
//! (Terraform's `-detailed-exitcode`), so CI can tell them apart.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use adoport::ado::{
    AdoSource, Client, ClientOptions, OrgUrl, Pat, Snapshot, Source, SourceOptions,
};
use adoport::catalog::Catalog;
use adoport::config;
use adoport::jq::Engine;
use adoport::reconcile::{self, Plan, render};
use adoport::sync::{self, GuardFlags};

use super::{Ctx, Exit, catalog_target};

/// Show what `apply` would create, update (field by field) and delete in the catalog.
///
/// Reads the config, maps the source's items, and compares the result with the entities the
/// catalog holds under this datasource. Writes nothing. Exits 0 when there is nothing to do,
/// 2 when there are changes, 1 on error.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// The arguments `plan` and `apply` share.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The config repo folder (or a single mapping file).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub(crate) config: PathBuf,
    /// Where raw items come from: `snapshot:DIR`, a snapshot recorded by
    /// `adoport fetch --out DIR`, or `ado`, the live API (AZURE_DEVOPS_ORG_URL or the
    /// settings' `organizationUrl`, and AZURE_DEVOPS_PAT).
    #[arg(long, value_name = "SOURCE")]
    pub(crate) source: String,
    /// The catalog: `sqlite:PATH`, or `port` (`port:eu`, `port:us`, `port:URL`). Default: the
    /// settings file's `catalog`, else `port` when PORT_CLIENT_ID is set, else
    /// `sqlite:.adoport/catalog.sqlite`.
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

/// A plan ready to render or apply, with what applying it needs.
pub(crate) struct Prepared {
    pub(crate) plan: Plan,
    pub(crate) catalog: Box<dyn Catalog>,
    pub(crate) runtime: tokio::runtime::Runtime,
}

pub(crate) fn run(args: PlanArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let prepared = prepare(&args.run, ctx)?;
    let text = render_plan(&prepared.plan, args.run.format, color(&args.run, ctx));
    emit(ctx, args.run.out.as_deref(), &text)?;
    Ok(if prepared.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// Config → source → mapping → desired state → catalog → plan.
pub(crate) fn prepare(args: &RunArgs, ctx: &Ctx) -> anyhow::Result<Prepared> {
    let loaded = config::load(&args.config)?;
    let Some(cfg) = loaded.config.as_ref().filter(|_| !loaded.has_errors()) else {
        let text = config::render::text(&loaded.diagnostics, &loaded.sources, ctx.out.color());
        ctx.out.status(&text);
        bail!(
            "the config at {} has errors; `adoport lint` explains each",
            args.config.display()
        );
    };
    let source = open_source(&args.source, &cfg.settings)?;
    let engine = Engine::new(super::map::engine_options(&cfg.settings.jq));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let revision = sync::git_revision(&args.config);
    let prepared = runtime.block_on(sync::desired_state(cfg, &*source, &engine, revision));
    for r in &prepared.resources {
        if let Some(why) = &r.incomplete {
            ctx.out.status(&format!(
                "warning: resource {} ({}): the listing is incomplete ({why}); its blueprints delete nothing",
                r.index, r.kind
            ));
        }
        if r.item_errors > 0 {
            ctx.out.status(&format!(
                "warning: resource {} ({}): {} items failed the mapping; its blueprints delete nothing (`adoport lint`, `adoport map` show why)",
                r.index, r.kind, r.item_errors
            ));
        }
        if r.searched > 0 {
            ctx.out.status(&format!(
                "note: resource {} ({}): {} entities are identified by a search query; Port resolves those, so they are not planned",
                r.index, r.kind, r.searched
            ));
        }
    }
    let datasource = args
        .datasource
        .clone()
        .unwrap_or_else(|| cfg.settings.datasource().to_owned());
    let target = args.target.as_deref().or(cfg.settings.catalog.as_deref());
    let catalog = catalog_target::open_catalog(target, &datasource)?;
    let guards = sync::guards(
        cfg,
        GuardFlags {
            no_prune: args.no_prune,
            max_deletes: args.max_deletes,
        },
    );
    let plan = runtime
        .block_on(reconcile::plan_catalog(
            prepared.desired,
            &*catalog,
            &guards,
        ))
        .with_context(|| format!("could not read the catalog {}", catalog.describe()))?;
    Ok(Prepared {
        plan,
        catalog,
        runtime,
    })
}

/// The source `--source` names: `snapshot:DIR`, or `ado` (the live REST API, from
/// `AZURE_DEVOPS_ORG_URL` or the settings' `organizationUrl`, and `AZURE_DEVOPS_PAT`).
fn open_source(spec: &str, settings: &config::Settings) -> anyhow::Result<Box<dyn Source>> {
    match spec.split_once(':') {
        Some(("snapshot", dir)) if !dir.is_empty() => {
            Ok(Box::new(Snapshot::open(dir).with_context(|| {
                format!("could not open the snapshot {dir}")
            })?))
        }
        None if spec == "ado" => {
            let org = std::env::var("AZURE_DEVOPS_ORG_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| settings.organization_url.clone())
                .context(
                    "set AZURE_DEVOPS_ORG_URL (or organizationUrl in adoport.yaml) for --source ado",
                )?;
            let pat = std::env::var("AZURE_DEVOPS_PAT")
                .ok()
                .filter(|s| !s.is_empty())
                .context("set AZURE_DEVOPS_PAT to a personal access token with read scopes")?;
            let client = Client::new(
                OrgUrl::parse(&org)?,
                &Pat::new(pat),
                ClientOptions::default(),
            )?;
            Ok(Box::new(AdoSource::new(client, SourceOptions::default())))
        }
        _ => bail!("unknown source {spec:?}; use snapshot:DIR or ado"),
    }
}

/// Colour only for text on a terminal, never into a file.
pub(crate) fn color(args: &RunArgs, ctx: &Ctx) -> bool {
    args.out.is_none() && args.format == Format::Text && ctx.out.color()
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
