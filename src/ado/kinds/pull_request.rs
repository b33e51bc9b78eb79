//! `pull-request`: active pull requests, plus abandoned and completed ones closed within
//! `minTimeInDays` (default 7), at most `maxResults` (default 100) of each per repository —
//! Port's three passes and its closed-date filter (`searchCriteria.queryTimeRangeType=closed`
//! with `searchCriteria.minTime`).
//!
//! Narrowed to one repository (a live event), the passes ask for it alone
//! (`searchCriteria.repositoryId`).
//!
//! Port runs the passes per repository; here they run per *project*
//! (`GET {org}/{project}/_apis/git/pullrequests`), which returns the same pull requests in
//! the same order with far fewer requests, then keeps those of healthy repositories and
//! applies the per-repository cap client-side.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, healthy, opt_u64, selector_schema};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for pull requests (`$top`/`$skip` paging; stops at an empty page, so a server cap
/// below this value costs requests, never items).
pub(crate) const PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "pull-request",
    schema: selector_schema!("pull-request"),
    options: &["minTimeInDays", "maxResults"],
    ignored_options: &[],
    scope: Scope::Code,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let min_days = opt_u64(&selector, "minTimeInDays").unwrap_or(7).max(1);
    let max_results = usize::try_from(opt_u64(&selector, "maxResults").unwrap_or(100).max(1))
        .unwrap_or(usize::MAX);
    let since = ctx.now()
        - jiff::SignedDuration::from_hours(
            24 * i64::try_from(min_days)
                .unwrap_or(i64::MAX / 24)
                .min(365_000),
        );
    let since = since.to_string();

    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let wanted: HashSet<String> = repos
        .items
        .iter()
        .filter(|r| healthy(r))
        .map(|r| field(r, "/id").to_owned())
        .collect();
    let projects: Vec<String> = {
        let mut seen = HashSet::new();
        repos
            .items
            .iter()
            .filter(|r| healthy(r))
            .map(|r| field(r, "/project/id").to_owned())
            .filter(|p| seen.insert(p.clone()))
            .collect()
    };
    let client = ctx.client.clone();
    let only_repo = match &ctx.narrow.repositories {
        Some(ids) if ids.len() == 1 => ids.first().cloned(),
        _ => None,
    };
    // One task per (project, status): the three passes of a project run side by side.
    let passes: Vec<(String, &'static str)> = projects
        .iter()
        .flat_map(|p| ["active", "abandoned", "completed"].map(|status| (p.clone(), status)))
        .collect();
    let results = each(passes, move |(project, status)| {
        let client = client.clone();
        let since = since.clone();
        let only_repo = only_repo.clone();
        async move {
            let mut out = Collected::default();
            let mut call = Call::get(
                Service::Core,
                format!("/{project}/_apis/git/pullrequests"),
                Scope::Code,
            )
            .param("searchCriteria.status", status)
            .param("api-version", "7.1");
            if let Some(repo) = only_repo {
                call = call.param("searchCriteria.repositoryId", repo);
            }
            if status != "active" {
                call = call
                    .param("searchCriteria.queryTimeRangeType", "closed")
                    .param("searchCriteria.minTime", since);
            }
            let result =
                paging::by_skip(&client, call, "value", PAGE, None, ("$top", "$skip")).await;
            let prs = out.take_under(
                &format!("{status} pull requests"),
                result,
                absent::PROJECT_GONE,
            );
            (status, prs, out.problems)
        }
    })
    .await;

    for (status, prs, problems) in results {
        out.problems.extend(problems);
        let mut per_repo: HashMap<String, usize> = HashMap::new();
        for pr in prs {
            let repo = field(&pr, "/repository/id").to_owned();
            if !wanted.contains(&repo) {
                continue;
            }
            let seen = per_repo.entry(repo).or_default();
            if status != "active" && *seen >= max_results {
                continue;
            }
            *seen += 1;
            out.items.push(pr);
        }
    }
    out
}
