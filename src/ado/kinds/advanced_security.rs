//! `advanced-security-alert`: the Advanced Security alerts of every healthy repository
//! (`GET {advsec}/{project}/_apis/alert/repositories/{repo}/alerts`, continuation token in
//! the `x-ms-continuationtoken` header), each with `__repositoryId` and `__projectId`, as
//! Port yields them.
//!
//! The selector's `criteria` become ADO's query filters: `states` → `criteria.states`,
//! `severity` → `criteria.severities`, `alertType` → `criteria.alertType` (lists
//! comma-joined). Port sends the severities as `criteria.severity`, a name the alerts API
//! does not define, so its severity filter never reaches ADO; here it does. The page size is
//! the API's `top` (not `$top`, which it ignores).
//!
//! An incremental pass adds `criteria.modifiedSince`, as Port's does.
//!
//! A repository without Advanced Security answers HTTP 400; that reads as "no alerts" only
//! when ADO's error body says so with its typed key (`absent::ADVANCED_SECURITY_OFF`). Port
//! skips every 400, so a bad filter or api-version would silently empty the kind; here any
//! other 400 makes the kind incomplete.

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, absent, each, field, healthy, opt_strs, selector_schema};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `top` for alerts: no documented maximum; the continuation token ends the list.
pub(crate) const PAGE: usize = 1000;

/// The alerts API's version (a preview, as Port sends it).
const API_VERSION: &str = "7.2-preview.1";

pub(super) const KIND: KindDef = KindDef {
    name: "advanced-security-alert",
    schema: selector_schema!("advanced-security-alert"),
    options: &["criteria"],
    ignored_options: &[],
    scope: Scope::AdvancedSecurity,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let repos = ctx.repositories().await;
    let mut out = Collected::under(&repos);
    let mut filters = criteria(&selector);
    if let Some(since) = ctx.narrow.since_text() {
        filters.push(("criteria.modifiedSince", since));
    }
    let client = ctx.client.clone();
    let healthy_repos: Vec<Value> = repos.items.iter().filter(|r| healthy(r)).cloned().collect();
    let parts = each(healthy_repos, move |repo| {
        repository_alerts(client.clone(), repo, filters.clone())
    })
    .await;
    out.absorb(parts);
    out
}

/// The query filters the selector's `criteria` asks for, in the alerts API's names.
fn criteria(selector: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let Some(Value::Object(criteria)) = selector.get("criteria") else {
        return Vec::new();
    };
    let mut params = Vec::new();
    for (option, param) in [
        ("states", "criteria.states"),
        ("severity", "criteria.severities"),
        ("alertType", "criteria.alertType"),
    ] {
        let values = opt_strs(criteria, option);
        if !values.is_empty() {
            params.push((param, values.join(",")));
        }
    }
    params
}

async fn repository_alerts(
    client: Client,
    repo: Value,
    filters: Vec<(&'static str, String)>,
) -> Collected {
    let mut out = Collected::default();
    let project = field(&repo, "/project/id");
    let id = field(&repo, "/id");
    let mut call = Call::get(
        Service::AdvancedSecurity,
        format!("/{project}/_apis/alert/repositories/{id}/alerts"),
        Scope::AdvancedSecurity,
    )
    .param("top", PAGE.to_string());
    for (param, value) in filters {
        call = call.param(param, value);
    }
    call = call.param("api-version", API_VERSION);
    let alerts = match paging::by_continuation(&client, call, "value", None).await {
        Ok(alerts) => alerts,
        // Advanced Security is off for this repository, or it was deleted since listed.
        Err(p)
            if p.items.is_empty()
                && (p.error.is_status_as(400, absent::ADVANCED_SECURITY_OFF)
                    || p.error.is_not_found_as(absent::REPOSITORY_GONE)) =>
        {
            Vec::new()
        }
        Err(p) => out.take("advanced security alerts", Err(p)),
    };
    out.items = alerts
        .into_iter()
        .map(|mut alert| {
            if let Value::Object(map) = &mut alert {
                map.insert("__repositoryId".into(), Value::String(id.to_owned()));
                map.insert("__projectId".into(), Value::String(project.to_owned()));
            }
            alert
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn criteria_become_the_alerts_apis_filters() {
        let selector = json!({"query": "true", "criteria": {
            "states": ["active", "dismissed"], "severity": ["high", "critical"],
            "alertType": "dependency"}});
        let Value::Object(selector) = selector else {
            unreachable!()
        };
        assert_eq!(
            criteria(&selector),
            [
                ("criteria.states", "active,dismissed".to_owned()),
                ("criteria.severities", "high,critical".to_owned()),
                ("criteria.alertType", "dependency".to_owned()),
            ]
        );
        let Value::Object(none) = json!({"criteria": {"states": null, "alertType": null}}) else {
            unreachable!()
        };
        assert!(criteria(&none).is_empty());
    }
}
