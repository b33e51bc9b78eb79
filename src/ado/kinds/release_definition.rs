//! `release-definition`: each project's classic release definitions on the `vsrm.` host
//! (`GET {vsrm}/{project}/_apis/release/definitions`, `$top` + continuation token), each
//! with `__project` (the listed project), as Port adds it.
//!
//! Narrowed to ids, the list asks for them (`definitionIdFilter`).
//!
//! Options, as Port sends them: `expand` → `$expand` (default `environments`, the stages of
//! each definition), `tagFilter` → `tagFilter` (comma-joined: only definitions carrying
//! those tags).

use serde_json::{Map, Value};

use super::{
    Collected, KindDef, SyncCtx, absent, each, field, opt_strs, selector_schema, set_field,
};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for release definitions: the release service returns at most 100 per page.
pub(crate) const PAGE: usize = 100;

/// `$expand` when the selector sets no `expand`, as Port defaults it.
pub(crate) const DEFAULT_EXPAND: &str = "environments";

pub(super) const KIND: KindDef = KindDef {
    name: "release-definition",
    schema: selector_schema!("release-definition"),
    options: &["expand", "tagFilter"],
    ignored_options: &[],
    scope: Scope::Release,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: false,
};

/// The query parameters the selector asks for. An explicit `expand: null` sends no
/// `$expand`, as Port drops `None` values.
fn params(selector: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    match selector.get("expand") {
        None => params.push(("$expand", DEFAULT_EXPAND.to_owned())),
        Some(Value::String(expand)) => params.push(("$expand", expand.clone())),
        Some(_) => {}
    }
    let tags = opt_strs(selector, "tagFilter");
    if !tags.is_empty() {
        params.push(("tagFilter", tags.join(",")));
    }
    params
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let mut params = params(&selector);
    if let Some(ids) = &ctx.narrow.release_definitions {
        params.push(("definitionIdFilter", super::Narrow::joined(ids)));
    }
    let client = ctx.client.clone();
    let parts = each(projects.items.clone(), move |project| {
        let client = client.clone();
        let params = params.clone();
        async move {
            let mut out = Collected::default();
            let id = field(&project, "/id");
            let mut call = Call::get(
                Service::Release,
                format!("/{id}/_apis/release/definitions"),
                Scope::Release,
            )
            .param("api-version", "7.1");
            for (k, v) in params {
                call = call.param(k, v);
            }
            let definitions = out.take_under(
                "release definitions",
                paging::by_continuation(&client, call, "value", Some(PAGE)).await,
                absent::PROJECT_GONE,
            );
            out.items = definitions
                .into_iter()
                .map(|mut d| {
                    set_field(&mut d, "__project", project.clone());
                    d
                })
                .collect();
            out
        }
    })
    .await;
    out.absorb(parts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn expand_defaults_to_environments_and_tags_are_comma_joined() {
        assert_eq!(
            params(&of(json!({"query": "true"}))),
            [("$expand", "environments".to_owned())]
        );
        assert_eq!(
            params(&of(json!({"expand": "artifacts", "tagFilter": ["a", "b"]}))),
            [
                ("$expand", "artifacts".to_owned()),
                ("tagFilter", "a,b".to_owned())
            ]
        );
        assert!(params(&of(json!({"expand": null}))).is_empty());
    }
}
