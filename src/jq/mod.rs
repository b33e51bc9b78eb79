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
//! 2. `import`/`include` and constant non-string object keys are refused;
//! 3. `?//` becomes `try … catch` chains (`alt`), then the program is parsed by jaq and
//!    printed back with jq 1.8 semantics (`ast`: guarded definitions, arithmetic and
//!    assignment through natives, interpolation order, `$__loc__`);
//! 4. it is compiled together with jaq's definitions and `prelude.jq`, whose definitions and
//!    the natives of `compat`, `paths`, `regex`, `dates`, `formats` and `natives` replace
//!    jaq's where jq 1.8 behaves differently.
//!
//! Each evaluation runs under `budget` (steps, deadline, native stack), and outputs are
//! checked and converted by `convert` (size, depth, non-string keys, jq's numbers).

mod alt;
mod ast;
mod budget;
mod compat;
mod convert;
mod dates;
mod deps;
pub(crate) mod fast;
mod formats;
mod natives;
mod number;
mod paths;
mod quotes;
mod regex;
mod warnings;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Ctx, Vars};
use jaq_json::Val;

pub use quotes::rewrite_single_quotes;
pub use warnings::compat_warnings;

use natives::D;

/// Bounds applied to every evaluation, so a hostile or mistaken expression fails its field
/// instead of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Steps (calls of recursive definitions and generator outputs) one evaluation may take.
    pub max_steps: u64,
    /// Approximate size in bytes of all outputs of one evaluation, as JSON.
    pub max_output_bytes: usize,
    /// Wall-clock time one evaluation may take.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 1_000_000,
            max_output_bytes: 16 << 20,
            timeout: Duration::from_secs(2),
        }
    }
}

/// How an [`Engine`] runs programs.
#[derive(Clone, Default)]
pub struct EngineOptions {
    /// Names of environment variables `$ENV` and `env` may expose; empty exposes `{}`.
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
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds an engine; only allow-listed variables present in `options.env` are exposed.
    pub fn new(options: EngineOptions) -> Engine {
        let env = options
            .env_allow_list
            .iter()
            .filter_map(|k| options.env.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        Engine {
            shared: Arc::new(Shared {
                env,
                limits: options.limits,
            }),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Applies Port's single-quote rewrite, then compiles (cached by source text).
    pub fn compile(&self, expr: &str) -> Result<Arc<Program>, CompileError> {
        if let Some(p) = self.cache.read().ok().and_then(|c| c.get(expr).cloned()) {
            return Ok(p);
        }
        let program = Arc::new(Program::build(expr, Arc::clone(&self.shared))?);
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
    val: OnceCell<Result<Val, String>>,
}

impl<'a> Input<'a> {
    /// Wraps a value; nothing is converted until a program needs it.
    pub fn new(value: &'a serde_json::Value) -> Self {
        Self {
            value,
            val: OnceCell::new(),
        }
    }

    fn val(&self) -> Result<Val, EvalError> {
        self.val
            .get_or_init(|| convert::to_val(self.value, 0))
            .clone()
            .map_err(EvalError::new)
    }
}

enum Kind {
    Fast(fast::Fast),
    Jaq(jaq_core::Filter<D>),
}

/// A compiled jq program.
pub struct Program {
    kind: Kind,
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
    fn build(expr: &str, shared: Arc<Shared>) -> Result<Program, CompileError> {
        let code = rewrite_single_quotes(expr);
        if let Some(fast) = fast::classify(&code) {
            return Ok(Program {
                kind: Kind::Fast(fast),
                shared,
            });
        }
        reject_modules(&code)?;
        reject_constant_keys(&code)?;
        let decimals = leading_dot_numbers(&code);
        let code = decimals.as_deref().unwrap_or(code.as_ref());
        let with_alt = alt::rewrite(code);
        let source = with_alt.as_deref().unwrap_or(code);
        // The rewritten program runs; errors are reported against the text the user wrote.
        let rewritten = ast::rewrite(source);
        let compiled = match &rewritten {
            Some(text) => guarded(|| compile_jaq(text)),
            None => Err(CompileError {
                message: String::new(),
                offset: None,
            }),
        };
        let filter = match compiled {
            Ok(f) => f,
            Err(_) => match guarded(|| compile_jaq(code)) {
                Err(e) => return Err(e),
                Ok(f) if rewritten.is_none() && with_alt.is_none() => f,
                Ok(_) => {
                    return Err(CompileError {
                        message: "this program cannot be compiled with jq 1.8 semantics".into(),
                        offset: None,
                    });
                }
            },
        };
        Ok(Program {
            kind: Kind::Jaq(filter),
            shared,
        })
    }

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
        let limits = &self.shared.limits;
        let session = budget::start(limits.max_steps, limits.timeout, limits.max_output_bytes);
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
        if let Some(why) = session.tripped() {
            return Err(EvalError::new(why));
        }
        result
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
                    .unwrap_or_else(|_| other.to_string());
                format!("{json} (not a string)")
            }
        },
        Err(_) => "halt is not supported in mappings".to_owned(),
    }
}

const PRELUDE: &str = include_str!("prelude.jq");

/// Runs a compilation step, turning a panic inside jaq into a compile error.
fn guarded<T>(f: impl FnOnce() -> Result<T, CompileError>) -> Result<T, CompileError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(CompileError {
            message: "internal error in the jq compiler".into(),
            offset: None,
        })
    })
}

/// jq reads `.5` as the number 0.5; jaq's lexer does not: write it `0.5`.
fn leading_dot_numbers(code: &str) -> Option<String> {
    use jaq_core::load::lex::{Lexer, Tok, Token};
    fn visit(code: &str, tokens: &[Token<&str>], at: &mut Vec<usize>) {
        for pair in tokens.windows(2) {
            let (dot, num) = (&pair[0], &pair[1]);
            let adjacent =
                offset_in(code, dot.0).map(|o| o + dot.0.len()) == offset_in(code, num.0);
            if dot.0 == "."
                && matches!(num.1, Tok::Num)
                && adjacent
                && let Some(o) = offset_in(code, dot.0)
            {
                at.push(o);
            }
        }
        for t in tokens {
            if let Tok::Block(inner) = &t.1 {
                visit(code, inner, at);
            }
        }
    }
    if !code.contains('.') {
        return None;
    }
    let tokens = Lexer::new(code).lex().ok()?;
    let mut at = Vec::new();
    visit(code, &tokens, &mut at);
    if at.is_empty() {
        return None;
    }
    at.sort_unstable();
    let mut out = String::with_capacity(code.len() + at.len());
    let mut last = 0;
    for o in at {
        out.push_str(&code[last..o]);
        out.push('0');
        last = o;
    }
    out.push_str(&code[last..]);
    Some(out)
}

/// Mappings are single programs: `import`, `include` and `module` are refused.
fn reject_modules(code: &str) -> Result<(), CompileError> {
    use jaq_core::load::lex::{Lexer, Tok};
    let Ok(tokens) = Lexer::new(code).lex() else {
        return Ok(());
    };
    match tokens.first() {
        Some(t) if matches!(t.1, Tok::Word) && matches!(t.0, "import" | "include" | "module") => {
            Err(CompileError {
                message: format!("`{}` is not supported: a mapping is a single program", t.0),
                offset: Some(0),
            })
        }
        _ => Ok(()),
    }
}

/// jq rejects object keys that are constant non-strings (`{(0): 1}`) at compile time.
fn reject_constant_keys(code: &str) -> Result<(), CompileError> {
    use jaq_core::load::lex::{Lexer, Tok, Token};
    fn visit(code: &str, tokens: &[Token<&str>]) -> Result<(), CompileError> {
        for (i, t) in tokens.iter().enumerate() {
            let Tok::Block(inner) = &t.1 else { continue };
            if t.0.starts_with('(')
                && tokens.get(i + 1).is_some_and(|n| n.0 == ":")
                && let [key, close] = inner.as_slice()
                && close.0 == ")"
            {
                let kind = match (&key.1, key.0) {
                    (Tok::Num, _) => Some("number"),
                    (Tok::Word, "true" | "false") => Some("boolean"),
                    (Tok::Word, "null") => Some("null"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    return Err(CompileError {
                        message: format!("Cannot use {kind} ({}) as object key", key.0),
                        offset: offset_in(code, key.0),
                    });
                }
            }
            visit(code, inner)?;
        }
        Ok(())
    }
    match Lexer::new(code).lex() {
        Ok(tokens) => visit(code, &tokens),
        Err(_) => Ok(()),
    }
}

/// jaq natives also registered under a `__` name, so prelude definitions that check
/// arguments the way jq does can call them.
const ALIASED: &[(&str, &str)] = &[
    ("trim", "__trim"),
    ("ltrim", "__ltrim"),
    ("rtrim", "__rtrim"),
    ("ltrimstr", "__ltrimstr"),
    ("rtrimstr", "__rtrimstr"),
    ("gmtime", "__gmtime"),
    ("localtime", "__localtime"),
    ("strftime", "__strftime"),
    ("strflocaltime", "__strflocaltime"),
    ("strptime", "__strptime"),
    ("implode", "__implode"),
    ("utf8bytelength", "__utf8bytelength"),
    ("has", "__has"),
    ("bsearch", "__bsearch"),
    ("fromjson", "__fromjson"),
];

fn aliases() -> impl Iterator<Item = jaq_core::native::Fun<D>> {
    let all = jaq_std::funs::<D>().chain(jaq_json::funs::<D>());
    all.filter_map(|(name, args, native)| {
        ALIASED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, alias)| (*alias, args, native))
    })
}

fn compile_jaq(code: &str) -> Result<jaq_core::Filter<D>, CompileError> {
    let library = deps::library(PRELUDE, natives::REMOVED);
    let defs = deps::reachable(code, library).unwrap_or_else(|| library.to_vec());
    compile_with(code, defs)
}

/// Compiles `code` with the given library definitions and every native.
fn compile_with(
    code: &str,
    defs: Vec<jaq_core::load::parse::Def<&'static str>>,
) -> Result<jaq_core::Filter<D>, CompileError> {
    let funs = jaq_core::funs::<D>()
        .chain(jaq_std::funs::<D>())
        .chain(jaq_json::funs::<D>())
        .filter(|(name, _, _)| !natives::REPLACED.contains(name))
        .chain(natives::funs())
        .chain(compat::funs())
        .chain(regex::funs())
        .chain(dates::funs())
        .chain(paths::funs())
        .chain(formats::funs())
        .chain(aliases());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| load_error(code, errs))?;
    jaq_core::Compiler::default()
        .with_funs(funs)
        .with_global_vars(["$ENV"])
        .compile(modules)
        .map_err(|errs| {
            let (message, offset) = errs
                .into_iter()
                .flat_map(|(_file, errs)| errs)
                .map(|(name, undef)| {
                    (
                        format!("{} {} is not defined", undef.as_str(), name),
                        offset_in(code, name),
                    )
                })
                .next()
                .unwrap_or_else(|| ("cannot compile".to_owned(), None));
            CompileError { message, offset }
        })
}

/// Byte offset of `part` inside `whole`, when `part` is a slice of it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start <= whole.len()).then_some(start)
}

fn load_error(code: &str, errs: jaq_core::load::Errors<&str, ()>) -> CompileError {
    use jaq_core::load::Error;
    let first = errs.into_iter().next().map(|(_file, e)| e);
    let (message, offset) = match first {
        Some(Error::Lex(errs)) => errs
            .into_iter()
            .next()
            .map(|(expect, found)| {
                (
                    format!("syntax error: expected {}", expect.as_str()),
                    offset_in(code, found),
                )
            })
            .unwrap_or_default(),
        Some(Error::Parse(errs)) => errs
            .into_iter()
            .next()
            .map(|(expect, found)| {
                let what = if found.is_empty() {
                    "end of input".to_owned()
                } else {
                    format!("`{found}`")
                };
                (
                    format!("syntax error: expected {}, found {what}", expect.as_str()),
                    offset_in(code, found),
                )
            })
            .unwrap_or_default(),
        Some(Error::Io(errs)) => (
            errs.into_iter()
                .next()
                .map(|(path, e)| format!("cannot load module {path}: {e}"))
                .unwrap_or_default(),
            None,
        ),
        None => ("cannot compile".to_owned(), None),
    };
    CompileError { message, offset }
}

#[cfg(test)]
mod tests;
