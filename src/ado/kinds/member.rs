//! `member`: the members of every team, one item per (team, member) with `__teamId`, as
//! Port yields them. Teams come from the shared team list (`GET {org}/_apis/teams`, the
//! organization-wide list `team` reads too); each team's members from
//! `GET {org}/_apis/projects/{project}/teams/{team}/members` (`$top`/`$skip`).
//!
//! The team list is the one `team` reads, so every member relates to a team the `team` kind
//! lists; teams of projects `excludedTags` drop are not in it, so neither are their members
//! (Port's integration lists both). A team whose members cannot be read makes the kind
//! incomplete (a 404 typed "the team is gone" is none).

use serde_json::Value;

use super::{Collected, KindDef, SyncCtx, each, field, selector_schema, team};
use crate::ado::client::{Client, Scope};

pub(super) const KIND: KindDef = KindDef {
    name: "member",
    schema: selector_schema!("member"),
    options: &[],
    ignored_options: &[],
    scope: Scope::ProjectAndTeam,
    fetch: |ctx, _selector| Box::pin(fetch(ctx)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx) -> Collected {
    let teams = ctx.teams().await;
    let mut out = Collected::under(&teams);
    let client = ctx.client.clone();
    let parts = each(teams.items.clone(), move |team| {
        members_of(client.clone(), team)
    })
    .await;
    out.absorb(parts);
    out
}

async fn members_of(client: Client, team: Value) -> Collected {
    let mut out = Collected::default();
    let project = field(&team, "/projectId");
    let id = field(&team, "/id");
    let members = team::team_members(&client, project, id, &mut out).await;
    out.items = members
        .into_iter()
        .map(|mut member| {
            if let Value::Object(map) = &mut member {
                map.insert("__teamId".into(), Value::String(id.to_owned()));
            }
            member
        })
        .collect();
    out
}
