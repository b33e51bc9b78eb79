//! ADO service-hook subscriptions for the webhook: planned, then applied, idempotently.
//!
//! One subscription per event type of [`EVENT_TYPES`], organization-wide or per project,
//! each created on its publisher's host (`vsrm.` for `rm`, `advsec.` for `advsec`, the
//! organization's host otherwise). A subscription is *ours* when it posts to our URL
//! (`consumerInputs.url`); subscriptions of other consumers are never touched.
//!
//! - missing → created, with `basicAuthUsername`/`basicAuthPassword` when a secret is set,
//!   and `messagesToSend`/`detailedMessagesToSend` off (the handler reads ids, not prose);
//! - disabled (by a user, by ADO after failed deliveries) → re-enabled in place (PUT);
//! - a different basic-auth user (or auth added or removed) → updated in place;
//! - ours but no longer wanted (an event type dropped, a project removed, a duplicate a
//!   retried create left) → deleted with `prune`, else kept and counted.
//!
//! A second run changes nothing. ADO never returns the password (it masks it), so a changed
//! secret with the same user is not seen: delete the subscriptions (`--prune` with another
//! URL) or rotate the user too. A refusal (401/403) names the missing PAT scope.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::auth::WebhookAuth;
use super::events::{EVENT_TYPES, Publisher};
use crate::ado::Service;
use crate::ado::client::{self, Call, Client, Scope};

/// ADO's consumer for plain HTTP webhooks.
pub const CONSUMER_ID: &str = "webHooks";
/// Its action: POST the event.
pub const CONSUMER_ACTION_ID: &str = "httpRequest";

/// Errors planning or applying subscriptions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A publisher's subscriptions could not be listed.
    #[error("could not list the `{publisher}` service-hook subscriptions")]
    List {
        /// The publisher.
        publisher: &'static str,
        /// Why.
        #[source]
        source: client::Error,
    },
    /// A `--project` could not be found.
    #[error("could not find the project `{project}`")]
    Project {
        /// As given.
        project: String,
        /// Why.
        #[source]
        source: client::Error,
    },
    /// A change could not be made; the changes before it were.
    #[error("could not {change}")]
    Apply {
        /// The change, in words.
        change: String,
        /// Why.
        #[source]
        source: client::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to subscribe.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Where ADO posts: the public URL of `POST /webhook`.
    pub url: String,
    /// Projects (names or ids) to subscribe one by one; empty: organization-wide.
    pub projects: Vec<String>,
    /// The webhook's credentials, sent with every delivery.
    pub auth: Option<WebhookAuth>,
    /// Delete our subscriptions that are no longer wanted.
    pub prune: bool,
}

/// Where a subscription listens.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookScope {
    /// Every project of the organization.
    Organization,
    /// One project.
    Project {
        /// Its id.
        id: String,
        /// Its name, when known.
        name: Option<String>,
    },
}

impl HookScope {
    fn project_id(&self) -> Option<&str> {
        match self {
            HookScope::Organization => None,
            HookScope::Project { id, .. } => Some(id),
        }
    }
}

impl std::fmt::Display for HookScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookScope::Organization => f.write_str("organization"),
            HookScope::Project { name: Some(n), .. } => write!(f, "project {n}"),
            HookScope::Project { id, .. } => write!(f, "project {id}"),
        }
    }
}

/// One change to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create a subscription.
    Create {
        /// Its publisher.
        publisher: Publisher,
        /// Its event type.
        event_type: String,
        /// Where it listens.
        scope: HookScope,
    },
    /// Replace one of ours in place (re-enable it, or set its credentials).
    Update {
        /// Its id.
        id: String,
        /// Its publisher.
        publisher: Publisher,
        /// Its event type.
        event_type: String,
        /// Where it listens.
        scope: HookScope,
        /// Why.
        why: String,
    },
    /// Delete one of ours.
    Delete {
        /// Its id.
        id: String,
        /// Its publisher.
        publisher: Publisher,
        /// Its event type.
        event_type: String,
        /// Where it listens.
        scope: HookScope,
        /// Why.
        why: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Create {
                event_type, scope, ..
            } => write!(f, "create {event_type} ({scope})"),
            Change::Update {
                id,
                event_type,
                scope,
                why,
                ..
            } => write!(f, "update {event_type} ({scope}) [{id}]: {why}"),
            Change::Delete {
                id,
                event_type,
                scope,
                why,
                ..
            } => write!(f, "delete {event_type} ({scope}) [{id}]: {why}"),
        }
    }
}

/// What a sync would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// Wanted subscriptions already as they should be.
    pub unchanged: usize,
    /// Ours, not wanted, kept because `prune` is off.
    pub kept: usize,
}

impl SyncPlan {
    /// The plan as lines: one per change, then a summary.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let sign = match change {
                Change::Create { .. } => '+',
                Change::Update { .. } => '~',
                Change::Delete { .. } => '-',
            };
            out.push_str(&format!("{sign} {change}\n"));
        }
        let count = |f: fn(&Change) -> bool| self.changes.iter().filter(|c| f(c)).count();
        out.push_str(&format!(
            "{} to create, {} to update, {} to delete, {} unchanged",
            count(|c| matches!(c, Change::Create { .. })),
            count(|c| matches!(c, Change::Update { .. })),
            count(|c| matches!(c, Change::Delete { .. })),
            self.unchanged
        ));
        if self.kept > 0 {
            out.push_str(&format!(
                ", {} of ours no longer wanted (--prune deletes them)",
                self.kept
            ));
        }
        out.push('\n');
        out
    }
}

/// The subscriptions `options` want, by (publisher, event type, project id).
fn wanted(scopes: &[HookScope]) -> Vec<(Publisher, &'static str, HookScope)> {
    let mut out = Vec::new();
    for t in EVENT_TYPES {
        for scope in scopes {
            out.push((t.publisher, t.name, scope.clone()));
        }
    }
    out
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Resolves `--project` values (names or ids) to scopes; none means the organization.
async fn scopes(client: &Client, projects: &[String]) -> Result<Vec<HookScope>> {
    if projects.is_empty() {
        return Ok(vec![HookScope::Organization]);
    }
    let mut out = Vec::new();
    for project in projects {
        let call = Call::get(
            Service::Core,
            format!("/_apis/projects/{project}"),
            Scope::ProjectAndTeam,
        )
        .param("api-version", "7.1");
        let page = client.send(&call).await.map_err(|source| Error::Project {
            project: project.clone(),
            source,
        })?;
        let id = text(&page.body, "/id").unwrap_or(project).to_owned();
        let name = text(&page.body, "/name").map(str::to_owned);
        out.push(HookScope::Project { id, name });
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Every subscription of `publisher`, from its host.
async fn list(client: &Client, publisher: Publisher) -> Result<Vec<Value>> {
    let call = Call::get(
        publisher.service(),
        "/_apis/hooks/subscriptions",
        Scope::ServiceHooks,
    )
    .param("publisherId", publisher.id())
    .param("api-version", "7.1");
    let page = client.send(&call).await.map_err(|source| Error::List {
        publisher: publisher.id(),
        source,
    })?;
    Ok(page
        .body
        .get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Compares what ADO has with what `options` want.
pub async fn plan(client: &Client, options: &SyncOptions) -> Result<SyncPlan> {
    let scopes = scopes(client, &options.projects).await?;
    let names: BTreeMap<String, HookScope> = scopes
        .iter()
        .filter_map(|s| s.project_id().map(|id| (id.to_owned(), s.clone())))
        .collect();
    // Ours, grouped by (publisher, event type, project id).
    let mut ours: BTreeMap<(Publisher, String, Option<String>), Vec<Value>> = BTreeMap::new();
    for publisher in Publisher::ALL {
        for sub in list(client, publisher).await? {
            let is_ours = text(&sub, "/consumerId") == Some(CONSUMER_ID)
                && text(&sub, "/consumerInputs/url").is_some_and(|u| same_url(u, &options.url));
            if !is_ours {
                continue;
            }
            let key = (
                publisher,
                text(&sub, "/eventType").unwrap_or_default().to_owned(),
                text(&sub, "/publisherInputs/projectId").map(str::to_owned),
            );
            ours.entry(key).or_default().push(sub);
        }
    }
    let scope_of = |project: &Option<String>| match project {
        None => HookScope::Organization,
        Some(id) => names.get(id).cloned().unwrap_or(HookScope::Project {
            id: id.clone(),
            name: None,
        }),
    };
    let mut plan = SyncPlan::default();
    let mut unwanted: Vec<(Publisher, String, Option<String>, Value, String)> = Vec::new();
    for (publisher, event_type, scope) in wanted(&scopes) {
        let key = (
            publisher,
            event_type.to_owned(),
            scope.project_id().map(str::to_owned),
        );
        let Some(mut found) = ours.remove(&key) else {
            plan.changes.push(Change::Create {
                publisher,
                event_type: event_type.to_owned(),
                scope,
            });
            continue;
        };
        // Keep an enabled one if there is one; the others are duplicates.
        found.sort_by_key(|s| !is_enabled(s));
        let keep = found.remove(0);
        for dup in found {
            unwanted.push((
                publisher,
                event_type.to_owned(),
                key.2.clone(),
                dup,
                "a duplicate".into(),
            ));
        }
        let id = text(&keep, "/id").unwrap_or_default().to_owned();
        let status = text(&keep, "/status").unwrap_or("unknown").to_owned();
        let user = text(&keep, "/consumerInputs/basicAuthUsername");
        let why = if !is_enabled(&keep) {
            Some(format!("re-enable (it is {status})"))
        } else if user != options.auth.as_ref().map(WebhookAuth::user) {
            Some("set the basic-auth credentials".to_owned())
        } else {
            None
        };
        match why {
            Some(why) => plan.changes.push(Change::Update {
                id,
                publisher,
                event_type: event_type.to_owned(),
                scope,
                why,
            }),
            None => plan.unchanged += 1,
        }
    }
    for ((publisher, event_type, project), subs) in ours {
        for sub in subs {
            unwanted.push((
                publisher,
                event_type.clone(),
                project.clone(),
                sub,
                "no longer wanted".into(),
            ));
        }
    }
    for (publisher, event_type, project, sub, why) in unwanted {
        if options.prune {
            plan.changes.push(Change::Delete {
                id: text(&sub, "/id").unwrap_or_default().to_owned(),
                publisher,
                event_type,
                scope: scope_of(&project),
                why,
            });
        } else {
            plan.kept += 1;
        }
    }
    Ok(plan)
}

/// Enabled, or on probation (still delivering, ADO is only watching failures).
fn is_enabled(sub: &Value) -> bool {
    matches!(text(sub, "/status"), Some("enabled" | "onProbation"))
}

/// The body ADO takes to create or replace a subscription.
fn body(publisher: Publisher, event_type: &str, scope: &HookScope, options: &SyncOptions) -> Value {
    let mut consumer = json!({
        "url": options.url,
        "resourceDetailsToSend": "all",
        "messagesToSend": "none",
        "detailedMessagesToSend": "none",
    });
    if let Some(auth) = &options.auth {
        consumer["basicAuthUsername"] = json!(auth.user());
        consumer["basicAuthPassword"] = json!(auth.secret().expose());
    }
    let publisher_inputs = match scope.project_id() {
        Some(id) => json!({"projectId": id}),
        None => json!({}),
    };
    json!({
        "publisherId": publisher.id(),
        "eventType": event_type,
        "consumerId": CONSUMER_ID,
        "consumerActionId": CONSUMER_ACTION_ID,
        "publisherInputs": publisher_inputs,
        "consumerInputs": consumer,
        "status": "enabled",
    })
}

/// Makes the changes of `plan`, in order; stops at the first failure (the ones before it
/// are made, and a second run picks up from there). Returns how many were made.
pub async fn apply(client: &Client, plan: &SyncPlan, options: &SyncOptions) -> Result<usize> {
    let path = "/_apis/hooks/subscriptions";
    for (done, change) in plan.changes.iter().enumerate() {
        let result = match change {
            Change::Create {
                publisher,
                event_type,
                scope,
            } => {
                let call = Call::post(
                    publisher.service(),
                    path,
                    Scope::ServiceHooks,
                    body(*publisher, event_type, scope, options),
                )
                .param("api-version", "7.1");
                client.send(&call).await.map(drop)
            }
            Change::Update {
                id,
                publisher,
                event_type,
                scope,
                ..
            } => {
                let mut replacement = body(*publisher, event_type, scope, options);
                replacement["id"] = json!(id);
                let call = Call::put(
                    publisher.service(),
                    format!("{path}/{id}"),
                    Scope::ServiceHooks,
                    replacement,
                )
                .param("api-version", "7.1");
                client.send(&call).await.map(drop)
            }
            Change::Delete { id, publisher, .. } => {
                let call = Call::delete(
                    publisher.service(),
                    format!("{path}/{id}"),
                    Scope::ServiceHooks,
                )
                .param("api-version", "7.1");
                client.send_text(&call).await.map(drop)
            }
        };
        if let Err(source) = result {
            tracing::info!(made = done, "stopping at the first failed change");
            return Err(Error::Apply {
                change: change.to_string(),
                source,
            });
        }
    }
    Ok(plan.changes.len())
}
