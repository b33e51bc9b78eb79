//! `adoport plan`: what `apply` would change in the catalog, entity by entity and field by
//! field, without writing anything. Exits 0 with no changes, 2 with changes, 1 on error
//! (Terraform's `-detailed-exitcode`), so CI can tell them apart. With `--base`, a review of
//! a mapping change between two revisions (`review`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use adoport::ado::{
    AdoSource, Client, ClientOptions, OrgUrl, Pat, Snapshot, Source, SourceOptions,
};
use adoport::catalog::Catalog;
use adoport::config::{self, ConfigSource};
use adoport::desired::{Evaluator, Items, LiveItems, Mapper, MappingMapper, SnapshotItems};
use adoport::jq::Engine;
use adoport::reconcile::{self, Plan, render};
use adoport::review::{self, Actual, SideLoad};
use adoport::sync::{self, GuardFlags};

use super::{Ctx, Exit, catalog_target};

/// Show what `apply` would create, update (field by field) and delete in the catalog.
///
/// Reads the config, maps the source's items, and compares the result with the entities the
/// catalog holds under this datasource. Writes nothing. Exits 0 when there is nothing to do,
/// 2 when there are changes, 1 on error.
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

/// The arguments `plan` and `apply` share.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The config: a folder, a single mapping file, or a git revision `git:PATH@REV` (read
    /// from the commit, its id recorded with the plan and in the run history).
    #[arg(long, value_name = "DIR|FILE|git:PATH@REV", default_value = ".")]
    pub(crate) config: ConfigSource,
    /// Where raw items come from: `snapshot:DIR`, a snapshot recorded by
    /// `adoport fetch --out DIR`, or `ado`, the live API (AZURE_DEVOPS_ORG_URL or the
    /// settings' `organizationUrl`, and AZURE_DEVOPS_PAT). Default: `ado` when
    /// AZURE_DEVOPS_ORG_URL is set.
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
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
    if let Some(base) = &args.base {
        return run_review(&args, base, ctx);
    }
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
    let (loaded, commit) = args.config.load()?;
    let Some(cfg) = loaded.config.as_ref().filter(|_| !loaded.has_errors()) else {
        let text = config::render::text(&loaded.diagnostics, &loaded.sources, ctx.out.color());
        ctx.out.status(&text);
        bail!(
            "the config at {} has errors; `adoport lint` explains each",
            args.config
        );
    };
    let mut items = items(&args.source()?, &cfg.settings)?;
    // A folder inside a git checkout is labelled with the checked-out commit.
    let revision = commit.or_else(|| config::git::resolve(args.config.path(), "HEAD").ok());
    let evaluation = Evaluator::new(mapper(&cfg.settings)).evaluate(cfg, revision, &mut *items);
    for r in &evaluation.resources {
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
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
            evaluation.desired,
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

/// `plan --base`: load both sides, map both over the same items, compare, render.
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
    let head = match review::load_side(&head_source, head_label)? {
        SideLoad::Ready(side) => *side,
        SideLoad::Invalid(loaded) => {
            show_invalid(ctx, "the config", &loaded)?;
            return Ok(Exit::Failure);
        }
    };
    let base = match review::load_base(&run.config.at_revision(base_rev), base_rev)? {
        SideLoad::Ready(side) => *side,
        SideLoad::Invalid(loaded) => {
            show_invalid(ctx, &format!("the base revision `{base_rev}`"), &loaded)?;
            return Ok(Exit::Failure);
        }
    };
    let settings = &head.config.settings;
    let mut items = items(&run.source()?, settings)?;
    let actual = if args.no_catalog {
        None
    } else {
        let datasource = run
            .datasource
            .clone()
            .unwrap_or_else(|| settings.datasource().to_owned());
        let target = run.target.as_deref().or(settings.catalog.as_deref());
        let catalog = catalog_target::open_catalog(target, &datasource)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the async runtime")?;
        let entities = runtime
            .block_on(catalog.list_owned())
            .with_context(|| format!("could not read the catalog {}", catalog.describe()))?;
        Some(Actual {
            entities,
            describe: catalog.describe(),
        })
    };
    let flags = GuardFlags {
        no_prune: run.no_prune,
        max_deletes: run.max_deletes,
    };
    let review = review::review(
        &base,
        &head,
        items.as_mut(),
        mapper(settings),
        actual,
        flags,
    );
    let text = match run.format {
        Format::Text => review::render::text(&review, color(run, ctx)),
        Format::Markdown => review::render::markdown(&review),
        Format::Json => serde_json::to_string_pretty(&review)? + "\n",
    };
    emit(ctx, run.out.as_deref(), &text)?;
    Ok(if review.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// Prints a config's findings (for a side that does not lint clean).
fn show_invalid(ctx: &Ctx, what: &str, loaded: &config::Loaded) -> anyhow::Result<()> {
    ctx.out.status(&format!("{what} has errors:"));
    let text = config::render::text(&loaded.diagnostics, &loaded.sources, ctx.out.color());
    ctx.out.data(&text)?;
    Ok(())
}

/// The mapper every evaluation uses, its jq engine set up as `settings` ask (allow-listed
/// environment variables, limits).
pub(crate) fn mapper(settings: &config::Settings) -> Arc<dyn Mapper> {
    let options = super::map::engine_options(&settings.jq);
    Arc::new(MappingMapper::new(Engine::new(options)))
}

/// Raw items for `plan`, `apply`, `watch`, `plan --base` and `apply --follow`, each listing
/// read on first use and kept: a snapshot kind by kind, the live API per (kind, selector).
pub(crate) fn items(spec: &str, settings: &config::Settings) -> anyhow::Result<Box<dyn Items>> {
    if let Some(dir) = spec.strip_prefix("snapshot:").filter(|d| !d.is_empty()) {
        let snapshot =
            Snapshot::open(dir).with_context(|| format!("could not open the snapshot {dir}"))?;
        return Ok(Box::new(SnapshotItems::new(snapshot)));
    }
    let source = open_source(spec, settings)?;
    Ok(Box::new(LiveItems::new(Arc::from(source))?))
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

impl RunArgs {
    /// `--source`, or `ado` when AZURE_DEVOPS_ORG_URL says which organization to read.
    pub(crate) fn source(&self) -> anyhow::Result<String> {
        if let Some(spec) = &self.source {
            return Ok(spec.clone());
        }
        match std::env::var("AZURE_DEVOPS_ORG_URL") {
            Ok(url) if !url.trim().is_empty() => Ok("ado".to_owned()),
            _ => bail!(
                "say where items come from: --source snapshot:DIR (recorded by `adoport fetch`), or --source ado with AZURE_DEVOPS_ORG_URL and AZURE_DEVOPS_PAT set"
            ),
        }
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
