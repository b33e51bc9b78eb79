//! `adoport plan`: what `apply` would change, and with `--base`, what a pull request's
//! mapping change does (mapping diff, effect on entities, head's plan against the catalog).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use adoport::ado::{Client, ClientOptions, OrgUrl, Pat, Snapshot};
use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::config::{self, ConfigSource};
use adoport::desired::{Evaluator, Items, LiveItems, Mapper, MappingMapper, SnapshotItems};
use adoport::reconcile::{self, render};
use adoport::review::{self, Actual, SideLoad};

use super::{Ctx, Exit};

/// Show what `apply` would create, update and delete, without writing anything.
///
/// With `--base REV`, review a mapping change instead (for pull requests): what changed in
/// the mapping files, what the change does to the entities (head against base over the same
/// source data), and what applying head to the catalog would do.
///
/// Exits 0 when nothing would change, 2 when something would, 1 on errors (Terraform's
/// `-detailed-exitcode`).
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The config: a folder, a mapping file, or a git revision `git:PATH@REV`.
    #[arg(long, default_value = ".", value_name = "DIR|FILE|git:PATH@REV")]
    pub(crate) config: ConfigSource,
    /// Where raw items come from: `ado` (AZURE_DEVOPS_ORG_URL or the settings'
    /// organizationUrl, and AZURE_DEVOPS_PAT) or `snapshot:DIR` (recorded by `adoport fetch`).
    #[arg(long, default_value = "ado", value_name = "ado|snapshot:DIR")]
    pub(crate) source: SourceArg,
    /// The catalog: `sqlite:PATH`, `port`, `port:eu`, `port:us` or `port:URL`. Default: `port`
    /// when PORT_CLIENT_ID and PORT_CLIENT_SECRET are set, else `sqlite:.adoport/catalog.sqlite`.
    #[arg(long, value_name = "TARGET")]
    pub(crate) catalog: Option<String>,
    /// Output format: `markdown` is a pull-request comment under 60,000 characters.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Review a change against this revision of the config repository (`origin/main`, a tag,
    /// a commit): the repository is the one `--config` names.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// The change's revision (default: `--config` as it is, the work tree or its revision).
    #[arg(long, value_name = "REV", requires = "base")]
    head: Option<String>,
    /// With `--base`: leave out what applying head to the catalog would do.
    #[arg(long, requires = "base")]
    no_catalog: bool,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people at a terminal or reading a CI log.
    Text,
    /// A pull-request comment: summary line first, details collapsible, size-bounded.
    Markdown,
    /// Stable machine-readable JSON (see docs/plan-json.md).
    Json,
}

/// Where raw items come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SourceArg {
    /// The Azure DevOps REST API.
    Ado,
    /// A recorded snapshot folder.
    Snapshot(PathBuf),
}

impl std::str::FromStr for SourceArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "ado" => Ok(SourceArg::Ado),
            Some(("snapshot", dir)) if !dir.is_empty() => Ok(SourceArg::Snapshot(dir.into())),
            _ => Err(format!("`{s}`: use `ado` or `snapshot:DIR`")),
        }
    }
}

/// The mapper every subcommand evaluates with, its jq engine set up as `settings` ask
/// (allow-listed environment variables, limits).
pub(crate) fn mapper(settings: &config::Settings) -> Arc<dyn Mapper> {
    let options = super::map::engine_options(&settings.jq);
    Arc::new(MappingMapper::new(adoport::jq::Engine::new(options)))
}

/// Raw items from `source`, read on first use and kept: a snapshot kind by kind, the live
/// API per (kind, selector). `configs` supply the organization URL when the environment
/// does not.
pub(crate) fn items(
    source: &SourceArg,
    configs: &[&config::Config],
) -> anyhow::Result<Box<dyn Items>> {
    match source {
        SourceArg::Snapshot(dir) => {
            let snapshot = Snapshot::open(dir)
                .with_context(|| format!("could not open the snapshot {}", dir.display()))?;
            Ok(Box::new(SnapshotItems::new(snapshot)))
        }
        SourceArg::Ado => {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let url = var("AZURE_DEVOPS_ORG_URL")
                .or_else(|| {
                    configs
                        .first()
                        .and_then(|c| c.settings.organization_url.clone())
                })
                .context("set AZURE_DEVOPS_ORG_URL (or organizationUrl in adoport.yaml), or use --source snapshot:DIR")?;
            let pat =
                var("AZURE_DEVOPS_PAT").context("set AZURE_DEVOPS_PAT to read Azure DevOps")?;
            let org = OrgUrl::parse(url.trim())
                .context("AZURE_DEVOPS_ORG_URL is not an organization URL")?;
            let client = Client::new(org, &Pat::new(pat.trim()), ClientOptions::default())?;
            let source = adoport::ado::AdoSource::new(client, Default::default());
            Ok(Box::new(LiveItems::new(Arc::new(source))?))
        }
    }
}

/// Opens the catalog `target` names for `datasource` (`sqlite:PATH` directly, the rest
/// through `catalog::open`).
pub(crate) fn open_catalog(
    target: Option<&str>,
    datasource: &str,
) -> anyhow::Result<Box<dyn Catalog>> {
    let access = super::catalog_target::port_access_from_env()?;
    let target =
        target.unwrap_or_else(|| adoport::catalog::target::default_target(access.is_some()));
    if let Some(path) = target.strip_prefix("sqlite:") {
        if path.is_empty() {
            bail!("the sqlite target needs a path, as in sqlite:.adoport/catalog.sqlite");
        }
        return Ok(Box::new(SqliteCatalog::open(path, datasource)?));
    }
    super::catalog_target::open_catalog(Some(target), datasource)
}

/// Prints a config's findings (for a side that does not lint clean).
fn show_invalid(ctx: &Ctx, what: &str, loaded: &config::Loaded) -> anyhow::Result<()> {
    ctx.out.status(&format!("{what} has errors:"));
    let text = config::render::text(&loaded.diagnostics, &loaded.sources, ctx.out.color());
    ctx.out.data(&text)?;
    Ok(())
}

pub(crate) fn run(args: PlanArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Runtime::new()?;
    let head_source = match &args.head {
        Some(rev) => args.config.at_revision(rev),
        None => args.config.clone(),
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
    let datasource = head.config.settings.datasource().to_string();

    let Some(base_rev) = &args.base else {
        let mut items = items(&args.source, &[&head.config])?;
        let evaluation = Evaluator::new(mapper(&head.config.settings)).evaluate(
            &head.config,
            head.commit.clone(),
            items.as_mut(),
        );
        let catalog = open_catalog(args.catalog.as_deref(), &datasource)?;
        let actual = rt.block_on(catalog.list_owned())?;
        let plan = reconcile::plan(evaluation.desired, actual, &evaluation.guards);
        let text = match args.format {
            Format::Text => render::text::render(&plan, ctx.out.color()),
            Format::Markdown => render::markdown::render(&plan),
            Format::Json => render::json::render(&plan),
        };
        ctx.out.data(&text)?;
        return Ok(if plan.has_changes() {
            Exit::Changes
        } else {
            Exit::Ok
        });
    };

    let base = match review::load_base(&args.config.at_revision(base_rev), base_rev.clone())? {
        SideLoad::Ready(side) => *side,
        SideLoad::Invalid(loaded) => {
            show_invalid(ctx, &format!("the base revision `{base_rev}`"), &loaded)?;
            return Ok(Exit::Failure);
        }
    };
    let mut items = items(&args.source, &[&base.config, &head.config])?;
    let actual = if args.no_catalog {
        None
    } else {
        let catalog = open_catalog(args.catalog.as_deref(), &datasource)?;
        Some(Actual {
            entities: rt.block_on(catalog.list_owned())?,
            describe: catalog.describe(),
        })
    };
    let review = review::review(
        &base,
        &head,
        items.as_mut(),
        mapper(&head.config.settings),
        actual,
    );
    let text = match args.format {
        Format::Text => review::render::text(&review, ctx.out.color()),
        Format::Markdown => review::render::markdown(&review),
        Format::Json => serde_json::to_string_pretty(&review)? + "\n",
    };
    ctx.out.data(&text)?;
    Ok(if review.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}
