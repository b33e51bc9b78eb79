//! `iteration`: the iterations (sprints) of every team of every project
//! (`GET {org}/{project}/{team}/_apis/work/teamsettings/iterations`), each with `__project`
//! (the listed project) and `__team` (the team), as Port yields them. An iteration several
//! teams subscribe to comes once per team, as in Port.
//!
//! Port reads each project's teams with one unpaged request, so a project with more than
//! ADO's default page of 100 teams loses the rest. Here the teams are the shared team list
//! (`GET {org}/_apis/teams`, paged to the end, the list `team` and `member` read), kept to the
//! projects of the shared project list, so `excludedTags` applies as it does in Port.

use std::collections::HashMap;

use serde_json::Value;

use super::{Collected, KindDef, Problem, SyncCtx, absent, each, field, selector_schema};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

pub(super) const KIND: KindDef = KindDef {
    name: "iteration",
    schema: selector_schema!("iteration"),
    options: &[],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: |ctx, _selector| Box::pin(fetch(ctx)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx) -> Collected {
    let projects = ctx.projects().await;
    let teams = ctx.teams().await;
    let mut out = Collected::under(&projects);
    out.extend(Collected::under(&teams));
    let by_id: HashMap<&str, &Value> = projects
        .items
        .iter()
        .map(|p| (field(p, "/id"), p))
        .collect();
    let pairs: Vec<(Value, Value)> = teams
        .items
        .iter()
        .filter_map(|team| {
            let project = by_id.get(field(team, "/projectId"))?;
            Some(((*project).clone(), team.clone()))
        })
        .collect();
    let client = ctx.client.clone();
    let parts = each(pairs, move |(project, team)| {
        team_iterations(client.clone(), project, team)
    })
    .await;
    out.absorb(parts);
    out
}

async fn team_iterations(client: Client, project: Value, team: Value) -> Collected {
    let mut out = Collected::default();
    let project_id = field(&project, "/id");
    let team_id = field(&team, "/id");
    let call = Call::get(
        Service::Core,
        format!("/{project_id}/{team_id}/_apis/work/teamsettings/iterations"),
        Scope::WorkItems,
    )
    .param("api-version", "7.1");
    // Read as a paged list: an answer saying more follows is followed, never taken whole.
    let iterations = match paging::by_continuation(&client, call, "value", None).await {
        Ok(list) => list,
        // The team (or its project) was deleted since the lists were read.
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::TEAM_GONE) => {
            return out;
        }
        Err(p) => {
            out.problems.push(Problem::paging(
                &format!("iterations of team {team_id}"),
                &p.error,
            ));
            return out;
        }
    };
    // A non-object item is kept as it came: the mapping reports it as an item error.
    out.items = iterations
        .into_iter()
        .map(|mut iteration| {
            if let Value::Object(map) = &mut iteration {
                map.insert("__project".into(), project.clone());
                map.insert("__team".into(), team.clone());
            }
            iteration
        })
        .collect();
    out
}
