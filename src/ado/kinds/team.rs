//! `team`: every team of the organization (`GET {org}/_apis/teams`, `$top`/`$skip`), with
//! `includeMembers` → `__members` and `includeAreaPaths` → `__areaPaths` as Port adds them.
//!
//! The team list is a parent list ([`list_teams`]): `member` and `iteration` read the same
//! list, fetched once per sync. Teams of projects `excludedTags` drop are left out of it
//! (Port's integration lists them), and with them their members.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, each, field, opt_bool,
    selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for team lists: ADO documents no maximum; paging stops at an empty page.
pub(crate) const PAGE: usize = 1000;
/// `$top` for team member lists.
pub(crate) const MEMBER_PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "team",
    schema: selector_schema!("team"),
    options: &["includeMembers", "includeAreaPaths"],
    ignored_options: &[],
    scope: Scope::ProjectAndTeam,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let list = ctx.teams().await;
    let mut out = Collected::under(&list);
    let teams = list.items.clone();
    let members = opt_bool(&selector, "includeMembers");
    let areas = opt_bool(&selector, "includeAreaPaths");
    if !members && !areas {
        out.items = teams;
        return out;
    }
    let client = ctx.client.clone();
    let enriched = each(teams, move |team| {
        enrich(client.clone(), team, members, areas)
    })
    .await;
    out.absorb(enriched);
    out
}

/// The shared team list: every team of the organization (`GET {org}/_apis/teams`).
pub(super) async fn list_teams(ctx: SyncCtx) -> Arc<ParentList> {
    let call = Call::get(Service::Core, "/_apis/teams", Scope::ProjectAndTeam)
        .param("api-version", "7.1-preview.3");
    let mut list = ParentList::default();
    match paging::by_skip(&ctx.client, call, "value", PAGE, None, ("$top", "$skip")).await {
        Ok(items) => list.items = items,
        Err(partial) => {
            list.items = partial.items;
            list.problem = Some(Problem::paging("teams", &partial.error));
        }
    }
    // `excludedTags`: a team belongs to its project (Port keeps them all).
    if let Some((excluded, problem)) = ctx.excluded_projects().await {
        list.items
            .retain(|team| !excluded.contains(field(team, "/projectId")));
        if list.problem.is_none() {
            list.problem = problem;
        }
    }
    Arc::new(list)
}

/// The members of one team (`$top`/`$skip`); a 404 typed "the team is gone" is none.
pub(super) async fn team_members(
    client: &Client,
    project: &str,
    team: &str,
    out: &mut Collected,
) -> Vec<Value> {
    let call = Call::get(
        Service::Core,
        format!("/_apis/projects/{project}/teams/{team}/members"),
        Scope::ProjectAndTeam,
    )
    .param("api-version", "7.1");
    out.take_under(
        "team members",
        paging::by_skip(client, call, "value", MEMBER_PAGE, None, ("$top", "$skip")).await,
        absent::TEAM_GONE,
    )
}

async fn enrich(client: Client, mut team: Value, members: bool, areas: bool) -> Collected {
    let mut out = Collected::default();
    let project = field(&team, "/projectId").to_owned();
    let id = field(&team, "/id").to_owned();
    if members {
        let list = team_members(&client, &project, &id, &mut out).await;
        team["__members"] = Value::Array(list);
    }
    if areas {
        let call = Call::get(
            Service::Core,
            format!("/{project}/{id}/_apis/work/teamsettings/teamfieldvalues"),
            Scope::WorkItems,
        )
        .param("api-version", "7.1");
        // As Port: `null` when the team has no area settings.
        team["__areaPaths"] = match client.send(&call).await {
            Ok(page) => page.body,
            Err(e) if e.is_not_found_as(absent::TEAM_SETTINGS_ABSENT) => Value::Null,
            Err(e) => {
                out.failed("team area paths", &e);
                Value::Null
            }
        };
    }
    out.items.push(team);
    out
}
