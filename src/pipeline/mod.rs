//! The one chain every entry point runs: load → lint gate → items → map → plan → apply.
//!
//! `plan`, `apply`, `watch`, pull-request review, `apply --follow` and `serve` each hold a
//! [`Pipeline`] and call it the same way, so a gate or a guard cannot differ between them:
//!
//! 1. [`load`] / [`gate`]: a config with lint errors is refused whole ([`Gate::Refused`],
//!    with its findings); warnings pass. Nothing is fetched, mapped or written for it.
//! 2. [`Pipeline::plan`]: the [`Evaluator`] maps every resource over the source's items
//!    (reusing what an earlier config already mapped), the guards come from the config and
//!    the run's [`Options`], and the plan is made against the catalog as it is now — read
//!    afresh on every plan, never remembered between plans.
//! 3. [`Pipeline::apply`]: the plan is executed, and the run recorded in the catalog.
//!
//! Each [`Planned`] carries a [`RunSummary`] of item-level failures (fields that raised an
//! error, items the selector could not judge), which every entry point reports. Opening
//! sources and catalogs from names is [`open`]'s; plans for some items (live events,
//! incremental passes) are [`targets`]'.

pub mod open;
pub mod summary;
pub mod targets;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::config::source::SourceFile;
use crate::config::{self, Config, ConfigSource, Diagnostic};
use crate::desired::{Evaluation, Evaluator, Items, MappingMapper};
use crate::reconcile::{self, ApplyOptions, ApplyReport, Plan};
use crate::review::{self, Review, Side};
use crate::sync::{self, GuardFlags};

pub use crate::desired::Traced;
pub use open::{Access, SourceSpec, TargetSpec};
pub use summary::{Level, Note, RunSummary};
pub use targets::{KindTarget, NoOrigins, Origins, TargetOutcome, TargetedPlan, TraceUpdate};

/// Errors that stop one run (a refused config is not an error: it is a [`Gate`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalog could not be listed: the plan is not made (never read as "empty").
    #[error("could not read the catalog {catalog}")]
    CatalogRead {
        /// The catalog, as it describes itself.
        catalog: String,
        /// Why.
        #[source]
        source: crate::catalog::Error,
    },
    /// The catalog's apply lock is held by another apply.
    #[error("could not start applying")]
    Locked(#[source] crate::catalog::Error),
    /// The pipeline was built without a catalog, and the run needs one.
    #[error("this run has no catalog to plan against")]
    NoCatalog,
    /// The runtime for catalog calls could not be started.
    #[error("could not start the runtime for catalog calls")]
    Runtime(#[source] std::io::Error),
    /// The record of which item each entity came from could not be read.
    #[error("could not read which items the entities came from")]
    Origins(#[source] targets::OriginsError),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config that passed the lint gate (warnings allowed).
#[derive(Clone, Debug)]
pub struct Checked {
    /// The typed config.
    pub config: Config,
    /// The commit it came from (a git source, or the checkout a folder sits in).
    pub revision: Option<String>,
    /// Its warnings, with the files to quote them from.
    pub warnings: Vec<Diagnostic>,
    /// The files, for rendering the warnings.
    pub sources: Vec<Arc<SourceFile>>,
    /// Where in git the config was read (its history tells which blueprints it once
    /// declared, for `--prune-blueprints`); `None` when it did not come from git.
    pub origin: Option<config::git::Origin>,
}

/// The lint gate's verdict on a config.
#[derive(Debug)]
pub enum Gate {
    /// No errors: the run may go on.
    Passed(Box<Checked>),
    /// Errors: nothing is fetched, mapped or written. The findings and files, for rendering.
    Refused(Box<config::Loaded>),
}

/// Lints `loaded` fully (schema, jq, blueprints) and lets it through only without errors.
pub fn gate(mut loaded: config::Loaded, revision: Option<String>) -> Gate {
    config::lint::lint(&mut loaded);
    match loaded.config.take() {
        Some(config) if !loaded.has_errors() => Gate::Passed(Box::new(Checked {
            config,
            revision,
            warnings: loaded.diagnostics,
            sources: loaded.sources,
            origin: None,
        })),
        config => {
            loaded.config = config;
            Gate::Refused(Box::new(loaded))
        }
    }
}

/// Reads the config at `source` and runs it through the [`gate`]. A folder inside a git
/// checkout is labelled with the checked-out commit, and its history is the config's.
pub fn load(source: &ConfigSource) -> config::location::Result<Gate> {
    let (loaded, commit) = source.load()?;
    let revision = commit.or_else(|| config::git::resolve(source.path(), "HEAD").ok());
    let mut gate = gate(loaded, revision.clone());
    if let (Gate::Passed(checked), Some(commit)) = (&mut gate, revision) {
        checked.origin = Some(config::git::Origin {
            path: source.path().to_path_buf(),
            commit,
        });
    }
    Ok(gate)
}

/// How a pipeline runs: the guards the command line sets, how apply writes, and whether
/// mapped entities are kept for the next plan.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--no-prune`, `--max-deletes`, … (each overrides the config when set).
    pub guards: GuardFlags,
    /// Batches in flight.
    pub apply: ApplyOptions,
    /// Keep each resource's entities so the next plan maps only what changed (watch mode,
    /// over fixed items). Off, each plan streams the items through the mapping and keeps
    /// nothing: memory stays flat at any size.
    pub reuse_mapped: bool,
    /// Trace each entity of a one-off plan to the item it came from ([`Planned::traced`]),
    /// for `serve`, whose live events find the entities of a gone item by it.
    pub trace: bool,
}

/// A plan with what the mapping reported on the way.
#[derive(Debug)]
pub struct Planned {
    /// What apply would do.
    pub plan: Plan,
    /// Item-level failures and incomplete listings, per resource.
    pub summary: RunSummary,
    /// Every per-field finding (nulls included), pointing at where each field is written.
    pub findings: Vec<crate::mapping::FieldDiagnostic>,
    /// Resources mapped afresh.
    pub evaluated: usize,
    /// Resources whose entities an earlier config already mapped.
    pub reused: usize,
    /// Mapping and planning, the catalog read included.
    pub elapsed: Duration,
    /// Each entity's item, with [`Options::trace`].
    pub traced: Vec<Traced>,
}

/// The chain, holding what lives between runs: the evaluator's cache, the items, the
/// catalog and the runtime its calls run on.
pub struct Pipeline {
    evaluator: Evaluator,
    items: Box<dyn Items>,
    catalog: Option<Arc<dyn Catalog>>,
    runtime: tokio::runtime::Runtime,
    options: Options,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("catalog", &self.catalog.as_ref().map(|c| c.describe()))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over `items`, planning against `catalog` (none: review without the apply
    /// view). `access` supplies the values jq's environment allow-list names.
    pub fn new(
        items: Box<dyn Items>,
        catalog: Option<Arc<dyn Catalog>>,
        access: &Access,
        options: Options,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let mapper = MappingMapper::with_env(access.env.clone());
        let mut evaluator = Evaluator::new(Arc::new(mapper));
        evaluator.trace(options.trace);
        Ok(Pipeline {
            evaluator,
            items,
            catalog,
            runtime,
            options,
        })
    }

    /// The catalog, for output (`sqlite:…`, `port:https://…`).
    pub fn describe_catalog(&self) -> Option<String> {
        self.catalog.as_ref().map(|c| c.describe())
    }

    /// Forgets the items read so far: the next plan reads a live source afresh, parent
    /// lists included (a new sync: a resync, a new config followed).
    pub fn refresh(&mut self) {
        self.items.refresh();
    }

    /// Maps `config` over the items, keeping each resource's entities (what did not change
    /// since the last call is reused).
    pub fn evaluate(&mut self, checked: &Checked) -> Evaluation {
        self.evaluator.evaluate(
            &checked.config,
            checked.revision.clone(),
            self.items.as_mut(),
        )
    }

    /// Maps `config` the way [`Options::reuse_mapped`] asks.
    fn map(&mut self, checked: &Checked) -> Evaluation {
        if self.options.reuse_mapped {
            return self.evaluate(checked);
        }
        let _task = crate::progress::start("mapping", None);
        self.evaluator.evaluate_once(
            &checked.config,
            checked.revision.clone(),
            self.items.as_mut(),
        )
    }

    /// Maps `checked` and plans it against the catalog as it is now.
    pub fn plan(&mut self, checked: &Checked) -> Result<Planned> {
        let started = Instant::now();
        let catalog = self.catalog.clone().ok_or(Error::NoCatalog)?;
        let evaluation = self.map(checked);
        let guards = sync::guards(&checked.config, &self.options.guards);
        let mut summary = RunSummary::new(evaluation.resources, &evaluation.findings);
        let mut desired = evaluation.desired;
        desired.declared_ever = declared_ever(checked, &guards);
        let plan = self
            .runtime
            .block_on(reconcile::plan_catalog(desired, catalog.as_ref(), &guards))
            .map_err(|source| Error::CatalogRead {
                catalog: catalog.describe(),
                source,
            })?;
        summary.search_errors = plan.search_errors.len();
        Ok(Planned {
            plan,
            summary,
            findings: evaluation.findings,
            evaluated: evaluation.evaluated,
            reused: evaluation.reused,
            elapsed: started.elapsed(),
            traced: evaluation.traced,
        })
    }

    /// Executes a plan against the catalog and records the run there, holding the
    /// catalog's apply lock meanwhile (another apply on the same catalog is refused).
    pub fn apply(&mut self, planned: &Planned) -> Result<ApplyReport> {
        let catalog = self.catalog.clone().ok_or(Error::NoCatalog)?;
        let _lock = catalog.lock_for_apply().map_err(Error::Locked)?;
        Ok(self.runtime.block_on(reconcile::apply(
            &planned.plan,
            catalog.as_ref(),
            self.options.apply,
        )))
    }

    /// Compares two configs for a pull request: the mapping diff, the effect on entities
    /// (both mapped over the same items), and — with a catalog — what applying head would do.
    pub fn review(
        &mut self,
        base: &Checked,
        base_label: &str,
        head: &Checked,
        head_label: &str,
    ) -> Result<Reviewed> {
        let base_eval = self.evaluate(base);
        let head_eval = self.evaluate(head);
        let mut summary = RunSummary::new(head_eval.resources.clone(), &head_eval.findings);
        let apply = match self.catalog.clone() {
            Some(catalog) => {
                let guards = sync::guards(&head.config, &self.options.guards);
                let mut desired = head_eval.desired.clone();
                desired.declared_ever = declared_ever(head, &guards);
                let plan = self
                    .runtime
                    .block_on(reconcile::plan_catalog(desired, catalog.as_ref(), &guards))
                    .map_err(|source| Error::CatalogRead {
                        catalog: catalog.describe(),
                        source,
                    })?;
                summary.search_errors = plan.search_errors.len();
                Some((plan, catalog.describe()))
            }
            None => None,
        };
        let side = |c: &Checked, label: &str| Side {
            config: c.config.clone(),
            label: label.to_owned(),
            commit: c.revision.clone(),
        };
        let review = review::compose(
            &side(base, base_label),
            &side(head, head_label),
            base_eval.desired,
            head_eval.desired,
            apply,
        );
        Ok(Reviewed { review, summary })
    }
}

/// With `--prune-blueprints`, the blueprints the config's git history declared; `None` when
/// pruning is off, or the history cannot be read (then no blueprint is pruned, and the plan
/// says why).
fn declared_ever(
    checked: &Checked,
    guards: &reconcile::Guards,
) -> Option<std::collections::BTreeSet<String>> {
    if !guards.prune_blueprints {
        return None;
    }
    let origin = checked.origin.as_ref()?;
    match config::git::declared_blueprints(origin) {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::warn!(
                error = %crate::http::error_chain(&e),
                "could not read the config repository's history: no blueprint is pruned"
            );
            None
        }
    }
}

/// A review, with what mapping head reported on the way.
#[derive(Debug)]
pub struct Reviewed {
    /// The three views.
    pub review: Review,
    /// Head's item-level failures and incomplete listings.
    pub summary: RunSummary,
}

/// [`load`] for a pull request's base: a revision that holds no mapping yet (the pull
/// request that adds the config) is an empty config, so everything head maps is new.
pub fn load_base(source: &ConfigSource) -> config::location::Result<Gate> {
    use config::git::Error as GitError;
    use config::location::Error;
    match load(source) {
        Err(Error::GitFailed(GitError::NoMapping { .. } | GitError::PathNotInRevision { .. })) => {
            let revision = match source {
                ConfigSource::Git { repo, rev } => config::git::resolve(repo, rev).ok(),
                ConfigSource::Path(_) => None,
            };
            Ok(Gate::Passed(Box::new(Checked {
                config: Config {
                    settings: config::Settings::default(),
                    mapping: config::Mapping::default(),
                    blueprints: std::collections::BTreeMap::new(),
                },
                revision,
                warnings: Vec::new(),
                sources: Vec::new(),
                origin: None,
            })))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
