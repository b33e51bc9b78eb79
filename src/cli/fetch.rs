//! `adoport fetch`: fetch ADO data and record it as a snapshot for offline `plan`/`watch`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;

use adoport::ado::record::{self, KindFetch, KindOutcome};
use adoport::ado::{ClientOptions, SnapshotWriter, Source};
use adoport::config;
use adoport::pipeline;

use super::{Ctx, Exit};

/// Fetch every kind the mapping uses (or the kinds given) from Azure DevOps and record the
/// raw items as a snapshot directory (`manifest.json` + one `KIND.jsonl` per kind).
///
/// Reads `AZURE_DEVOPS_ORG_URL` (or the settings' `organizationUrl`/`organizationUrls`) and
/// `AZURE_DEVOPS_PAT` (or the Entra ID service principal: `AZURE_TENANT_ID`,
/// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`). Several organizations go into one snapshot,
/// each item naming its own and the manifest keeping each one's share of every kind.
/// Exits 0 when every kind is complete, 1 when any kind is incomplete (the snapshot is still
/// written, and replays those kinds as incomplete).
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The snapshot directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Kinds to fetch, comma-separated (e.g. `project,work-item`); default: the config's kinds.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    kinds: Vec<String>,
    /// The config repo (or mapping file) whose resources say which kinds and selector
    /// options to fetch. Default: the current folder, unless `--kinds` is given.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Requests in flight at once (the throttle slows down further when ADO asks).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Skip projects carrying any of these tags, and everything that belongs to them
    /// (Port's `excludedTags`), comma-separated. Default: the settings' `excludedTags`.
    #[arg(long, value_delimiter = ',', value_name = "TAGS")]
    excluded_tags: Vec<String>,
}

pub(crate) fn run(args: FetchArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let (fetches, settings) = what_to_fetch(&args)?;
    let options = ClientOptions {
        concurrency: args.concurrency.max(1),
        ..ClientOptions::default()
    };
    let mut source_options = pipeline::open::source_options(&settings);
    if !args.excluded_tags.is_empty() {
        source_options.excluded_tags = args
            .excluded_tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
    }
    let source = Arc::new(pipeline::open::ado_source(
        &settings,
        &super::access()?,
        options,
        &source_options,
    )?);
    let organizations: Vec<String> = source
        .sources()
        .iter()
        .map(|s| s.client().org().to_string())
        .collect();

    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(fetches.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} kinds {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let mut writer = SnapshotWriter::create_for(&args.out, &organizations)?;
    let dyn_source: Arc<dyn Source> = source.clone();
    let outcomes = runtime.block_on(record::fetch_and_record(
        dyn_source,
        &fetches,
        &mut writer,
        |o| {
            progress.inc(1);
            progress.set_message(format!("({} done: {} items)", o.kind, o.count));
        },
    ))?;
    progress.finish_and_clear();

    ctx.out
        .data(&summary(&outcomes, source.request_count(), &args.out))?;
    Ok(if outcomes.iter().all(|o| o.complete) {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

/// The kinds (with selectors) to fetch, and the settings if a config was read.
fn what_to_fetch(args: &FetchArgs) -> anyhow::Result<(Vec<KindFetch>, config::Settings)> {
    if args.config.is_none() && !args.kinds.is_empty() {
        let pairs = args
            .kinds
            .iter()
            .map(|k| (k.trim().to_owned(), serde_json::Map::new()));
        return Ok((record::plan(pairs), config::Settings::default()));
    }
    let path = args.config.clone().unwrap_or_else(|| PathBuf::from("."));
    let loaded = config::load(&path)
        .with_context(|| format!("could not read the config at {}", path.display()))?;
    let Some(config) = loaded.config else {
        let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        bail!(
            "the config at {} has {errors} error(s); run `adoport lint` to see them",
            path.display()
        );
    };
    let mut pairs: Vec<(String, serde_json::Map<String, serde_json::Value>)> = config
        .mapping
        .resources
        .iter()
        .map(|r| (r.kind.clone(), r.selector.to_object()))
        .collect();
    if !args.kinds.is_empty() {
        pairs.retain(|(kind, _)| args.kinds.iter().any(|k| k.trim() == kind));
        for kind in &args.kinds {
            if !pairs.iter().any(|(k, _)| k == kind.trim()) {
                pairs.push((kind.trim().to_owned(), serde_json::Map::new()));
            }
        }
    }
    Ok((record::plan(pairs), config.settings))
}

fn summary(outcomes: &[KindOutcome], requests: u64, out: &std::path::Path) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.kind.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!(
        "recorded {} kind(s) into {}\n",
        outcomes.len(),
        out.display()
    );
    for o in outcomes {
        let status = if o.complete { "complete" } else { "INCOMPLETE" };
        text.push_str(&format!(
            "  {:<width$}  {:>8} items  {status}\n",
            o.kind, o.count
        ));
    }
    let incomplete: Vec<&KindOutcome> = outcomes.iter().filter(|o| !o.complete).collect();
    for o in &incomplete {
        text.push_str(&format!(
            "  {}: {}\n",
            o.kind,
            o.error.as_deref().unwrap_or("incomplete")
        ));
    }
    text.push_str(&format!(
        "{requests} ADO request(s); {} incomplete kind(s)\n",
        incomplete.len()
    ));
    text
}
