//! `adoport hooks sync`: the ADO service-hook subscriptions for `serve`
//! (`adoport::serve::hooks`).

use anyhow::Context;
use clap::{Args, Subcommand};

use adoport::ado::ClientOptions;
use adoport::config::ConfigSource;
use adoport::pipeline;
use adoport::serve::hooks::{self, SyncOptions};

use super::{Ctx, Exit};

/// Manage the Azure DevOps service-hook subscriptions that feed `adoport serve`.
#[derive(Debug, Args)]
pub(crate) struct HooksArgs {
    #[command(subcommand)]
    pub(crate) command: HooksCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HooksCommand {
    /// Create the subscriptions for every event type serve handles (organization-wide, or
    /// per `--project`), each on its publisher's host; re-enable disabled ones; with
    /// `--prune`, delete ours (same URL) that are no longer wanted. A second run changes
    /// nothing. With ADOPORT_WEBHOOK_SECRET set, each subscription sends basic auth
    /// (user ADOPORT_WEBHOOK_USER, default `adoport`). Needs a PAT with the
    /// "Service Hooks (Read & write)" scope.
    Sync(SyncArgs),
}

/// `hooks sync` flags.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The public URL of serve's webhook, e.g. https://adoport.example.com/webhook.
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,
    /// A project (name or id) to subscribe; repeat for several. Default: `webhook.projects`
    /// in adoport.yaml, else the whole organization.
    #[arg(long = "project", value_name = "PROJECT")]
    pub(crate) projects: Vec<String>,
    /// Print the changes without making them.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Delete our subscriptions (same URL) that are no longer wanted.
    #[arg(long)]
    pub(crate) prune: bool,
    /// The config whose adoport.yaml names the organizations and `webhook.projects`
    /// (AZURE_DEVOPS_ORG_URL wins). Default: the current folder, when it holds one.
    #[arg(long, value_name = "DIR|FILE|git:PATH@REV")]
    pub(crate) config: Option<ConfigSource>,
}

pub(crate) fn run(args: HooksArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let HooksCommand::Sync(args) = args.command;
    if !args.url.starts_with("https://") && !args.url.starts_with("http://") {
        anyhow::bail!("--url must be an http(s) URL, e.g. https://adoport.example.com/webhook");
    }
    let here = ConfigSource::Path(".".into());
    let loaded = match &args.config {
        Some(source) => Some(pipeline::load(source).context("could not read the config")?),
        // No config here: the organization comes from the environment.
        None => pipeline::load(&here).ok(),
    };
    let settings = match loaded {
        Some(pipeline::Gate::Passed(checked)) => checked.config.settings,
        Some(pipeline::Gate::Refused(loaded)) => {
            ctx.out.findings(&loaded.diagnostics, &loaded.sources);
            anyhow::bail!("the config has lint errors: nothing was changed");
        }
        None => adoport::config::Settings::default(),
    };
    let access = super::access()?;
    let clients = pipeline::open::ado_clients(&settings, &access, ClientOptions::default())?;
    let options = SyncOptions {
        url: args.url.clone(),
        projects: if args.projects.is_empty() {
            settings.webhook.projects.clone()
        } else {
            args.projects.clone()
        },
        auth: super::serve::webhook_auth(),
        prune: args.prune,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    // Each organization has its own subscriptions: planned and applied one after the other.
    for client in &clients {
        if clients.len() > 1 {
            ctx.out.data(&format!("{}:\n", client.org()))?;
        }
        let plan = runtime.block_on(hooks::plan(client, &options))?;
        ctx.out.data(&plan.render())?;
        if args.dry_run {
            continue;
        }
        let made = runtime.block_on(hooks::apply(client, &plan, &options))?;
        ctx.out
            .status(&format!("{}: made {made} changes", client.org()));
    }
    Ok(Exit::Ok)
}
