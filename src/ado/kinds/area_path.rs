//! `area-path`: every project's area tree
//! (`GET {org}/{project}/_apis/wit/classificationnodes/Areas?$depth=N`), flattened to one
//! item per node (its `children` removed) with `__project`, `__parentIdentifier` (the
//! parent node's `identifier`, `null` at the root) and `__normalizedPath` (`\P\Area\A\B` →
//! `P\A\B`, the form of a work item's `System.AreaPath`), as Port yields them. Only nodes
//! whose `structureType` is `area` are taken, with their subtrees.
//!
//! **Depth.** ADO returns only the root node when `$depth` is not sent, and Port sends it
//! only when the selector sets `depth`, so Port's default yields one area per project. A
//! user listing area paths expects the tree, so without `depth` this sends
//! [`DEFAULT_DEPTH`], the deepest an area tree can be in ADO: the whole tree, in the same
//! one request per project. A `depth` the selector sets is sent as given (`0`: roots only).

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, opt_u64, selector_schema};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;

/// `$depth` when the selector sets none: ADO allows area (and iteration) trees at most 14
/// levels below the root ("Work tracking, process, and project limits").
pub(crate) const DEFAULT_DEPTH: u64 = 14;

pub(super) const KIND: KindDef = KindDef {
    name: "area-path",
    schema: selector_schema!("area-path"),
    options: &["depth"],
    ignored_options: &[],
    scope: Scope::WorkItems,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let depth = opt_u64(&selector, "depth").unwrap_or(DEFAULT_DEPTH);
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        project_areas(client.clone(), project, depth)
    })
    .await;
    out.absorb(parts);
    out
}

async fn project_areas(client: Client, project: Value, depth: u64) -> Collected {
    let mut out = Collected::default();
    let id = field(&project, "/id");
    let call = Call::get(
        Service::Core,
        format!("/{id}/_apis/wit/classificationnodes/Areas"),
        Scope::WorkItems,
    )
    .param("$depth", depth.to_string())
    .param("api-version", "7.1");
    match client.send(&call).await {
        // The root of the tree is the project's area: anything else is not the tree, and
        // reading it as one would read every area as gone.
        Ok(page) if page.body.get("structureType").and_then(Value::as_str) != Some("area") => {
            out.problem(format!(
                "area paths of project {id}: the response is not an area tree"
            ));
        }
        Ok(page) => out.items = flatten(page.body, &project),
        // The project was deleted since it was listed.
        Err(e) if e.is_not_found_as(absent::PROJECT_GONE) => {}
        Err(e) => out.failed("area paths", &e),
    }
    out
}

/// The tree under `root` as one item per area node, parents before their children (the
/// order Port yields them in). Iterative, so no tree is too deep to walk.
fn flatten(root: Value, project: &Value) -> Vec<Value> {
    let mut items = Vec::new();
    let mut stack: Vec<(Value, Value)> = vec![(root, Value::Null)];
    while let Some((node, parent)) = stack.pop() {
        let Value::Object(mut node) = node else {
            continue;
        };
        if node.get("structureType").and_then(Value::as_str) != Some("area") {
            continue;
        }
        let children = match node.remove("children") {
            Some(Value::Array(children)) => children,
            _ => Vec::new(),
        };
        let identifier = node.get("identifier").cloned().unwrap_or(Value::Null);
        let path = node.get("path").and_then(Value::as_str).unwrap_or_default();
        let normalized = normalize(path);
        node.insert("__project".into(), project.clone());
        node.insert("__parentIdentifier".into(), parent);
        node.insert("__normalizedPath".into(), Value::String(normalized));
        items.push(Value::Object(node));
        // Reversed, so the first child is walked first.
        for child in children.into_iter().rev() {
            stack.push((child, identifier.clone()));
        }
    }
    items
}

/// A classification node's path as a work item's `System.AreaPath` reads it:
/// `\Project\Area\A\B` → `Project\A\B`.
fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = path.trim_matches('\\').split('\\').collect();
    if segments.len() >= 2 && segments[1] == "Area" {
        segments.remove(1);
    }
    segments.join("\\")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_path_reads_as_a_work_items_area_path() {
        assert_eq!(
            normalize("\\Fabrikam\\Area\\Web\\Login"),
            "Fabrikam\\Web\\Login"
        );
        assert_eq!(normalize("\\Fabrikam\\Area"), "Fabrikam");
        assert_eq!(normalize("\\Fabrikam\\Other\\Web"), "Fabrikam\\Other\\Web");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn the_tree_flattens_parents_first_with_each_nodes_parent() {
        let tree = json!({"id": 1, "identifier": "r", "name": "P", "structureType": "area",
            "path": "\\P\\Area", "hasChildren": true, "children": [
                {"id": 2, "identifier": "a", "name": "A", "structureType": "area",
                 "path": "\\P\\Area\\A", "hasChildren": true, "children": [
                    {"id": 4, "identifier": "a1", "name": "A1", "structureType": "area",
                     "path": "\\P\\Area\\A\\A1", "hasChildren": false}]},
                {"id": 3, "identifier": "b", "name": "B", "structureType": "area",
                 "path": "\\P\\Area\\B", "hasChildren": false},
                {"id": 5, "identifier": "x", "name": "X", "structureType": "iteration",
                 "path": "\\P\\Iteration\\X", "hasChildren": false}]});
        let project = json!({"id": "p"});
        let items = flatten(tree, &project);
        let ids: Vec<&str> = items.iter().map(|i| field(i, "/identifier")).collect();
        assert_eq!(ids, ["r", "a", "a1", "b"], "non-area nodes are left out");
        assert_eq!(items[0]["__parentIdentifier"], Value::Null);
        assert_eq!(items[2]["__parentIdentifier"], "a");
        assert_eq!(items[2]["__normalizedPath"], "P\\A\\A1");
        assert!(items.iter().all(|i| i.get("children").is_none()));
        assert!(items.iter().all(|i| i["__project"]["id"] == "p"));
    }
}
