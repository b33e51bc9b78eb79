//! The command line: argument parsing, one file per subcommand, output and exit codes.
//!
//! A subcommand file declares its `clap` arguments and a `run(args, &Ctx)` that builds
//! options, calls one library function and renders the result. No logic lives here.

// The environment is read here, once, when arguments become settings (clippy.toml bans it elsewhere).
#![allow(clippy::disallowed_methods)]

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod apply;
mod event;
mod fetch;
mod hooks;
mod jq;
mod lint;
mod logging;
mod map;
mod output;
mod plan;
mod run;
mod schema;
mod serve;
mod status;
mod watch;

pub(crate) use output::Output;

/// Keeps a Port software catalog in step with Azure DevOps, driven by mapping files in git.
#[derive(Debug, Parser)]
#[command(
    name = "adoport",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = ENVIRONMENT
)]
pub(crate) struct Cli {
    /// Log format on stderr: `text` (`error:`, `warning:`, `note:` lines) or `json` (one
    /// object per line, and nothing else on stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// More log output: `-v` shows each HTTP request (method, path, status, time), `-vv`
    /// everything. `ADOPORT_LOG` (e.g. `adoport=debug`) sets the filter directly.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr: no notes, warnings or progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The environment every command that reads Azure DevOps or Port takes (secrets live here
/// only, never in adoport.yaml).
const ENVIRONMENT: &str = "\
Azure DevOps (live reads: --source ado, fetch, serve, hooks):
  AZURE_DEVOPS_ORG_URL   organization URL, or several separated by commas
                         (else organizationUrl / organizationUrls in adoport.yaml)
  AZURE_DEVOPS_PAT       personal access token with read scopes; or, without one,
  AZURE_TENANT_ID        an Entra ID service principal added to each organization:
  AZURE_CLIENT_ID          tenant, application (client) id and client secret; its
  AZURE_CLIENT_SECRET      token for Azure DevOps is renewed before it expires
  AZURE_AUTHORITY_HOST   Entra ID authority (default https://login.microsoftonline.com;
                         e.g. https://login.microsoftonline.us for a sovereign cloud)
Port (--target port): PORT_CLIENT_ID, PORT_CLIENT_SECRET, PORT_BASE_URL";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the mapping to the catalog: create, update and delete what `plan` shows.
    ///
    /// Prints the plan it executes, then what was done. Exits 0 when everything was applied,
    /// 1 when anything failed. With `--follow git:URL@BRANCH`, keeps the catalog in step with
    /// a config repository's branch.
    Apply(apply::ApplyArgs),
    /// Work with service-hook events: `event replay FILE` runs one payload through the
    /// handler `serve` uses.
    Event(event::EventArgs),
    /// Fetch ADO data and record it as a snapshot directory for offline use.
    ///
    /// Reads `AZURE_DEVOPS_ORG_URL` (or `organizationUrl`/`organizationUrls` in adoport.yaml)
    /// and `AZURE_DEVOPS_PAT` (or an Entra ID service principal: see `adoport --help`). Writes
    /// `DIR/manifest.json` and one `DIR/KIND.jsonl` per kind, then a
    /// summary: items per kind, incomplete kinds and why, the number of ADO requests. Exits 0
    /// when every kind is complete, 1 when any is incomplete (still recorded, as incomplete).
    Fetch(fetch::FetchArgs),
    /// Manage the ADO service-hook subscriptions that feed `serve`: `hooks sync`.
    Hooks(hooks::HooksArgs),
    /// Run a jq filter on JSON input with the engine mappings use.
    Jq(jq::JqArgs),
    /// Check mapping files and report every problem with file, line and column.
    Lint(lint::LintArgs),
    /// Map raw items of one kind through the mapping and show entities and diagnostics.
    Map(map::MapArgs),
    /// Show what `apply` would create, update (field by field) and delete in the catalog.
    ///
    /// Writes nothing. Exits 0 when there is nothing to do, 2 when there are changes, 1 on
    /// error. With `--base REV`, reviews a mapping change for a pull request.
    Plan(plan::PlanArgs),
    /// Print a JSON Schema (mapping, settings, or one kind's selector) for editors.
    Schema(schema::SchemaArgs),
    /// Receive ADO service hooks and keep the catalog in step, always on: a webhook, a
    /// durable event queue (SQLite, or NATS JetStream shared by replicas), a resync every
    /// `resync.interval`, health, metrics and a status page.
    Serve(serve::ServeArgs),
    /// Show what `serve`'s queue says: pending signals, dead letters, resyncs, and which
    /// replica holds the resync lease.
    Status(status::StatusArgs),
    /// Re-lint and re-plan on every save of a mapping file, against a snapshot of ADO data.
    Watch(watch::WatchArgs),
}

/// Exit codes, in one place (DESIGN.md "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Success; for `plan`, no changes.
    Ok = 0,
    /// Errors found or the run failed.
    Failure = 1,
    /// `plan`: changes pending. `lint`: the input could not be read at all.
    Changes = 2,
    /// `jq`: the filter raised an error (as jq does).
    JqError = 5,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// What every subcommand gets: the output handle.
pub(crate) struct Ctx {
    pub(crate) out: Output,
}

/// Parses arguments, sets up logging, runs the subcommand and maps errors to exit codes.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` print and exit 0; a usage error exits 1, never 2, which
        // `plan` reserves for "changes pending".
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Failure.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let out = Output::new(cli.quiet, cli.log_format == LogFormat::Json);
    logging::init(cli.log_format, cli.verbose, cli.quiet, &out);
    let ctx = Ctx { out };
    let result: anyhow::Result<Exit> = match cli.command {
        Command::Apply(args) => apply::run(args, &ctx),
        Command::Event(args) => event::run(args, &ctx),
        Command::Fetch(args) => fetch::run(args, &ctx),
        Command::Hooks(args) => hooks::run(args, &ctx),
        Command::Jq(args) => jq::run(args, &ctx),
        Command::Lint(args) => lint::run(args, &ctx),
        Command::Map(args) => map::run(args, &ctx),
        Command::Plan(args) => plan::run(args, &ctx),
        Command::Schema(args) => schema::run(args, &ctx),
        Command::Serve(args) => serve::run(args, &ctx),
        Command::Status(args) => status::run(args, &ctx),
        Command::Watch(args) => watch::run(args, &ctx),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            if output::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            ctx.out.error(&err);
            Exit::Failure.into()
        }
    }
}

/// What the environment provides, read here and nowhere else: the organizations, the PAT or
/// the Entra ID service principal,
/// Port's credentials and base URL, and a lookup for jq's environment allow-list.
pub(crate) fn access() -> anyhow::Result<adoport::pipeline::Access> {
    use adoport::ado::{Pat, ServicePrincipalConfig};
    use adoport::port::Credentials;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port_credentials = match (var("PORT_CLIENT_ID"), var("PORT_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Some(Credentials::new(id.trim(), secret.trim())),
        (None, None) => None,
        (Some(_), None) => anyhow::bail!("PORT_CLIENT_ID is set but PORT_CLIENT_SECRET is not"),
        (None, Some(_)) => anyhow::bail!("PORT_CLIENT_SECRET is set but PORT_CLIENT_ID is not"),
    };
    let ado_service_principal = match (
        var("AZURE_TENANT_ID"),
        var("AZURE_CLIENT_ID"),
        var("AZURE_CLIENT_SECRET"),
    ) {
        (Some(tenant), Some(id), Some(secret)) => {
            let config = ServicePrincipalConfig::new(tenant.trim(), id.trim(), secret.trim());
            Some(match var("AZURE_AUTHORITY_HOST") {
                Some(host) => config.with_authority(host.trim()),
                None => config,
            })
        }
        (None, None, None) => None,
        (tenant, id, secret) => {
            let missing: Vec<&str> = [
                ("AZURE_TENANT_ID", tenant.is_none()),
                ("AZURE_CLIENT_ID", id.is_none()),
                ("AZURE_CLIENT_SECRET", secret.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            // A PAT signs in on its own: a half-set principal is only an error without one.
            if var("AZURE_DEVOPS_PAT").is_none() {
                anyhow::bail!(
                    "an Entra ID service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET: {} not set",
                    missing.join(" and ")
                );
            }
            None
        }
    };
    Ok(adoport::pipeline::Access {
        ado_org_url: var("AZURE_DEVOPS_ORG_URL").map(|u| u.trim().to_owned()),
        ado_pat: var("AZURE_DEVOPS_PAT").map(Pat::new),
        ado_service_principal,
        port_credentials,
        port_base_url: var("PORT_BASE_URL").map(|u| u.trim().to_owned()),
        env: std::sync::Arc::new(|name: &str| std::env::var(name).ok()),
    })
}
