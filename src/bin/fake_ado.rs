//! `adoport-fake-ado`: the fake Azure DevOps server as a program, for trying `adoport fetch`
//! by hand or recording example snapshots. Prints the organization URL and PAT to use,
//! then serves until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, RateLimit};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use adoport::testkit::synthetic_pipelines::DeliverySpec;
use clap::Parser;

/// Serve a synthetic Azure DevOps organization on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "adoport-fake-ado", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Organization name (the URL's path).
    #[arg(long, default_value = "acme")]
    org: String,
    /// Projects.
    #[arg(long, default_value_t = 2)]
    projects: usize,
    /// Teams per project (three boards each).
    #[arg(long, default_value_t = 1)]
    teams_per_project: usize,
    /// Repositories per project.
    #[arg(long, default_value_t = 3)]
    repos_per_project: usize,
    /// Branches per repository.
    #[arg(long, default_value_t = 2)]
    branches_per_repo: usize,
    /// Pull requests in all.
    #[arg(long, default_value_t = 20)]
    pull_requests: usize,
    /// Work items in all.
    #[arg(long, default_value_t = 100)]
    work_items: usize,
    /// Pipelines in all.
    #[arg(long, default_value_t = 5)]
    pipelines: usize,
    /// Builds in all.
    #[arg(long, default_value_t = 30)]
    builds: usize,
    /// Classic releases in all.
    #[arg(long, default_value_t = 6)]
    releases: usize,
    /// Users.
    #[arg(long, default_value_t = 4)]
    users: usize,
    /// Iterations (sprints) per project, each team subscribing to all.
    #[arg(long, default_value_t = 4)]
    iterations_per_team: usize,
    /// Levels of each project's area tree below its root.
    #[arg(long, default_value_t = 3)]
    area_depth: usize,
    /// Advanced Security alerts per onboarded repository.
    #[arg(long, default_value_t = 3)]
    alerts_per_repo: usize,
    /// Pages per wiki.
    #[arg(long, default_value_t = 5)]
    wiki_pages: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Date the organization's activity ends at (RFC 3339); default: now, so recent
    /// pull requests fall inside `minTimeInDays`.
    #[arg(long)]
    now: Option<jiff::Timestamp>,
    /// Latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The PAT the server accepts.
    #[arg(long, default_value = "fake-pat-0123456789")]
    pat: String,
    /// Requests allowed per rate-limit window (0: unmetered).
    #[arg(long, default_value_t = 0)]
    rate_budget: u64,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 10)]
    rate_window_secs: u64,
    /// Serve the reference organization of the benchmarks (`OrgSpec::reference()`: 10
    /// projects, 200 repositories, 2,000 pull requests, 20,000 work items, 500 pipelines,
    /// 5,000 builds) instead of the sizes above.
    #[arg(long)]
    reference: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let spec = OrgSpec {
        name: args.org,
        projects: args.projects,
        teams_per_project: args.teams_per_project,
        repos_per_project: args.repos_per_project,
        branches_per_repo: args.branches_per_repo,
        pull_requests: args.pull_requests,
        work_items: args.work_items,
        pipelines: args.pipelines,
        builds: args.builds,
        releases: args.releases,
        users: args.users,
        iterations_per_team: args.iterations_per_team,
        area_depth: args.area_depth,
        alerts_per_repo: args.alerts_per_repo,
        wiki_pages: args.wiki_pages,
        delivery: DeliverySpec::small(),
        seed: args.seed,
        now: args.now.unwrap_or_else(|| {
            // Whole seconds, as ADO's timestamps mostly are.
            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        }),
    };
    let spec = if args.reference {
        OrgSpec::reference()
    } else {
        spec
    };
    let config = FakeConfig {
        pat: args.pat.clone(),
        latency: Duration::from_millis(args.latency_ms),
        rate_limit: (args.rate_budget > 0).then(|| RateLimit {
            budget: args.rate_budget,
            window: Duration::from_secs(args.rate_window_secs.max(1)),
        }),
        ..FakeConfig::default()
    };
    let fake = FakeAdo::start_on(generate(&spec), config, args.port).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "AZURE_DEVOPS_ORG_URL={}", fake.org_url())?;
    writeln!(out, "AZURE_DEVOPS_PAT={}", args.pat)?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "requests served: {}", fake.total_requests())?;
    for (endpoint, count) in fake.counts() {
        writeln!(out, "  {endpoint}: {count}")?;
    }
    Ok(())
}
