//! jq: compiles and runs the jq programs of mappings with jaq, the way Port runs them with
//! libjq 1.8 — Port's single-quote rewrite, an environment restricted to an allow-list,
//! jq 1.8 compatibility definitions, a fast path for plain paths and literals, and a budget
//! (steps, time, recursion depth, output size) on every evaluation.
//!
//! Programs are compiled once per source text and cached ([`Engine::compile`]); an
//! [`Input`] converts its JSON to jaq's value at most once, however many programs run on it.
//! What mappings do with the results (diagnostics, `null` on error) is `mapping/`'s concern.
//!
//! How a program gets to jaq:
//!
//! 1. [`rewrite_single_quotes`] (Port's regex), then plain paths and literals take the fast
//!    path (`fast`) and never reach jaq; `.5`-style numbers get their leading `0`;
//! 2. programs nested too deeply, `import`/`include` and constant non-string object keys
//!    are refused;
//! 3. `?//` becomes `try … catch` chains (`alt`), then the program is parsed by jaq and
//!    printed back with jq 1.8 semantics (`ast`: guarded definitions, arithmetic and
//!    assignment through natives, interpolation order, `$__loc__`);
//! 4. it is compiled (`compile`) together with jaq's definitions and `prelude.jq`, whose
//!    definitions and the natives of `compat`, `text`, `entries`, `walk`, `paths`, `regex`,
//!    `dates`, `formats` and `natives` replace jaq's where jq 1.8 behaves differently,
//!    where jaq's would loop or recurse without bound, or where jaq's definition is slow on
//!    mappings' hot paths (`empty`, `select`, `null`, `true`, `false`, `not`);
//! 5. `projection` finds the top-level keys of its input the program can observe, when it
//!    observes nothing else ([`Program::input_keys`]): an [`Input::reading`] them converts
//!    only those.
//!
//! Each evaluation runs under `budget` (steps, deadline, native stack, bytes built) and
//! charges the engine's [`RunBudget`]; outputs are checked and converted by `convert` (size,
//! depth, non-string keys, jq's numbers). No value an evaluation holds nests deeper than
//! `convert`'s limit, so the recursion jaq and the natives do over values stays bounded.
//!
//! `$ENV` and `env` show only allow-listed variables, and never the tool's own secrets
//! ([`is_secret_env_name`]), whatever the allow-list says.

mod alt;
mod ast;
mod budget;
mod compat;
mod compile;
mod convert;
mod dates;
mod deps;
mod entries;
pub(crate) mod fast;
mod formats;
mod natives;
mod number;
mod paths;
mod projection;
mod quotes;
mod regex;
mod run_budget;
mod secrets;
mod text;
mod walk;
mod warnings;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jaq_core::{Ctx, Vars};
use jaq_json::Val;

pub use quotes::rewrite_single_quotes;
pub use run_budget::{DEFAULT_RUN_BUDGET, RunBudget};
pub use secrets::{SECRET_ENV_NAMES, is_secret_env_name};
pub use warnings::compat_warnings;

use compile::Kind;
use natives::D;

/// Bounds applied to every evaluation, so a hostile or mistaken expression fails its field
/// instead of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Steps (calls of recursive definitions and generator outputs) one evaluation may take.
    pub max_steps: u64,
    /// Approximate size in bytes of all outputs of one evaluation, as JSON; also the
    /// largest value it may build, and the total its regex and path natives may build
    /// (match objects, replacements, paths).
    pub max_output_bytes: usize,
    /// Wall-clock time one evaluation may take.
    pub timeout: Duration,
    /// Evaluation time all evaluations of an engine may take together (its [`RunBudget`]);
    /// `None` for no limit. Defaults to [`DEFAULT_RUN_BUDGET`].
    pub run_time: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 1_000_000,
            max_output_bytes: 16 << 20,
            timeout: Duration::from_secs(2),
            run_time: Some(DEFAULT_RUN_BUDGET),
        }
    }
}

/// How an [`Engine`] runs programs.
#[derive(Clone, Default)]
pub struct EngineOptions {
    /// Names of environment variables `$ENV` and `env` may expose; empty exposes `{}`.
    /// Secret names ([`is_secret_env_name`]) are never exposed, even when listed.
    pub env_allow_list: Vec<String>,
    /// The environment's values, read by the caller (this module never reads the environment).
    pub env: BTreeMap<String, String>,
    /// Bounds on every evaluation.
    pub limits: Limits,
}

/// Shows variable names only: the values may hold secrets (the PAT).
impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("env_allow_list", &self.env_allow_list)
            .field("env_names", &self.env.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish()
    }
}

/// A jq program failed to compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// What jq reports, in words.
    pub message: String,
    /// Byte offset of the problem in the original expression, when known.
    pub offset: Option<usize>,
}

/// A jq program failed while running on an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// jq's message, or the limit that stopped the evaluation.
    pub message: String,
}

impl EvalError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Settings shared by an engine and the programs it compiled.
#[derive(Debug)]
struct Shared {
    env: Vec<(String, String)>,
    limits: Limits,
    run: RunBudget,
}

/// Compiled programs kept per engine before the cache starts afresh.
const MAX_CACHED_PROGRAMS: usize = 50_000;

/// Compiles jq programs and caches them by source text; shared across threads.
pub struct Engine {
    shared: Arc<Shared>,
    cache: RwLock<HashMap<String, Arc<Program>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "env_names",
                &self.shared.env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("limits", &self.shared.limits)
            .field("run_budget", &self.shared.run)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds an engine; only allow-listed variables present in `options.env` are exposed,
    /// and never a secret one. Its run budget is a new one of `options.limits.run_time`.
    pub fn new(options: EngineOptions) -> Engine {
        let env = options
            .env_allow_list
            .iter()
            .filter(|k| !is_secret_env_name(k))
            .filter_map(|k| options.env.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        let run = RunBudget::with_total(options.limits.run_time);
        Engine {
            shared: Arc::new(Shared {
                env,
                limits: options.limits,
                run,
            }),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The same engine charging `budget` instead of its own run budget, so several engines
    /// (or a caller) share one; programs compiled before are forgotten.
    pub fn with_run_budget(self, budget: RunBudget) -> Engine {
        let shared = Shared {
            env: self.shared.env.clone(),
            limits: self.shared.limits.clone(),
            run: budget,
        };
        Engine {
            shared: Arc::new(shared),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The run budget every evaluation through this engine charges: whether it was
    /// exceeded, how much is spent; reset it between runs of a long-lived engine.
    pub fn run_budget(&self) -> &RunBudget {
        &self.shared.run
    }

    /// Applies Port's single-quote rewrite, then compiles (cached by source text).
    pub fn compile(&self, expr: &str) -> Result<Arc<Program>, CompileError> {
        if let Some(p) = self.cache.read().ok().and_then(|c| c.get(expr).cloned()) {
            return Ok(p);
        }
        let (kind, input_keys) = compile::build(expr)?;
        let program = Arc::new(Program {
            kind,
            input_keys,
            shared: Arc::clone(&self.shared),
        });
        if let Ok(mut cache) = self.cache.write() {
            // A long-running watch or follow compiles every edit's expressions: start afresh
            // past a bound rather than grow for ever (a mapping has far fewer leaves).
            if cache.len() >= MAX_CACHED_PROGRAMS {
                cache.clear();
            }
            cache.insert(expr.to_owned(), Arc::clone(&program));
        }
        Ok(program)
    }
}

/// A JSON input, converted to jaq's value at most once however many programs run on it.
pub struct Input<'a> {
    value: &'a serde_json::Value,
    /// The only top-level keys the programs run on it read ([`Program::input_keys`]).
    keys: Option<&'a [String]>,
    val: OnceCell<Result<Val, String>>,
}

impl<'a> Input<'a> {
    /// Wraps a value; nothing is converted until a program needs it.
    pub fn new(value: &'a serde_json::Value) -> Self {
        Self {
            value,
            keys: None,
            val: OnceCell::new(),
        }
    }

    /// Wraps a value that only programs reading no more than `keys` of it run on (the
    /// union of their [`Program::input_keys`]): only those keys are converted.
    pub fn reading(value: &'a serde_json::Value, keys: &'a [String]) -> Self {
        Self {
            value,
            keys: Some(keys),
            val: OnceCell::new(),
        }
    }

    fn val(&self) -> Result<Val, EvalError> {
        self.val
            .get_or_init(|| match (self.keys, self.value) {
                (Some(keys), serde_json::Value::Object(m)) => convert::to_val_keys(m, keys),
                _ => convert::to_val(self.value, 0),
            })
            .clone()
            .map_err(EvalError::new)
    }
}

/// A compiled jq program.
pub struct Program {
    kind: Kind,
    /// The top-level keys of an object input the program can observe, when it observes
    /// it through them alone (`projection`).
    input_keys: Option<Vec<String>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Fast(fast) => format!("{fast:?}"),
            Kind::Jaq(_) => "jaq".to_owned(),
        };
        f.debug_struct("Program").field("kind", &kind).finish()
    }
}

impl Program {
    /// Mapping semantics: the first output, `Ok(None)` when there is none.
    pub fn first(&self, input: &Input) -> Result<Option<serde_json::Value>, EvalError> {
        let mut out = None;
        self.run(input, &mut |v| {
            out = Some(v);
            false
        })?;
        Ok(out)
    }

    /// Every output (for `adoport jq`).
    pub fn all(&self, input: &Input) -> Result<Vec<serde_json::Value>, EvalError> {
        let mut out = Vec::new();
        self.run(input, &mut |v| {
            out.push(v);
            true
        })?;
        Ok(out)
    }

    /// Streams outputs to `sink` until it returns false; the outputs before an error are
    /// delivered before the error is returned (as jq prints them).
    pub fn each(
        &self,
        input: &Input,
        mut sink: impl FnMut(serde_json::Value) -> bool,
    ) -> Result<(), EvalError> {
        self.run(input, &mut sink)
    }

    /// The top-level keys of an object input this program can observe, when those are
    /// all it observes: run on an [`Input::reading`] them (and maybe more), it gives what it
    /// gives on the whole input. `None` when it may observe the input another way.
    pub fn input_keys(&self) -> Option<&[String]> {
        self.input_keys.as_deref()
    }

    /// Whether the program runs without jaq (plain path or literal).
    pub fn is_fast_path(&self) -> bool {
        matches!(self.kind, Kind::Fast(_))
    }

    /// Runs the program, handing each output to `sink` until it returns false.
    fn run(
        &self,
        input: &Input,
        sink: &mut dyn FnMut(serde_json::Value) -> bool,
    ) -> Result<(), EvalError> {
        let run = &self.shared.run;
        if !run.admits() {
            return Err(EvalError::new(run.message()));
        }
        let filter = match &self.kind {
            Kind::Fast(fast::Fast::Literal(v)) => {
                sink(v.clone());
                return Ok(());
            }
            Kind::Fast(fast::Fast::Path(segs)) => {
                sink(fast::run_path(segs, input.value).map_err(EvalError::new)?);
                return Ok(());
            }
            Kind::Jaq(filter) => filter,
        };
        let started = Instant::now();
        let result = self.run_jaq(filter, input, started, sink);
        run.charge(started.elapsed());
        result
    }

    /// Runs a jaq filter under the evaluation's budget, starting at `started`.
    fn run_jaq(
        &self,
        filter: &jaq_core::Filter<D>,
        input: &Input,
        started: Instant,
        sink: &mut dyn FnMut(serde_json::Value) -> bool,
    ) -> Result<(), EvalError> {
        let limits = &self.shared.limits;
        let run = &self.shared.run;
        let own = started.checked_add(limits.timeout);
        let (deadline, late) = match (own, run.deadline(started)) {
            (Some(own), Some(end)) if end < own => (Some(end), budget::RUN_SPENT),
            (None, Some(end)) => (Some(end), budget::RUN_SPENT),
            (own, _) => (own, budget::TIMEOUT),
        };
        let session = budget::start(budget::Allowance {
            max_steps: limits.max_steps,
            deadline,
            late,
            max_bytes: limits.max_output_bytes,
        });
        let env = env_val(&self.shared.env);
        let ctx = Ctx::<D>::new(&filter.lut, Vars::new([env]));
        let mut size_left = limits.max_output_bytes;
        let mut result = Ok(());
        let val = input.val()?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for item in filter.id.run((ctx, val)) {
                match item {
                    Ok(v) => {
                        let converted = convert::from_val(&v, 0, &mut size_left);
                        convert::drop_deep(v);
                        match converted {
                            Ok(json) => {
                                if !sink(json) {
                                    break;
                                }
                            }
                            Err(e) => {
                                result = Err(EvalError::new(e));
                                break;
                            }
                        }
                    }
                    Err(exn) => {
                        result = Err(EvalError::new(exn_message(exn)));
                        break;
                    }
                }
            }
        }));
        if outcome.is_err() {
            return Err(EvalError::new("internal error in the jq engine"));
        }
        match session.tripped() {
            Some(budget::RUN_SPENT) => {
                run.mark_exceeded();
                Err(EvalError::new(run.message()))
            }
            Some(why) => Err(EvalError::new(why)),
            None => result,
        }
    }
}

fn env_val(env: &[(String, String)]) -> Val {
    use jaq_core::ValT as _;
    let pairs = env
        .iter()
        .map(|(k, v)| (Val::from(k.clone()), Val::from(v.clone())));
    Val::from_map(pairs).unwrap_or_default()
}

/// jq's wording of an uncaught error.
fn exn_message(exn: jaq_core::Exn<'_, Val>) -> String {
    match exn.get_err() {
        Ok(err) => match err.into_val() {
            Val::TStr(s) => {
                let msg = String::from_utf8_lossy(&s);
                compat::jq_wording(&msg).unwrap_or_else(|| msg.into_owned())
            }
            other => {
                let mut budget = usize::MAX;
                let json = convert::from_val(&other, 0, &mut budget)
                    .map(|j| j.to_string())
                    .unwrap_or_else(|_| text::to_json(&other));
                format!("{json} (not a string)")
            }
        },
        Err(_) => "halt is not supported in mappings".to_owned(),
    }
}

#[cfg(test)]
use compile::{PRELUDE, compile_with};

#[cfg(test)]
mod tests;
