//! `adoport` keeps a Port software catalog in step with Azure DevOps.
//!
//! Data flows one way (see DESIGN.md): a source yields raw items, the mapping turns
//! them into entities, the reconciler compares them with a catalog and yields a plan,
//! and `apply` executes the plan.
//!
//! | module | owns |
//! |---|---|
//! | [`ado`] | Azure DevOps as a source: REST client, kinds, snapshot record/replay |
//! | [`config`] | loading a config repo (YAML with spans), JSON Schema validation, the typed model, lint diagnostics |
//! | [`jq`] | compiling and running jq (jaq) with Port's preprocessing, jq 1.8 compatibility and limits |
//! | [`mapping`] | selector and entity mapping over raw items → entities, with per-field diagnostics |
//! | [`entity`] | the entity model every stage shares (mapping, reconcile, catalogs) |
//! | [`search`] | search-query identifiers: the entities that carry them, and resolving a query against entities |
//! | [`blueprint`] | the blueprint model: Port blueprint JSON compared and merged field by field, relation order |
//! | [`port`] | the REST client for Port's API: tokens, retries, transport |
//! | [`http`] | what every HTTP client shares: server delays read safely, backoff, body caps, error text on one line |
//! | [`secrets`] | the registry of secret values and `scrub`, which takes them out of any text |
//! | [`catalog`] | the `Catalog` trait and where entities live: Port (`catalog::port`) or SQLite |
//! | [`desired`] | config + raw items → desired entities, per resource, cached by the resource's content |
//! | [`pipeline`] | the one chain every entry point runs: load → lint gate → items → map → plan → apply; opening sources and catalogs |
//! | [`progress`] | progress of long work, told to the front end's reporter |
//! | [`sync`] | the glue: config + source → desired state, incomplete kinds and guards for the reconciler |
//! | [`reconcile`] | plan (desired vs owned, pruning guards), apply (ordered, batched), render (text, markdown, json) |
//! | [`review`] | pull-request review: mapping diff, effect on entities and head's plan, between two revisions |
//! | [`watch`] | watch mode: re-lint and re-plan a config folder on every save, keeping the last good state |
//! | [`follow`] | following a config repository's branch: fetch (gix), lint, apply each good commit, refuse bad ones |
//! | [`serve`] | the always-on integration: webhook, durable event queue, worker, interval resync, subscriptions, health and metrics |

pub mod ado;
pub mod blueprint;
pub mod catalog;
pub mod config;
pub mod desired;
pub mod entity;
pub mod follow;
pub mod http;
pub mod jq;
pub mod mapping;
pub mod pipeline;
pub mod port;
pub mod progress;
pub mod reconcile;
pub mod review;
pub mod search;
pub mod secrets;
pub mod serve;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod watch;
