//! The kinds ADO can yield, one small module per kind or family, listed in [`KINDS`].
//!
//! Adding a kind is one module with a `pub(super) const KIND: KindDef` and one line in
//! [`KINDS`]. Each kind yields raw JSON items exactly as ADO returns them plus the same
//! `__` enrichment fields Port's integration adds (`__project`, `__repository`, …), so
//! existing mappings work; [`AdoSource`] adds `__organizationUrl`/`__organizationName`
//! to every item, as Port does.
//!
//! Parent lists (projects, repositories, teams, groups, boards, pipelines, builds,
//! environments) are fetched once per sync and shared by every kind that needs them; a
//! parent list that is incomplete makes every kind built on it incomplete.
//!
//! Each reason a kind is incomplete is a [`Problem`]: words for people, and an
//! [`Incomplete`] cause for code (a refused PAT is `Unauthorized`, so the run can fail on
//! it). A 404 is "none" only where `absent` says so for that endpoint.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::client::{self, Client, Scope};
use super::paging::{self, Partial};
use super::source::{Incomplete, Listing, Source};

pub use included::FILE_PATHS_OPTION;

mod absent;
mod advanced_security;
mod area_path;
mod board;
mod branch;
mod build;
mod content;
mod environment;
mod file;
mod folder;
mod git_item;
mod group;
mod included;
mod iteration;
mod member;
mod options;
mod patterns;
mod pipeline;
mod pipeline_run;
mod pipeline_stage;
mod policy;
mod project;
mod pull_request;
mod release;
mod release_definition;
mod release_deployment;
mod repository;
mod team;
mod test_run;
mod user;
mod wiki;
mod work_item;

#[cfg(test)]
mod tests;

pub(crate) use options::{opt_bool, opt_bool_or, opt_str, opt_strs, opt_u64};

/// Every kind, in the order a full fetch runs them (parents first).
pub static KINDS: &[KindDef] = &[
    project::KIND,
    team::KIND,
    member::KIND,
    user::KIND,
    group::KIND,
    group::MEMBER,
    repository::KIND,
    policy::KIND,
    branch::KIND,
    pull_request::KIND,
    file::KIND,
    folder::KIND,
    pipeline::KIND,
    build::KIND,
    pipeline_stage::KIND,
    pipeline_run::KIND,
    environment::KIND,
    environment::DEPLOYMENT,
    release::KIND,
    release_definition::KIND,
    release_deployment::KIND,
    test_run::KIND,
    work_item::KIND,
    board::KIND,
    board::COLUMN,
    iteration::KIND,
    area_path::KIND,
    advanced_security::KIND,
    wiki::KIND,
];

/// Whether a policy configuration applies to a repository's branch, as ADO's
/// `repositoryId`/`refName` filter decides (shared with the fake server).
#[must_use]
pub fn policy_applies(policy: &Value, repository_id: &str, ref_name: Option<&str>) -> bool {
    policy::applies(policy, repository_id, ref_name)
}

/// Looks a kind up by the name a mapping resource uses.
#[must_use]
pub fn find(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|k| k.name == name)
}

/// How a kind is fetched: the sync's context and the resource's selector in, items out.
pub(crate) type FetchFn = fn(SyncCtx, Map<String, Value>) -> KindFuture;

/// A boxed future of one kind's fetch.
pub(crate) type KindFuture = Pin<Box<dyn Future<Output = Collected> + Send>>;

/// One kind: its name, selector schema and options, PAT scope, and how to fetch it. The one
/// registry of kinds: lint validates selectors against `schema` (and warns on the options
/// Port ignores); the source fetches through `fetch`.
pub struct KindDef {
    /// The kind as a mapping names it (`work-item`).
    pub name: &'static str,
    /// The selector's JSON Schema (`schemas/selectors/KIND.schema.json`).
    pub schema: &'static str,
    /// Selector options the kind reads besides `query`.
    pub options: &'static [&'static str],
    /// Selector options Port's integration accepts but ignores (kept so Port's mappings
    /// load): lint warns (`ignored-selector-option`) that each has no effect, and why.
    /// Never also in `options`.
    pub ignored_options: &'static [IgnoredOption],
    /// The PAT scope its main endpoint needs.
    pub scope: Scope,
    /// How to fetch it.
    fetch: FetchFn,
}

/// Options every kind's selector accepts (Port's core defines them for all kinds) that
/// adoport does not read: lint warns about each like a kind's own `ignored_options`.
pub static COMMON_IGNORED_OPTIONS: &[IgnoredOption] = &[IgnoredOption {
    name: "exportEnvVariables",
    why: "Port's integration uses it only to add environment values to the raw data it sends to Port's lakehouse; adoport sends Port no raw data.",
}];

/// A selector option Port's integration accepts but ignores, and why it has no effect.
#[derive(Debug)]
pub struct IgnoredOption {
    /// The option as a selector spells it (`includeRelease`).
    pub name: &'static str,
    /// Why it does nothing, as one sentence lint shows.
    pub why: &'static str,
}

impl KindDef {
    /// The accepted-but-ignored option `name`, if the kind has one (its own, or one every
    /// selector accepts).
    #[must_use]
    pub fn ignored_option(&self, name: &str) -> Option<&'static IgnoredOption> {
        self.ignored_options
            .iter()
            .chain(COMMON_IGNORED_OPTIONS)
            .find(|o| o.name == name)
    }
}

/// A kind's selector schema, compiled into the binary.
macro_rules! selector_schema {
    ($name:literal) => {
        include_str!(concat!(
            "../../../schemas/selectors/",
            $name,
            ".schema.json"
        ))
    };
}
pub(crate) use selector_schema;

impl std::fmt::Debug for KindDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One reason a listing is incomplete: in words, and as a cause code can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The reason, scrubbed of secrets (it is shown and stored).
    pub(crate) text: String,
    /// What kind of failure it is.
    pub(crate) cause: Incomplete,
}

impl Problem {
    /// A problem that is not an auth failure.
    pub(crate) fn failed(text: impl Into<String>) -> Self {
        Problem {
            text: crate::secrets::scrub(&text.into()).into_owned(),
            cause: Incomplete::Failed,
        }
    }

    /// `what: error chain`, with the cause the error implies (a refused PAT, or a failure).
    pub(crate) fn of(what: &str, err: &dyn std::error::Error, refused: Option<Scope>) -> Self {
        Problem {
            text: format!("{what}: {}", chain(err)),
            cause: match refused {
                Some(scope) => Incomplete::Unauthorized { scope },
                None => Incomplete::Failed,
            },
        }
    }

    /// A failed call.
    pub(crate) fn call(what: &str, err: &client::Error) -> Self {
        Problem::of(what, err, err.refused_scope())
    }

    /// A failed listing.
    pub(crate) fn paging(what: &str, err: &paging::Error) -> Self {
        Problem::of(what, err, err.refused_scope())
    }
}

/// Items of one kind and the problems that make them incomplete.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) items: Vec<Value>,
    pub(crate) problems: Vec<Problem>,
}

impl Collected {
    /// An empty result that inherits the parent list's problem: a kind fetched under a
    /// partial parent list is itself partial.
    pub(crate) fn under(parents: &ParentList) -> Self {
        Collected {
            items: Vec::new(),
            problems: parents.problem.iter().cloned().collect(),
        }
    }

    /// Records why the listing is incomplete (not an auth failure).
    pub(crate) fn problem(&mut self, reason: impl Into<String>) {
        self.problems.push(Problem::failed(reason));
    }

    /// Records a failed call as the reason the listing is incomplete.
    pub(crate) fn failed(&mut self, what: &str, err: &client::Error) {
        self.problems.push(Problem::call(what, err));
    }

    /// Takes a paged result: its items, and its error as a problem.
    pub(crate) fn take(&mut self, what: &str, result: Result<Vec<Value>, Partial>) -> Vec<Value> {
        match result {
            Ok(items) => items,
            Err(partial) => {
                self.problems.push(Problem::paging(what, &partial.error));
                partial.items
            }
        }
    }

    /// Takes a paged result under a parent listed in this run: a 404 whose ADO error key is
    /// one of `none` (see `absent`), on the first page, means the parent has none.
    pub(crate) fn take_under(
        &mut self,
        what: &str,
        result: Result<Vec<Value>, Partial>,
        none: &[&str],
    ) -> Vec<Value> {
        match result {
            Err(p) if p.items.is_empty() && p.error.is_not_found_as(none) => Vec::new(),
            other => self.take(what, other),
        }
    }

    /// Folds the parts of a fan-out (one per parent) into this one, in order.
    pub(crate) fn absorb(&mut self, parts: impl IntoIterator<Item = Collected>) {
        for part in parts {
            self.extend(part);
        }
    }

    /// Merges another part of the same kind.
    pub(crate) fn extend(&mut self, other: Collected) {
        self.items.extend(other.items);
        self.problems.extend(other.problems);
    }

    fn into_listing(self, kind: &str) -> Listing {
        let Some(cause) = worst(&self.problems) else {
            return Listing::complete(kind, self.items);
        };
        let shown: Vec<&str> = self
            .problems
            .iter()
            .take(3)
            .map(|p| p.text.as_str())
            .collect();
        let mut reason = shown.join("; ");
        if self.problems.len() > 3 {
            reason.push_str(&format!("; and {} more", self.problems.len() - 3));
        }
        Listing::incomplete(kind, self.items, reason).with_cause(cause)
    }
}

/// The cause that wins among `problems` (an auth failure over anything else).
fn worst(problems: &[Problem]) -> Option<Incomplete> {
    problems
        .iter()
        .map(|p| p.cause.clone())
        .reduce(Incomplete::worst)
}

/// `error: cause: cause` on one line, scrubbed.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    crate::http::error_chain(err)
}

/// A parent list shared by the kinds of one sync.
#[derive(Debug, Default)]
pub(crate) struct ParentList {
    pub(crate) items: Vec<Value>,
    pub(crate) problem: Option<Problem>,
}

impl ParentList {
    /// A parent list from a listing gathered like a kind's: its items, and its problems as
    /// one (the first one's words with a count of the rest, and the worst cause of all).
    pub(crate) fn from_collected(collected: Collected) -> Self {
        let Collected {
            items,
            mut problems,
        } = collected;
        let cause = worst(&problems);
        let problem = match problems.len() {
            0 => None,
            n => {
                let mut first = problems.swap_remove(0);
                if n > 1 {
                    first.text = format!("{}; and {} more", first.text, n - 1);
                }
                if let Some(cause) = cause {
                    first.cause = cause;
                }
                Some(first)
            }
        };
        ParentList { items, problem }
    }
}

/// Parent lists, each fetched at most once per sync.
#[derive(Debug, Default)]
pub(crate) struct Parents {
    projects: OnceCell<Arc<ParentList>>,
    repositories: OnceCell<Arc<ParentList>>,
    boards: OnceCell<Arc<ParentList>>,
    teams: OnceCell<Arc<ParentList>>,
    groups: OnceCell<Arc<ParentList>>,
    pipelines: OnceCell<Arc<ParentList>>,
    builds: OnceCell<Arc<ParentList>>,
    environments: OnceCell<Arc<ParentList>>,
    /// The ids of the projects `excludedTags` dropped, set when the project list is read.
    excluded_projects: std::sync::OnceLock<Arc<BTreeSet<String>>>,
}

/// Source-wide settings (not selector options): they apply to every kind.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// Project tags whose projects (and everything under them) are skipped (`excludedTags`).
    pub excluded_tags: Vec<String>,
    /// "Now" for relative time windows (pull-request `minTimeInDays`); `None` = the clock.
    pub now: Option<jiff::Timestamp>,
}

/// What a kind's fetch gets: the client, the shared parents and the source settings.
#[derive(Clone, Debug)]
pub(crate) struct SyncCtx {
    pub(crate) client: Client,
    parents: Arc<Parents>,
    pub(crate) options: Arc<SourceOptions>,
}

impl SyncCtx {
    /// The projects of the organization (after `excludedTags`), fetched once.
    pub(crate) async fn projects(&self) -> Arc<ParentList> {
        self.parents
            .projects
            .get_or_init(|| project::list_projects(self.clone()))
            .await
            .clone()
    }

    /// Every repository of every project (disabled ones included), fetched once.
    pub(crate) async fn repositories(&self) -> Arc<ParentList> {
        self.parents
            .repositories
            .get_or_init(|| repository::list_repositories(self.clone()))
            .await
            .clone()
    }

    /// Every board of every team (with `__project`), fetched once.
    pub(crate) async fn boards(&self) -> Arc<ParentList> {
        self.parents
            .boards
            .get_or_init(|| board::list_boards(self.clone()))
            .await
            .clone()
    }

    /// Every team of the organization (`GET {org}/_apis/teams`), fetched once.
    pub(crate) async fn teams(&self) -> Arc<ParentList> {
        self.parents
            .teams
            .get_or_init(|| team::list_teams(self.clone()))
            .await
            .clone()
    }

    /// Every pipeline of every project (with `__projectId`), fetched once: the `pipeline`
    /// kind and the runs of `pipeline-run` share it.
    pub(crate) async fn pipelines(&self) -> Arc<ParentList> {
        self.parents
            .pipelines
            .get_or_init(|| pipeline::list_pipelines(self.clone()))
            .await
            .clone()
    }

    /// Every graph group of the organization (`GET {vssps}/_apis/graph/groups`), fetched once.
    pub(crate) async fn groups(&self) -> Arc<ParentList> {
        self.parents
            .groups
            .get_or_init(|| group::list_groups(self.clone()))
            .await
            .clone()
    }

    /// Every build of every project (with `__projectId` and `__project`), fetched once: the
    /// `build` kind and the timelines of `pipeline-stage` share it.
    pub(crate) async fn builds(&self) -> Arc<ParentList> {
        self.parents
            .builds
            .get_or_init(|| build::list_builds(self.clone()))
            .await
            .clone()
    }

    /// Every pipeline environment of every project, fetched once: the `environment` kind
    /// and the deployment records of `pipeline-deployment` share it.
    pub(crate) async fn environments(&self) -> Arc<ParentList> {
        self.parents
            .environments
            .get_or_init(|| environment::list_environments(self.clone()))
            .await
            .clone()
    }

    /// The projects `excludedTags` drop, for the kinds listed organization-wide (teams,
    /// their members, graph groups): their ids, and the project list's problem (an
    /// excluded project the partial list missed is not known to be excluded). `None`
    /// without excluded tags.
    pub(crate) async fn excluded_projects(
        &self,
    ) -> Option<(Arc<BTreeSet<String>>, Option<Problem>)> {
        if self.options.excluded_tags.is_empty() {
            return None;
        }
        let projects = self.projects().await;
        let ids = self
            .parents
            .excluded_projects
            .get()
            .cloned()
            .unwrap_or_default();
        Some((ids, projects.problem.clone()))
    }

    /// Records the projects `excludedTags` dropped (once per sync).
    pub(crate) fn set_excluded_projects(&self, ids: BTreeSet<String>) {
        let _ = self.parents.excluded_projects.set(Arc::new(ids));
    }

    /// `now` for relative windows.
    pub(crate) fn now(&self) -> jiff::Timestamp {
        self.options.now.unwrap_or_else(jiff::Timestamp::now)
    }
}

/// Repositories the child kinds read: enabled, in a healthy project (as Port filters).
pub(crate) fn healthy(repo: &Value) -> bool {
    let disabled = repo
        .get("isDisabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let state = repo
        .pointer("/project/state")
        .and_then(Value::as_str)
        .unwrap_or("wellFormed");
    !disabled && !matches!(state, "deleted" | "deleting" | "new" | "createPending")
}

/// Runs `f` over `inputs` concurrently (the client bounds requests in flight), keeping order.
pub(crate) async fn each<T, R, F, Fut>(inputs: Vec<T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let count = inputs.len();
    for (index, input) in inputs.into_iter().enumerate() {
        let fut = f(input);
        set.spawn(async move { (index, fut.await) });
    }
    let mut out = Vec::with_capacity(count);
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(pair) => out.push(pair),
            // A panic in a fetch task is a bug: surface it, do not hide it as missing data.
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // Cancelled: only when the set is aborted or dropped, which happens only if this
            // future is itself dropped, and then nobody reads `out`.
            Err(_) => {}
        }
    }
    out.sort_by_key(|(index, _)| *index);
    out.into_iter().map(|(_, r)| r).collect()
}

/// A string field of an item (`""` when missing).
pub(crate) fn field<'a>(item: &'a Value, pointer: &str) -> &'a str {
    item.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// An id field as it goes into a URL: a number's digits, or a string as it is (`""` when
/// missing). ADO writes some ids as numbers (`build.id`) and others as strings (a test
/// run's `build.id`).
pub(crate) fn id_field(item: &Value, pointer: &str) -> String {
    match item.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Adds an enrichment field to an item. An item that is not an object is left as it is: the
/// mapping reports it as an item error (and the kind incomplete) instead of this panicking.
pub(crate) fn set_field(item: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = item {
        map.insert(key.to_owned(), value);
    }
}

/// The live ADO REST API as a [`Source`]; one instance per sync shares parent lists.
#[derive(Debug)]
pub struct AdoSource {
    sync: SyncCtx,
}

impl AdoSource {
    /// A source over `client`'s organization.
    #[must_use]
    pub fn new(client: Client, options: SourceOptions) -> Self {
        AdoSource {
            sync: SyncCtx {
                client,
                parents: Arc::new(Parents::default()),
                options: Arc::new(options),
            },
        }
    }

    /// The client (for request counts).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.sync.client
    }

    /// Forgets the cached parent lists, so the next fetch starts a fresh sync.
    pub fn start_new_sync(&mut self) {
        self.sync.parents = Arc::new(Parents::default());
    }
}

#[async_trait]
impl Source for AdoSource {
    async fn fetch(&self, kind: &str, selector: &Map<String, Value>) -> Listing {
        let Some(fetch) = find(kind).map(|def| def.fetch) else {
            return Listing::incomplete(
                kind,
                Vec::new(),
                format!("{kind:?} is not a kind this version fetches"),
            );
        };
        let started = std::time::Instant::now();
        let mut selector = selector.clone();
        let file_paths = included::take_file_paths(&mut selector);
        let mut collected = fetch(self.sync.clone(), selector).await;
        if !file_paths.is_empty() {
            // `file://PATH` mapping values: read like `includedFiles`, keeping what the
            // kind's own `includedFiles` already read.
            let problems = included::attach(
                &self.sync.client,
                kind,
                &mut collected.items,
                &file_paths,
                true,
            )
            .await;
            collected.problems.extend(problems);
        }
        let mut listing = collected.into_listing(kind);
        match &listing.error {
            None => {
                tracing::debug!(kind, items = listing.items.len(), elapsed = ?started.elapsed(), "fetched")
            }
            Some(error) => {
                tracing::warn!(kind, items = listing.items.len(), %error, "fetched incompletely")
            }
        }
        let org = self.sync.client.org().organization();
        for item in &mut listing.items {
            if let Value::Object(map) = item {
                map.insert("__organizationUrl".into(), Value::String(org.url.clone()));
                map.insert("__organizationName".into(), Value::String(org.name.clone()));
            }
        }
        listing.in_organization(org)
    }
}
