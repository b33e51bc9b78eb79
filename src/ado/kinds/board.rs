//! `board` and `column`: per project, its teams
//! (`GET {org}/_apis/projects/{p}/teams`, `$top`/`$skip`), each team's boards
//! (`GET {org}/{p}/{team}/_apis/work/boards`) and each board's details merged into its list
//! entry, with `__project`. Columns are derived from the same boards (no extra requests):
//! one item per column × state mapping, with `__board`, `__stateType` and `__stateName`.

use std::sync::Arc;

use serde_json::Value;

use super::{
    Collected, KindDef, ParentList, Problem, SyncCtx, absent, each, field, selector_schema,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for a project's teams: no documented maximum; paging stops at an empty page.
pub(crate) const TEAM_PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "board",
    schema: selector_schema!("board"),
    options: &[],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: |ctx, _selector| Box::pin(fetch_boards(ctx)),
    incremental: false,
};

pub(super) const COLUMN: KindDef = KindDef {
    name: "column",
    schema: selector_schema!("column"),
    options: &[],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: |ctx, _selector| Box::pin(fetch_columns(ctx)),
    incremental: false,
};

async fn fetch_boards(ctx: SyncCtx) -> Collected {
    let boards = ctx.boards().await;
    let mut out = Collected::under(&boards);
    out.items = boards.items.clone();
    out
}

async fn fetch_columns(ctx: SyncCtx) -> Collected {
    let boards = ctx.boards().await;
    let mut out = Collected::under(&boards);
    out.items = columns_of(&boards.items);
    out
}

/// One item per column × state mapping of each board, as Port derives them.
fn columns_of(boards: &[Value]) -> Vec<Value> {
    let mut items = Vec::new();
    for board in boards {
        let Some(columns) = board.get("columns").and_then(Value::as_array) else {
            continue;
        };
        for column in columns {
            let Some(mappings) = column.get("stateMappings").and_then(Value::as_object) else {
                continue;
            };
            for (work_item_type, state) in mappings {
                let mut item = column.clone();
                item["__board"] = board.clone();
                item["__stateType"] = Value::String(work_item_type.clone());
                item["__stateName"] = state.clone();
                items.push(item);
            }
        }
    }
    items
}

/// The shared board list: every board of every team of every project.
pub(super) async fn list_boards(ctx: SyncCtx) -> Arc<ParentList> {
    let projects = ctx.projects().await;
    let mut problems: Vec<Problem> = projects.problem.iter().cloned().collect();
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        project_boards(client.clone(), project)
    })
    .await;
    let mut items = Vec::new();
    for part in parts {
        items.extend(part.items);
        problems.extend(part.problems);
    }
    let problem = match problems.len() {
        0 => None,
        1 => problems.pop(),
        n => {
            // The first problem's words, and the worst cause among all of them.
            let cause = problems
                .iter()
                .map(|p| p.cause.clone())
                .reduce(crate::ado::source::Incomplete::worst);
            let mut first = problems.swap_remove(0);
            first.text = format!("{}; and {} more", first.text, n - 1);
            if let Some(cause) = cause {
                first.cause = cause;
            }
            Some(first)
        }
    };
    Arc::new(ParentList { items, problem })
}

async fn project_boards(client: Client, project: Value) -> Collected {
    let mut out = Collected::default();
    let id = field(&project, "/id").to_owned();
    let call = Call::get(
        Service::Core,
        format!("/_apis/projects/{id}/teams"),
        Scope::ProjectAndTeam,
    )
    .param("api-version", "7.1");
    let teams = out.take_under(
        "teams",
        paging::by_skip(&client, call, "value", TEAM_PAGE, None, ("$top", "$skip")).await,
        absent::PROJECT_GONE,
    );
    let team_ids: Vec<String> = teams.iter().map(|t| field(t, "/id").to_owned()).collect();
    let per_team = each(team_ids, {
        let client = client.clone();
        let id = id.clone();
        let project = project.clone();
        move |team| team_boards(client.clone(), id.clone(), team, project.clone())
    })
    .await;
    out.absorb(per_team);
    out
}

async fn team_boards(
    client: Client,
    project_id: String,
    team: String,
    project: Value,
) -> Collected {
    let mut out = Collected::default();
    let base = format!("/{project_id}/{team}/_apis/work/boards");
    let call = Call::get(Service::Core, base.clone(), Scope::WorkItems).param("api-version", "7.1");
    // Read as a paged list: an answer saying more follows is followed, never taken whole.
    let list = match paging::by_continuation(&client, call, "value", None).await {
        Ok(list) => list,
        Err(p) if p.items.is_empty() && p.error.is_not_found_as(absent::TEAM_GONE) => {
            return out;
        }
        // Port skips a team whose boards answer 500 (a team without iterations); skipping
        // would hide a transient failure as missing boards, so the listing is incomplete.
        Err(p) => {
            out.problems
                .push(Problem::paging(&format!("boards of team {team}"), &p.error));
            return out;
        }
    };
    for entry in list {
        let board_id = field(&entry, "/id").to_owned();
        let call = Call::get(
            Service::Core,
            format!("{base}/{board_id}"),
            Scope::WorkItems,
        )
        .param("api-version", "7.1");
        match client.send(&call).await {
            // A board always has its columns: an answer without them is not a board, and
            // reading it as one would read its columns as gone.
            Ok(page) if !page.body.get("columns").is_some_and(Value::is_array) => {
                out.problem(format!(
                    "board {board_id} of team {team}: the response has no columns array"
                ));
            }
            Ok(page) => {
                let mut board = entry.clone();
                if let (Value::Object(into), Value::Object(detail)) = (&mut board, page.body) {
                    into.extend(detail);
                }
                board["__project"] = project.clone();
                out.items.push(board);
            }
            Err(e) if e.is_not_found_as(absent::BOARD_GONE) => {}
            Err(e) => out.failed("board details", &e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_one_item_per_state_mapping() {
        let board = json!({"id": "b", "columns": [
            {"id": "c1", "name": "To Do", "stateMappings": {"Epic": "New", "Feature": "New"}},
            {"id": "c2", "name": "Doing", "stateMappings": {"Epic": "Active"}},
            {"id": "c3", "name": "Plain"}
        ], "__project": {"id": "p"}});
        let columns = columns_of(std::slice::from_ref(&board));
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0]["__stateType"], "Epic");
        assert_eq!(columns[0]["__stateName"], "New");
        assert_eq!(columns[1]["__stateType"], "Feature");
        assert_eq!(columns[2]["name"], "Doing");
        assert_eq!(columns[2]["__board"]["__project"]["id"], "p");
    }
}
