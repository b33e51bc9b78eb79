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
//! parent list that is incomplete makes every kind built on it incomplete. The build list,
//! as long as a kind, is kept as text (`TextList`).
//!
//! The largest kinds (`PAGED`) read their parts a few at a time in listing order
//! (`each_in_order`) and hand each to the sync's page sink as it comes, so `adoport
//! fetch` writes them without ever holding one whole.
//!
//! Each reason a kind is incomplete is a [`Problem`]: words for people, and an
//! [`Incomplete`] cause for code (a refused PAT is `Unauthorized`, so the run can fail on
//! it). A 404 is "none" only where `absent` says so for that endpoint.
//!
//! Reading some items again (live events, incremental passes) runs the kind's own fetch,
//! narrowed (see `narrow`): the parent lists hold only the parents the event names (its
//! project, its repository), and a [`Narrow`] asks each kind for the server-side filters
//! ADO has (`buildIds`, `releaseIdFilter`, `minTime`, …). The items come out exactly as a
//! full sync yields them, and each read is then cut to its target's scope
//! (`crate::ado::locate`). Work items are then read by id, without a query; pipeline runs
//! by id, without listing their pipeline's runs.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::client::{self, Client, Scope};
use super::locate::{self, Read, Target};
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
mod narrow;
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

pub(crate) use narrow::Narrow;

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
    /// Whether the kind's fetch honours [`Narrow::since`]: an incremental pass reads only
    /// the items changed since a time.
    pub incremental: bool,
}

/// Options every kind's selector accepts (Port's core defines them for all kinds) that
/// adoport does not read: lint warns about each like a kind's own `ignored_options`.
pub static COMMON_IGNORED_OPTIONS: &[IgnoredOption] = &[IgnoredOption {
    name: "exportEnvVariables",
    why: "Port's integration uses it only to add environment values to the raw data it sends to Port's lakehouse; adoport sends Port no raw data.",
}];

/// The kinds whose fetch hands items to [`SyncCtx::pages`] as they arrive (the largest:
/// held whole, 20,000 work items are 400 MB of `serde_json` values, and 12,500 pipeline
/// stages, each carrying its build, 500 MB).
const PAGED: &[&str] = &[
    "work-item",
    "pipeline-stage",
    "build",
    "pipeline-run",
    "test-run",
    "release",
];

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
        Collected::under_problem(parents.problem.as_ref())
    }

    /// [`Collected::under`] a parent list's problem, whatever form the list is kept in.
    pub(crate) fn under_problem(problem: Option<&Problem>) -> Self {
        Collected {
            items: Vec::new(),
            problems: problem.into_iter().cloned().collect(),
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

    /// Takes the next part of a kind read in listing order: its items go to the sync's
    /// page sink when it has one (and are not kept), else into this one; its problems
    /// always into this one. A sink gone before the end makes the listing incomplete.
    pub(crate) async fn hand_over(&mut self, ctx: &SyncCtx, what: &str, mut part: Collected) {
        if let Some(pages) = &ctx.pages {
            let items = std::mem::take(&mut part.items);
            if !items.is_empty() && pages.send(items).await.is_err() {
                self.problem(format!("{what}: the reader of the listing went away"));
            }
        }
        self.extend(part);
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

/// A parent list kept as JSON text, one string per item, each read back as it is used: a
/// build as a `serde_json` value takes about five times its text, and the build list is
/// the one parent list as long as a kind (5,000 builds: ~100 MB as values, 21 MB as text).
#[derive(Debug, Default)]
pub(crate) struct TextList {
    texts: Vec<Box<str>>,
    pub(crate) problem: Option<Problem>,
}

impl TextList {
    /// A list from the texts of its parts' items and their problems, as
    /// [`ParentList::from_collected`] folds them.
    pub(crate) fn from_parts(parts: impl IntoIterator<Item = (Vec<Box<str>>, Collected)>) -> Self {
        let mut texts = Vec::new();
        let mut problems = Collected::default();
        for (part, collected) in parts {
            texts.extend(part);
            problems.extend(collected);
        }
        TextList {
            texts,
            problem: ParentList::from_collected(problems).problem,
        }
    }

    /// Items as text, for [`TextList::from_parts`]; an item that cannot be written (never
    /// seen: a `Value` always can) is a problem.
    pub(crate) fn texts(items: Vec<Value>, out: &mut Collected) -> Vec<Box<str>> {
        items
            .into_iter()
            .filter_map(|item| match serde_json::to_string(&item) {
                Ok(text) => Some(text.into_boxed_str()),
                Err(e) => {
                    out.problems
                        .push(Problem::of("a listed item, kept as text", &e, None));
                    None
                }
            })
            .collect()
    }

    /// The items in order, each read back from its text; one that cannot be (deeper than
    /// the parser allows) is a problem of the kind reading it, never a missing item.
    pub(crate) fn items(&self) -> impl Iterator<Item = Result<Value, Problem>> + Send + '_ {
        self.texts.iter().map(|text| {
            serde_json::from_str(text)
                .map_err(|e| Problem::of("a listed item, read back from its text", &e, None))
        })
    }
}

impl From<Problem> for Collected {
    fn from(problem: Problem) -> Self {
        Collected {
            items: Vec::new(),
            problems: vec![problem],
        }
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
    builds: OnceCell<Arc<TextList>>,
    environments: OnceCell<Arc<ParentList>>,
    /// The ids of the projects `excludedTags` dropped, set when the project list is read.
    excluded_projects: std::sync::OnceLock<Arc<BTreeSet<String>>>,
}

impl Parents {
    /// Parent lists with the projects already known: a narrowed read fetches the other
    /// lists under these projects only.
    fn with_projects(projects: Arc<ParentList>) -> Self {
        Parents {
            projects: OnceCell::new_with(Some(projects)),
            ..Parents::default()
        }
    }
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
    /// What this read is narrowed to (nothing: a full sync).
    pub(crate) narrow: Arc<Narrow>,
    /// Where a kind that can hand its items over as they arrive sends them (in listing
    /// order) instead of collecting them: set by [`Source::fetch_into`].
    pub(crate) pages: Option<tokio::sync::mpsc::Sender<Vec<Value>>>,
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

    /// Every build of every project (with `__projectId` and `__project`), fetched once and
    /// kept as text: the `build` kind and the timelines of `pipeline-stage` share it.
    pub(crate) async fn builds(&self) -> Arc<TextList> {
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

    /// The project an event names, if it is in the selection (see `project::find`).
    pub(crate) async fn find_project(
        &self,
        wanted: &locate::ProjectRef,
    ) -> Result<Option<Value>, Problem> {
        project::find(self, wanted).await
    }

    /// The same sync, narrowed to `projects` and `narrow`: every other parent list is
    /// fetched afresh under those projects, with the narrow's filters.
    pub(crate) fn narrowed(&self, projects: Vec<Value>, narrow: Narrow) -> SyncCtx {
        SyncCtx {
            client: self.client.clone(),
            parents: Arc::new(Parents::with_projects(Arc::new(ParentList {
                items: projects,
                problem: None,
            }))),
            options: self.options.clone(),
            narrow: Arc::new(narrow),
            pages: None,
        }
    }

    /// The same sync with fresh parent lists (the projects excepted, which are kept when
    /// already read) and `narrow`'s filters.
    pub(crate) async fn refreshed(&self, narrow: Narrow) -> SyncCtx {
        let projects = self.projects().await;
        SyncCtx {
            client: self.client.clone(),
            parents: Arc::new(Parents::with_projects(projects)),
            options: self.options.clone(),
            narrow: Arc::new(narrow),
            pages: None,
        }
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

/// Parts [`each_in_order`] reads at once: as many as `adoport fetch` has requests in flight
/// by default (the client bounds requests further), so a part waiting for the one before it
/// rarely leaves the client idle.
const PARTS_IN_FLIGHT: usize = 16;

/// Runs `f` over `inputs` like [`each`], but [`PARTS_IN_FLIGHT`] at a time, and hands each
/// part over in input order as soon as the parts before it are in
/// ([`Collected::hand_over`]): with a page sink, the kind is never held whole, and no more
/// than the parts in flight are. `inputs` is read lazily, so a long parent list is not
/// copied up front.
pub(crate) async fn each_in_order<T, F, Fut>(
    ctx: &SyncCtx,
    what: &str,
    inputs: impl IntoIterator<Item = T>,
    f: F,
) -> Collected
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Collected> + Send + 'static,
{
    let mut out = Collected::default();
    let mut inputs = inputs.into_iter().enumerate();
    let mut set = tokio::task::JoinSet::new();
    // Parts done ahead of one still in flight, by input index.
    let mut ready: std::collections::BTreeMap<usize, Collected> = std::collections::BTreeMap::new();
    let mut next = 0;
    loop {
        while let Some(part) = ready.remove(&next) {
            next += 1;
            out.hand_over(ctx, what, part).await;
        }
        while set.len() + ready.len() < PARTS_IN_FLIGHT {
            let Some((index, input)) = inputs.next() else {
                break;
            };
            let fut = f(input);
            set.spawn(async move { (index, fut.await) });
        }
        match set.join_next().await {
            Some(Ok((index, part))) => {
                ready.insert(index, part);
            }
            // A panic in a fetch task is a bug: surface it, do not hide it as missing data.
            Some(Err(err)) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // Cancelled: only when the set is dropped with this future; see below.
            Some(Err(_)) => {}
            None => break,
        }
    }
    // Parts left behind a gap: a part that never came back. Never a short listing.
    if !ready.is_empty() {
        out.problem(format!("{what}: a part of the listing was not read"));
        for (_, part) in std::mem::take(&mut ready) {
            out.hand_over(ctx, what, part).await;
        }
    }
    out
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

/// The live ADO REST API as a [`Source`]. The parent lists are shared by the kinds of one
/// sync, until [`Source::start_new_sync`] forgets them.
#[derive(Debug)]
pub struct AdoSource {
    client: Client,
    options: Arc<SourceOptions>,
    parents: std::sync::Mutex<Arc<Parents>>,
}

impl AdoSource {
    /// A source over `client`'s organization.
    #[must_use]
    pub fn new(client: Client, options: SourceOptions) -> Self {
        AdoSource {
            client,
            options: Arc::new(options),
            parents: std::sync::Mutex::new(Arc::new(Parents::default())),
        }
    }

    /// The client (for request counts).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current sync: the client and the parent lists read so far.
    fn sync(&self) -> SyncCtx {
        let parents = self
            .parents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        SyncCtx {
            client: self.client.clone(),
            parents,
            options: self.options.clone(),
            narrow: Arc::new(Narrow::default()),
            pages: None,
        }
    }

    /// Runs `kind`'s fetch in `ctx` with `selector`, `file://` values read, the
    /// organization fields added.
    async fn collect(
        &self,
        def: &KindDef,
        ctx: SyncCtx,
        selector: &Map<String, Value>,
    ) -> Collected {
        let mut selector = selector.clone();
        let file_paths = included::take_file_paths(&mut selector);
        let mut collected = (def.fetch)(ctx, selector).await;
        if !file_paths.is_empty() {
            // `file://PATH` mapping values: read like `includedFiles`, keeping what the
            // kind's own `includedFiles` already read.
            let problems = included::attach(
                &self.client,
                def.name,
                &mut collected.items,
                &file_paths,
                true,
            )
            .await;
            collected.problems.extend(problems);
        }
        self.add_organization(&mut collected.items);
        collected
    }

    /// Stamps every item with its organization (`__organizationUrl`, `__organizationName`).
    fn add_organization(&self, items: &mut [Value]) {
        let org = self.client.org().organization();
        for item in items {
            if let Value::Object(map) = item {
                map.insert("__organizationUrl".into(), Value::String(org.url.clone()));
                map.insert("__organizationName".into(), Value::String(org.name.clone()));
            }
        }
    }

    /// Reads the targets of one project (or of every project, `None`) with `kind`'s fetch
    /// narrowed to them.
    async fn read_narrowed(
        &self,
        def: &KindDef,
        selector: &Map<String, Value>,
        project: Option<&locate::ProjectRef>,
        targets: &[Target],
    ) -> Vec<Read> {
        let sync = self.sync();
        let narrow = targets
            .iter()
            .map(|t| Narrow::of(&t.locator))
            .reduce(Narrow::union)
            .unwrap_or_default();
        let ctx = match project {
            None => sync.refreshed(narrow).await,
            Some(project) => match sync.find_project(project).await {
                Ok(Some(found)) => sync.narrowed(vec![found], narrow),
                // Gone, or left out by `excludedTags`: nothing of it is in the selection.
                Ok(None) => return targets.iter().map(|_| Read::found(Vec::new())).collect(),
                Err(problem) => {
                    return targets
                        .iter()
                        .map(|_| Read::failed(problem.text.clone(), problem.cause.clone()))
                        .collect();
                }
            },
        };
        let collected = self.collect(def, ctx, selector).await;
        let listing = Listing::complete(def.name, collected.items);
        locate::split(&listing, def.name, targets)
            .into_iter()
            .map(|read| Read::of_problems(read.items, &collected.problems))
            .collect()
    }
}

/// Items handed over at a time, ahead of the sink.
const PAGES_IN_FLIGHT: usize = 2;

fn unknown_kind(kind: &str) -> Listing {
    Listing::incomplete(
        kind,
        Vec::new(),
        format!("{kind:?} is not a kind this version fetches"),
    )
}

#[async_trait]
impl Source for AdoSource {
    async fn fetch(&self, kind: &str, selector: &Map<String, Value>) -> Listing {
        let Some(def) = find(kind) else {
            return unknown_kind(kind);
        };
        let started = std::time::Instant::now();
        let listing = self
            .collect(def, self.sync(), selector)
            .await
            .into_listing(kind);
        match &listing.error {
            None => {
                tracing::debug!(kind, items = listing.items.len(), elapsed = ?started.elapsed(), "fetched")
            }
            Some(error) => {
                tracing::warn!(kind, items = listing.items.len(), %error, "fetched incompletely")
            }
        }
        listing.in_organization(self.client.org().organization())
    }

    async fn fetch_into(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        sink: &(dyn Fn(Vec<Value>) + Send + Sync),
    ) -> Listing {
        let Some(def) = find(kind) else {
            return unknown_kind(kind);
        };
        let org = self.client.org().organization();
        let mut options = selector.clone();
        let paged = PAGED.contains(&def.name) && included::take_file_paths(&mut options).is_empty();
        if !paged {
            let mut listing = self.fetch(kind, selector).await;
            let items = std::mem::take(&mut listing.items);
            if !items.is_empty() {
                sink(items);
            }
            return listing;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Value>>(PAGES_IN_FLIGHT);
        let mut sync = self.sync();
        sync.pages = Some(tx);
        let started = std::time::Instant::now();
        let fetch = self.collect(def, sync, selector);
        let mut handed = 0;
        let drain = async {
            while let Some(mut items) = rx.recv().await {
                self.add_organization(&mut items);
                handed += items.len();
                sink(items);
            }
        };
        let (collected, ()) = tokio::join!(fetch, drain);
        let mut listing = collected.into_listing(kind);
        let count = handed + listing.items.len();
        match &listing.error {
            None => tracing::debug!(kind, items = count, elapsed = ?started.elapsed(), "fetched"),
            Some(error) => {
                tracing::warn!(kind, items = count, %error, "fetched incompletely")
            }
        }
        let items = std::mem::take(&mut listing.items);
        if !items.is_empty() {
            sink(items);
        }
        listing.in_organization_with(org, count)
    }

    async fn refetch(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        targets: &[Target],
    ) -> Vec<Read> {
        let Some(def) = find(kind) else {
            let listing = self.fetch(kind, selector).await;
            return locate::split(&listing, kind, targets);
        };
        let mut reads: Vec<Option<Read>> = vec![None; targets.len()];
        // A target that names no item of the kind is answered by a fresh whole listing.
        let (whole, named): (Vec<usize>, Vec<usize>) = (0..targets.len())
            .partition(|&i| locate::scope(kind, &targets[i].locator) == locate::Scope::Kind);
        if !whole.is_empty() {
            let ctx = self.sync().refreshed(Narrow::default()).await;
            let collected = self.collect(def, ctx, selector).await;
            let listing = collected.into_listing(kind);
            let picked: Vec<Target> = whole.iter().map(|&i| targets[i].clone()).collect();
            for (i, read) in whole.iter().zip(locate::split(&listing, kind, &picked)) {
                reads[*i] = Some(read);
            }
        }
        // One narrowed read per project the targets name.
        let mut groups: std::collections::BTreeMap<Option<locate::ProjectRef>, Vec<usize>> =
            std::collections::BTreeMap::new();
        for &i in &named {
            groups
                .entry(targets[i].project.clone())
                .or_default()
                .push(i);
        }
        for (project, members) in groups {
            let picked: Vec<Target> = members.iter().map(|&i| targets[i].clone()).collect();
            let answered = self
                .read_narrowed(def, selector, project.as_ref(), &picked)
                .await;
            for (i, read) in members.iter().zip(answered) {
                reads[*i] = Some(read);
            }
        }
        reads
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Read::failed("the target was not read", Incomplete::Failed))
            })
            .collect()
    }

    async fn changed_since(
        &self,
        kind: &str,
        selector: &Map<String, Value>,
        since: jiff::Timestamp,
    ) -> Option<Listing> {
        let def = find(kind).filter(|def| def.incremental)?;
        let narrow = Narrow {
            since: Some(since),
            ..Narrow::default()
        };
        let ctx = self.sync().refreshed(narrow).await;
        let listing = self.collect(def, ctx, selector).await.into_listing(kind);
        Some(listing.in_organization(self.client.org().organization()))
    }

    fn start_new_sync(&self) {
        *self
            .parents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Parents::default());
    }
}
