//! Source-to-source rewriting of user programs before jaq compiles them.
//!
//! The program is parsed with jaq's parser and printed back as jq text with these changes:
//! - every user definition's body runs under `__guard(…)` (recursion and step budget);
//! - arithmetic goes through natives with jq 1.8 semantics (division by zero is an error,
//!   string repetition, size limits), binding the right operand first as jq does;
//! - `=`, `|=`, `op=`, `//=` become jq 1.8's path-based definitions, so assignments create
//!   missing structure in `null` (`null | .a = 1`);
//! - string interpolation and `@format "…"` strings use jq 1.8's `tostring` and formats;
//! - `..` becomes `__recurse`, which walks values without recursing and under the budget;
//! - `$__loc__` becomes its object literal.

use std::fmt::Write;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::{Opt, Part};

/// Parses `code` and prints the rewritten program; `None` when it does not parse (the
/// caller then reports jaq's own error on the original text).
pub(crate) fn rewrite(code: &str) -> Option<String> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    let mut out = String::with_capacity(code.len() * 2);
    let printer = Printer {
        code,
        path_ctx: std::cell::Cell::new(0),
    };
    printer.term(&term, &mut out);
    Some(out)
}

struct Printer<'s> {
    code: &'s str,
    /// How many enclosing constructs read the term being printed as a path expression.
    path_ctx: std::cell::Cell<usize>,
}

/// Builtins whose (first) argument is a path expression.
const PATH_ARGS: &[&str] = &["path", "del", "pick"];

fn math_name(op: &Math) -> &'static str {
    match op {
        Math::Add => "__add",
        Math::Sub => "__sub",
        Math::Mul => "__mul",
        Math::Div => "__div",
        Math::Rem => "__rem",
    }
}

impl Printer<'_> {
    fn line_of(&self, part: &str) -> usize {
        let start = (part.as_ptr() as usize).saturating_sub(self.code.as_ptr() as usize);
        let start = start.min(self.code.len());
        self.code.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn var(&self, name: &str, out: &mut String) {
        if name == "$__loc__" {
            let line = self.line_of(name);
            let _ = write!(out, "{{\"file\":\"<top-level>\",\"line\":{line}}}");
        } else {
            out.push_str(name);
        }
    }

    fn paren(&self, t: &Term<&str>, out: &mut String) {
        out.push('(');
        self.term(t, out);
        out.push(')');
    }

    fn term(&self, t: &Term<&str>, out: &mut String) {
        match t {
            Term::Id => out.push('.'),
            // `..` walks without recursion and under the budget (`walk`).
            Term::Recurse => out.push_str("__recurse"),
            Term::Num(n) => out.push_str(n),
            Term::Str(fmt, parts) => self.string(*fmt, parts, out),
            Term::Arr(None) => out.push_str("[]"),
            // Constructed arrays and objects are size-checked: shared children would
            // otherwise let `[., .]` in a loop build values of exponential logical size.
            Term::Arr(Some(t)) => {
                out.push_str("([");
                self.term(t, out);
                out.push_str("] | __sized)");
            }
            Term::Obj(kvs) if kvs.is_empty() => out.push_str("{}"),
            Term::Obj(kvs) => {
                out.push_str("({");
                for (i, (k, v)) in kvs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.obj_entry(k, v.as_ref(), out);
                }
                out.push_str("} | __sized)");
            }
            Term::Neg(t) => {
                out.push_str("((");
                self.term(t, out);
                out.push_str(") | __neg)");
            }
            Term::BinOp(l, op, r) => self.binop(l, op, r, out),
            Term::Label(x, t) => {
                let _ = write!(out, "(label {x} | ");
                self.term(t, out);
                out.push(')');
            }
            Term::Break(x) => {
                let _ = write!(out, "break {x}");
            }
            Term::Fold(kind, xs, pat, args) => {
                // Each iteration costs a step.
                let _ = write!(out, "({kind} __guard(");
                self.term(xs, out);
                out.push(')');
                out.push_str(" as ");
                self.pattern(pat, out);
                out.push_str(" (");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    self.term(a, out);
                }
                out.push_str("))");
            }
            Term::TryCatch(t, c) => {
                out.push_str("(try ");
                self.paren(t, out);
                if let Some(c) = c {
                    // The handler sees jq's wording of jaq's errors.
                    out.push_str(" catch (__jqmsg | ");
                    self.term(c, out);
                    out.push(')');
                }
                out.push(')');
            }
            Term::IfThenElse(branches, els) => {
                for (i, (c, t)) in branches.iter().enumerate() {
                    out.push_str(if i == 0 { "if " } else { " elif " });
                    self.term(c, out);
                    out.push_str(" then ");
                    self.term(t, out);
                }
                if let Some(e) = els {
                    out.push_str(" else ");
                    self.term(e, out);
                }
                out.push_str(" end");
            }
            Term::Def(defs, t) => {
                out.push('(');
                for d in defs {
                    self.def(d, out);
                }
                self.term(t, out);
                out.push(')');
            }
            Term::Call(name, args) => {
                out.push_str(name);
                if !args.is_empty() {
                    out.push('(');
                    let path_arg = PATH_ARGS.contains(name);
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            out.push_str("; ");
                        }
                        if path_arg {
                            self.in_path(|| self.term(a, out));
                        } else {
                            self.term(a, out);
                        }
                    }
                    out.push(')');
                }
            }
            Term::Var(x) => self.var(x, out),
            Term::Path(base, path)
                if self.path_ctx.get() == 0
                    && path.0.iter().any(|(p, _)| {
                        matches!(p, Part::Range(Some(_), _) | Part::Range(_, Some(_)))
                    }) =>
            {
                self.value_path(base, &path.0, out);
            }
            Term::Path(base, path) => {
                match **base {
                    Term::Id => out.push('.'),
                    ref b => self.paren(b, out),
                }
                for (part, opt) in &path.0 {
                    match part {
                        Part::Index(i) => {
                            out.push('[');
                            self.index(i, "__idx", out);
                            out.push(']');
                        }
                        Part::Range(from, upto) => {
                            out.push('[');
                            if from.is_some() || upto.is_some() {
                                if let Some(f) = from {
                                    self.index(f, "__idx_lo", out);
                                }
                                out.push(':');
                                if let Some(u) = upto {
                                    self.index(u, "__idx_hi", out);
                                }
                            }
                            out.push(']');
                        }
                    }
                    if matches!(opt, Opt::Optional) {
                        out.push('?');
                    }
                }
            }
        }
    }

    fn in_path(&self, f: impl FnOnce()) {
        self.path_ctx.set(self.path_ctx.get() + 1);
        f();
        self.path_ctx.set(self.path_ctx.get() - 1);
    }

    /// A path with slices, read as a value: slices go through `__slice`, which gives `null`
    /// for `null` as jq does. Index expressions still see the path's input (`$__p`).
    fn value_path(&self, base: &Term<&str>, parts: &[(Part<Term<&str>>, Opt)], out: &mut String) {
        out.push_str("(. as $__p | ");
        match base {
            Term::Id => out.push('.'),
            b => self.paren(b, out),
        }
        let bound = |t: &Option<Term<&str>>, norm: &str, out: &mut String| match t {
            Some(t) => {
                out.push_str("(($__p | ");
                self.term(t, out);
                let _ = write!(out, ") | {norm})");
            }
            None => out.push_str("null"),
        };
        for (part, opt) in parts {
            let optional = matches!(opt, Opt::Optional);
            match part {
                Part::Index(i) => {
                    out.push('[');
                    match i {
                        Term::Str(None, _) | Term::Num(_) => self.index(i, "__idx", out),
                        _ => {
                            out.push_str("(($__p | ");
                            self.term(i, out);
                            out.push_str(") | __idx)");
                        }
                    }
                    out.push(']');
                    if optional {
                        out.push('?');
                    }
                }
                Part::Range(None, None) => {
                    out.push_str("[]");
                    if optional {
                        out.push('?');
                    }
                }
                Part::Range(from, upto) => {
                    out.push_str(if optional {
                        " | try __slice("
                    } else {
                        " | __slice("
                    });
                    bound(from, "__idx_lo", out);
                    out.push_str("; ");
                    bound(upto, "__idx_hi", out);
                    out.push_str(") | .");
                }
            }
        }
        out.push(')');
    }

    /// An index or slice bound: string keys and integer literals as written, anything else
    /// through `norm`, which truncates fractional numbers and handles NaN as jq does.
    fn index(&self, i: &Term<&str>, norm: &str, out: &mut String) {
        match i {
            Term::Str(None, _) => self.term(i, out),
            Term::Num(n) if n.bytes().all(|b| b.is_ascii_digit()) => out.push_str(n),
            _ => {
                out.push('(');
                self.term(i, out);
                let _ = write!(out, " | {norm})");
            }
        }
    }

    fn def(&self, d: &Def<&str, Term<&str>>, out: &mut String) {
        let _ = write!(out, "def {}", d.name);
        if !d.args.is_empty() {
            let _ = write!(out, "({})", d.args.join("; "));
        }
        out.push_str(": __guard(");
        self.term(&d.body, out);
        out.push_str("); ");
    }

    fn obj_entry(&self, k: &Term<&str>, v: Option<&Term<&str>>, out: &mut String) {
        match (k, v) {
            (Term::Var(x), None) if *x == "$__loc__" => {
                out.push_str("\"__loc__\": ");
                self.var(x, out);
            }
            (Term::Var(x), None) => out.push_str(x),
            (Term::Str(None, _), None) => {
                // `{a}` / `{"a\(x)"}`: the key and `.[key]`.
                self.term(k, out);
                out.push_str(": .[");
                self.term(k, out);
                out.push(']');
            }
            (k, None) => self.term(k, out),
            (Term::Str(None, _), Some(v)) => {
                self.term(k, out);
                out.push_str(": ");
                self.paren(v, out);
            }
            (k, Some(v)) => {
                self.paren(k, out);
                out.push_str(": ");
                self.paren(v, out);
            }
        }
    }

    fn string(&self, fmt: Option<&str>, parts: &[StrPart<&str, Term<&str>>], out: &mut String) {
        let terms: Vec<&Term<&str>> = parts
            .iter()
            .filter_map(|p| match p {
                StrPart::Term(t) => Some(t),
                _ => None,
            })
            .collect();
        if terms.len() > 1 {
            // jq iterates the last interpolation outermost: bind them right to left.
            out.push('(');
            for (k, t) in terms.iter().enumerate().rev() {
                out.push('(');
                self.term(t, out);
                let _ = write!(out, " | {}) as $__s{k} | ", fmt.unwrap_or("__tostring"));
            }
            out.push('"');
            let mut k = 0;
            for part in parts {
                match part {
                    StrPart::Str(s) => out.push_str(s),
                    StrPart::Char(c) => escape_char(*c, out),
                    StrPart::Term(_) => {
                        let _ = write!(out, "\\($__s{k})");
                        k += 1;
                    }
                }
            }
            out.push_str("\")");
            return;
        }
        out.push('"');
        for part in parts {
            match part {
                StrPart::Str(s) => out.push_str(s),
                StrPart::Char(c) => escape_char(*c, out),
                StrPart::Term(t) => {
                    out.push_str("\\(");
                    self.paren(t, out);
                    match fmt {
                        Some(f) => {
                            let _ = write!(out, " | {f}");
                        }
                        None => out.push_str(" | __tostring"),
                    }
                    out.push(')');
                }
            }
        }
        out.push('"');
    }

    fn pattern(&self, p: &Pattern<&str>, out: &mut String) {
        match p {
            Pattern::Var(x) => out.push_str(x),
            Pattern::Arr(ps) => {
                out.push('[');
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.pattern(p, out);
                }
                out.push(']');
            }
            Pattern::Obj(kps) => {
                out.push('{');
                for (i, (k, p)) in kps.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match k {
                        Term::Var(x) => out.push_str(x),
                        Term::Str(None, _) => self.term(k, out),
                        k => self.paren(k, out),
                    }
                    out.push_str(": ");
                    self.pattern(p, out);
                }
                out.push('}');
            }
        }
    }

    fn binop(&self, l: &Term<&str>, op: &BinaryOp<&str>, r: &Term<&str>, out: &mut String) {
        let infix = |sym: &str, out: &mut String| {
            out.push('(');
            self.term(l, out);
            let _ = write!(out, " {sym} ");
            self.term(r, out);
            out.push(')');
        };
        match op {
            BinaryOp::Pipe(None) => infix("|", out),
            BinaryOp::Pipe(Some(pat)) => {
                out.push('(');
                self.paren(l, out);
                out.push_str(" as ");
                self.pattern(pat, out);
                out.push_str(" | ");
                self.term(r, out);
                out.push(')');
            }
            BinaryOp::Comma => infix(",", out),
            BinaryOp::Alt => infix("//", out),
            BinaryOp::Or => infix("or", out),
            BinaryOp::And => infix("and", out),
            BinaryOp::Cmp(c) => infix(c.as_str(), out),
            BinaryOp::Math(m) => {
                // Natives bind their first argument in the outer loop: jq iterates the
                // right operand outermost.
                let _ = write!(out, "{}(", math_name(m));
                self.term(r, out);
                out.push_str("; ");
                self.term(l, out);
                out.push(')');
            }
            BinaryOp::Assign => {
                out.push_str("__assign(");
                self.in_path(|| self.term(l, out));
                out.push_str("; ");
                self.term(r, out);
                out.push(')');
            }
            BinaryOp::Update => {
                out.push_str("__modify(");
                self.in_path(|| self.term(l, out));
                out.push_str("; ");
                self.term(r, out);
                out.push(')');
            }
            BinaryOp::UpdateMath(m) => {
                out.push('(');
                self.paren(r, out);
                out.push_str(" as $__rhs | __modify(");
                self.in_path(|| self.term(l, out));
                let _ = write!(out, "; {}($__rhs; .)))", math_name(m));
            }
            BinaryOp::UpdateAlt => {
                out.push('(');
                self.paren(r, out);
                out.push_str(" as $__rhs | __modify(");
                self.in_path(|| self.term(l, out));
                out.push_str("; . // $__rhs))");
            }
        }
    }
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn guards_definitions_and_routes_arithmetic_through_natives() {
        assert_eq!(
            rewrite("def f: 1 + f; f").as_deref(),
            Some("(def f: __guard(__add(f; 1)); f)")
        );
    }

    #[test]
    fn turns_assignments_into_path_definitions() {
        assert_eq!(rewrite(".a = 1").as_deref(), Some("__assign(.[\"a\"]; 1)"));
        assert_eq!(
            rewrite(".a += 1").as_deref(),
            Some("((1) as $__rhs | __modify(.[\"a\"]; __add($__rhs; .)))")
        );
    }

    #[test]
    fn prints_strings_objects_and_patterns_back_as_jq() {
        assert_eq!(
            rewrite(r#"{a, $x, "b\n": 1, (.c): 2}"#).as_deref(),
            Some(r#"({"a": .["a"], $x, "b\n": (1), (.["c"]): (2)} | __sized)"#)
        );
        assert_eq!(
            rewrite(r#"@base64 "x\(.a)""#).as_deref(),
            Some(r#""x\((.["a"]) | @base64)""#)
        );
        assert_eq!(
            rewrite(". as [$a, {b: $c}] | $a").as_deref(),
            Some(r#"((.) as [$a, {"b": $c}] | $a)"#)
        );
    }

    #[test]
    fn replaces_loc_with_its_object() {
        assert_eq!(
            rewrite("1 |\n$__loc__").as_deref(),
            Some("(1 | {\"file\":\"<top-level>\",\"line\":2})")
        );
    }
}
