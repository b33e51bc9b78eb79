//! `user`: organization users, from user entitlements (`vsaex.`, the default) or the graph
//! (`vssps.`), as Port's `source` option selects.

use serde_json::{Map, Value};

use super::{Collected, KindDef, SyncCtx, opt_bool, opt_str, opt_strs};
use crate::ado::client::{Call, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `top` for entitlements with an api-version below 7 (`top`/`skip` paging); ADO caps it at 10,000.
pub(crate) const LEGACY_PAGE: usize = 10_000;

pub(super) const KIND: KindDef = KindDef {
    name: "user",
    options: &[
        "source",
        "subjectTypes",
        "includeGroupMemberships",
        "includeFields",
        "apiVersion",
    ],
    scope: Scope::MemberEntitlements,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
};

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let mut out = Collected::default();
    if opt_str(&selector, "source") == Some("graph") {
        if opt_bool(&selector, "includeGroupMemberships") {
            out.problem("user: includeGroupMemberships is not supported yet");
        }
        let mut call = Call::get(Service::Graph, "/_apis/graph/users", Scope::Graph)
            .param("api-version", "7.1-preview.1");
        let types = opt_strs(&selector, "subjectTypes");
        if !types.is_empty() {
            call = call.param("subjectTypes", types.join(","));
        }
        out.items = out.take(
            "graph users",
            paging::by_continuation(&ctx.client, call, "value", None).await,
        );
        return out;
    }
    let mut call = Call::get(
        Service::Entitlements,
        "/_apis/userentitlements",
        Scope::MemberEntitlements,
    );
    let fields = opt_strs(&selector, "includeFields");
    if !fields.is_empty() {
        call = call.param("select", fields.join(","));
    }
    let version = opt_str(&selector, "apiVersion").unwrap_or("7.1").to_owned();
    let legacy = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major < 7);
    call = call.param("api-version", version);
    let result = if legacy {
        paging::by_skip(
            &ctx.client,
            call,
            "value",
            LEGACY_PAGE,
            None,
            ("top", "skip"),
        )
        .await
    } else {
        paging::by_continuation(&ctx.client, call, "items", None).await
    };
    out.items = out.take("user entitlements", result);
    out
}
