//! Building a program: the preprocessing steps of the module documentation (quotes, fast
//! path, refused constructs, `.5` numbers, `?//`, the jq 1.8 rewrite) and compilation with
//! jaq, the prelude and every native.

use jaq_core::load::{Arena, File, Loader};

use super::natives::{self, D};
use super::{
    CompileError, alt, ast, compat, dates, deps, entries, fast, formats, paths, projection, regex,
};
use super::{rewrite_single_quotes, text, walk};

/// What a program runs as.
pub(crate) enum Kind {
    /// A plain path or literal, evaluated without jaq.
    Fast(fast::Fast),
    /// A jaq filter.
    Jaq(jaq_core::Filter<D>),
}

/// Preprocesses and compiles `expr`; with it, the only top-level keys of an object input
/// it can observe, when those are all it observes (`projection`).
pub(crate) fn build(expr: &str) -> Result<(Kind, Option<Vec<String>>), CompileError> {
    let code = rewrite_single_quotes(expr);
    if let Some(fast) = fast::classify(&code) {
        // Plain paths and literals read the JSON input, never jaq's value.
        return Ok((Kind::Fast(fast), Some(Vec::new())));
    }
    let depth = check_depth(&code)?;
    // The walk for the keys recurses over the program as the compiler does.
    with_stack_for(depth, || {
        let kind = build_jaq(&code)?;
        let keys = projection::input_keys(&code).map(|keys| keys.into_iter().collect());
        Ok((kind, keys))
    })
}

/// Compiles a program that is not on the fast path.
fn build_jaq(code: &str) -> Result<Kind, CompileError> {
    reject_modules(code)?;
    reject_constant_keys(code)?;
    let decimals = leading_dot_numbers(code);
    let code = decimals.as_deref().unwrap_or(code);
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
    match compiled {
        Ok(f) => Ok(Kind::Jaq(f)),
        Err(_) => match guarded(|| compile_jaq(code)) {
            Err(e) => Err(e),
            Ok(f) if rewritten.is_none() && with_alt.is_none() => Ok(Kind::Jaq(f)),
            Ok(_) => Err(CompileError {
                message: "this program cannot be compiled with jq 1.8 semantics".into(),
                offset: None,
            }),
        },
    }
}

pub(crate) const PRELUDE: &str = include_str!("prelude.jq");

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
    ("group_by", "__group_by"),
    ("path", "__path"),
    ("path_value", "__path_value"),
];

fn aliases() -> impl Iterator<Item = jaq_core::native::Fun<D>> {
    let all = jaq_core::funs::<D>()
        .chain(jaq_std::funs::<D>())
        .chain(jaq_json::funs::<D>());
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
pub(crate) fn compile_with(
    code: &str,
    defs: Vec<jaq_core::load::parse::Def<&'static str>>,
) -> Result<jaq_core::Filter<D>, CompileError> {
    let funs = jaq_core::funs::<D>()
        .chain(jaq_std::funs::<D>())
        .chain(jaq_json::funs::<D>())
        .filter(|(name, _, _)| !natives::REPLACED.contains(name))
        .chain(natives::funs())
        .chain(compat::funs())
        .chain(text::funs())
        .chain(entries::funs())
        .chain(walk::funs())
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

/// Largest syntax-tree depth a program may have, as [`program_depth`] bounds it: jaq's
/// parser and compiler, the rewriting here and the evaluation of the compiled filter all
/// recurse once per level (a chain of 300 `+` or 64 nested objects overflow a 2 MiB stack
/// in a debug build). No mapping expression comes close.
pub(crate) const MAX_PROGRAM_DEPTH: usize = 128;

/// Programs up to this depth are compiled on the calling thread; deeper ones on a thread
/// with a large stack, since compiling takes far more stack per level than running.
const INLINE_COMPILE_DEPTH: usize = 24;

/// Stack of the thread that compiles deep programs.
const COMPILE_STACK_BYTES: usize = 64 << 20;

/// Refuses programs deeper than [`MAX_PROGRAM_DEPTH`] before anything recursive reads them;
/// returns the depth bound of the others.
fn check_depth(code: &str) -> Result<usize, CompileError> {
    match program_depth(code, MAX_PROGRAM_DEPTH) {
        Ok(depth) => Ok(depth),
        Err(offset) => Err(CompileError {
            message: format!("program too deeply nested (limit {MAX_PROGRAM_DEPTH})"),
            offset: Some(offset),
        }),
    }
}

/// Runs `f` on the calling thread for shallow programs, else on a thread with a large stack.
fn with_stack_for<T: Send>(
    depth: usize,
    f: impl FnOnce() -> Result<T, CompileError> + Send,
) -> Result<T, CompileError> {
    if depth <= INLINE_COMPILE_DEPTH {
        return f();
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("jq-compile".into())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| CompileError {
                message: format!("cannot start a thread to compile this program: {e}"),
                offset: None,
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(CompileError {
                    message: "internal error in the jq compiler".into(),
                    offset: None,
                })
            })
    })
}

/// An upper bound of the depth of `code`'s syntax tree, or the byte offset where it goes
/// past `limit`: each bracket, string and interpolation (`"\(…)"`) is a level, and so is
/// each operator or keyword inside one (`a | b | c` nests), except the commas between an
/// object's entries. Found in one pass without recursion.
pub(crate) fn program_depth(code: &str, limit: usize) -> Result<usize, usize> {
    let mut open = vec![Group {
        kind: b'^',
        ops: 0,
        child: 0,
    }];
    // The depth already certain: operators seen in every open group, plus one per group.
    let mut running = 0usize;
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let at = i;
        i += 1;
        let top = open.len() - 1;
        if open[top].kind == b'"' {
            match b {
                b'\\' if bytes.get(i) == Some(&b'(') => {
                    i += 1;
                    open.push(Group {
                        kind: b'i',
                        ops: 0,
                        child: 0,
                    });
                    running += 1;
                }
                b'\\' => i += 1,
                b'"' => close(&mut open, &mut running),
                _ => {}
            }
        } else {
            match b {
                b'"' | b'(' | b'[' | b'{' => {
                    open.push(Group {
                        kind: b,
                        ops: 0,
                        child: 0,
                    });
                    running += 1;
                }
                b')' | b']' | b'}' if open.len() > 1 => close(&mut open, &mut running),
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b',' if open[top].kind == b'{' => {}
                b'|' | b',' | b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b'!'
                | b'?' => {
                    // A run of operator characters (`//=`, `|=`, `<=`) is one operator.
                    while i < bytes.len() && b"|+-*/%=<>!?".contains(&bytes[i]) {
                        i += 1;
                    }
                    open[top].ops += 1;
                    running += 1;
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b == b'$' => {
                    let start = at;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                    {
                        i += 1;
                    }
                    if is_keyword(&code[start..i]) {
                        open[top].ops += 1;
                        running += 1;
                    }
                }
                _ => {}
            }
        }
        if running > limit {
            return Err(at);
        }
    }
    while open.len() > 1 {
        close(&mut open, &mut running);
    }
    let root = &open[0];
    let depth = root.ops + root.child;
    if depth > limit {
        return Err(code.len());
    }
    Ok(depth)
}

/// One open group of [`program_depth`]: its kind (`(`, `[`, `{`, `"`, `i` for an
/// interpolation, `^` for the whole program), the operators seen in it, and the depth of
/// its deepest closed child.
struct Group {
    kind: u8,
    ops: usize,
    child: usize,
}

/// Closes the innermost group, handing its depth to its parent.
fn close(open: &mut Vec<Group>, running: &mut usize) {
    if let Some(g) = open.pop() {
        *running = running.saturating_sub(g.ops + 1);
        if let Some(parent) = open.last_mut() {
            parent.child = parent.child.max(g.ops + g.child + 1);
        }
    }
}

/// jq keywords that nest what follows them.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "and"
            | "or"
            | "if"
            | "then"
            | "elif"
            | "else"
            | "end"
            | "reduce"
            | "foreach"
            | "as"
            | "def"
            | "try"
            | "catch"
            | "label"
    )
}
