//! Which top-level keys of its input a program can observe, found from its syntax.
//!
//! Converting an item into jaq's values costs a copy of every string in it, and a work
//! item's mapping reads a few of its ten keys. When every way a program touches its input
//! object is `.key…` with a constant key (or `has("key")`, or truthiness: `select`,
//! `if`, `and`, `//`), the program gives the same outputs and errors on the object cut
//! down to those keys, and only they are converted. Anything else — the input passed to
//! a function, iterated, compared, bound to a variable, printed, a local definition — and
//! the program is run on the whole item.

use std::collections::BTreeSet;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::path::Part;

/// The input keys `code` reads, or `None` when it may observe its input another way.
pub(crate) fn input_keys(code: &str) -> Option<BTreeSet<String>> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    let mut walk = Walk::default();
    // A program that may output its input unchanged shows all of it.
    match walk.term(&term, true)? {
        false => Some(walk.keys),
        true => None,
    }
}

#[derive(Default)]
struct Walk {
    keys: BTreeSet<String>,
}

impl Walk {
    /// Walks `t`, run on the input object itself when `on_input`; `Some(true)` when its
    /// outputs may be that object unchanged, `None` when it may observe the object other
    /// than through recorded keys.
    fn term(&mut self, t: &Term<&str>, on_input: bool) -> Option<bool> {
        if !on_input {
            // No variable holds the input (binding it is refused) and a definition cannot
            // reach it: a term run on another value cannot observe it.
            return Some(false);
        }
        match t {
            Term::Id => Some(true),
            Term::Recurse | Term::Def(..) => None,
            Term::Num(_) | Term::Break(_) | Term::Var(_) | Term::Arr(None) => Some(false),
            Term::Str(Some(_), _) => None,
            Term::Str(None, parts) => {
                for part in parts {
                    if let StrPart::Term(t) = part {
                        self.consumed(t)?;
                    }
                }
                Some(false)
            }
            Term::Arr(Some(t)) | Term::Neg(t) => {
                self.consumed(t)?;
                Some(false)
            }
            Term::Obj(entries) => {
                for (k, v) in entries {
                    match v {
                        Some(v) => {
                            self.consumed(k)?;
                            self.consumed(v)?;
                        }
                        // `{a}` is `{a: .a}`, `{$x}` is `{x: $x}`.
                        None => match k {
                            Term::Var(_) => {}
                            k => {
                                let key = literal(k)?;
                                self.keys.insert(key);
                            }
                        },
                    }
                }
                Some(false)
            }
            Term::BinOp(l, op, r) => self.binop(l, op, r),
            Term::Label(_, t) => self.term(t, true),
            Term::Fold(_, xs, pattern, args) => {
                self.consumed(xs)?;
                pattern_ok(pattern)?;
                // The first argument is the initial accumulator; the others run on it.
                if let Some(init) = args.first() {
                    self.consumed(init)?;
                }
                Some(false)
            }
            Term::TryCatch(t, _) => {
                // Nothing the input can reach raises an error holding it, so the handler
                // runs on a value that is not the input.
                self.term(t, true)
            }
            Term::IfThenElse(branches, otherwise) => {
                let mut whole = false;
                for (cond, then) in branches {
                    self.term(cond, true)?;
                    whole |= self.term(then, true)?;
                }
                whole |= match otherwise {
                    Some(e) => self.term(e, true)?,
                    // `if c then a end` outputs its input when `c` is false.
                    None => true,
                };
                Some(whole)
            }
            Term::Call(name, args) => self.call(name, args),
            Term::Path(head, path) => {
                let whole = self.term(head, true)?;
                // Index expressions run on the path's input, as in `.a[.b]`.
                for (part, _) in &path.0 {
                    match part {
                        Part::Index(i) => self.consumed(i)?,
                        Part::Range(from, upto) => {
                            for i in [from, upto].into_iter().flatten() {
                                self.consumed(i)?;
                            }
                        }
                    }
                }
                if whole {
                    match path.0.first() {
                        Some((Part::Index(i), _)) => {
                            let key = literal(i)?;
                            self.keys.insert(key);
                        }
                        _ => return None,
                    }
                }
                Some(false)
            }
        }
    }

    /// Walks a term whose outputs are used as values (compared, stored, converted): they
    /// must not be the input object.
    fn consumed(&mut self, t: &Term<&str>) -> Option<()> {
        match self.term(t, true)? {
            false => Some(()),
            true => None,
        }
    }

    fn binop(&mut self, l: &Term<&str>, op: &BinaryOp<&str>, r: &Term<&str>) -> Option<bool> {
        match op {
            BinaryOp::Pipe(None) => {
                let whole = self.term(l, true)?;
                self.term(r, whole)
            }
            BinaryOp::Pipe(Some(pattern)) => {
                self.consumed(l)?;
                pattern_ok(pattern)?;
                self.term(r, true)
            }
            BinaryOp::Comma | BinaryOp::Alt => {
                let a = self.term(l, true)?;
                let b = self.term(r, true)?;
                Some(a || b)
            }
            // Only the truthiness of the operands is seen: an object is true, cut or not.
            BinaryOp::And | BinaryOp::Or => {
                self.term(l, true)?;
                self.term(r, true)?;
                Some(false)
            }
            BinaryOp::Math(_) | BinaryOp::Cmp(_) => {
                self.consumed(l)?;
                self.consumed(r)?;
                Some(false)
            }
            BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => {
                None
            }
        }
    }

    /// A call run on the input object: only builtins known to see no more of it than
    /// their arguments do (or than its type and truthiness).
    fn call(&mut self, name: &str, args: &[Term<&str>]) -> Option<bool> {
        match (name, args) {
            ("empty" | "null" | "true" | "false" | "not" | "type" | "env" | "now", []) => {
                Some(false)
            }
            ("select", [cond]) => {
                self.term(cond, true)?;
                Some(true)
            }
            ("first", [f]) => self.term(f, true),
            ("error", [msg]) => {
                self.consumed(msg)?;
                Some(false)
            }
            ("has", [key]) => {
                let key = literal(key)?;
                self.keys.insert(key);
                Some(false)
            }
            _ => None,
        }
    }
}

/// The text of a string literal without interpolation.
fn literal(t: &Term<&str>) -> Option<String> {
    let Term::Str(None, parts) = t else {
        return None;
    };
    let mut out = String::new();
    for part in parts {
        match part {
            StrPart::Str(s) => out.push_str(s),
            StrPart::Char(c) => out.push(*c),
            StrPart::Term(_) => return None,
        }
    }
    Some(out)
}

/// Patterns that bind variables without evaluating anything (`$x`, `[$a, $b]`, `{a: $x}`).
fn pattern_ok(p: &Pattern<&str>) -> Option<()> {
    match p {
        Pattern::Var(_) => Some(()),
        Pattern::Arr(ps) => ps.iter().try_for_each(pattern_ok),
        Pattern::Obj(kps) => kps.iter().try_for_each(|(k, p)| {
            match k {
                Term::Var(_) => {}
                k => {
                    literal(k)?;
                }
            }
            pattern_ok(p)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(code: &str) -> Option<Vec<String>> {
        input_keys(code).map(|k| k.into_iter().collect())
    }

    #[test]
    fn keys_read_through_constant_paths_are_found() {
        let cases: &[(&str, &[&str])] = &[
            (".id | tostring", &["id"]),
            (".fields.\"System.Title\"", &["fields"]),
            (
                ".fields as $f | $f.\"System.WorkItemType\" as $t | [$f | keys_unsorted[]]",
                &["fields"],
            ),
            (
                ".fields.\"System.WorkItemType\" as $type | [.fields | to_entries[] | select(.key | endswith(\"x\")) | .value + $type]",
                &["fields"],
            ),
            (".a // .b", &["a", "b"]),
            ("if .a then .b else .c end", &["a", "b", "c"]),
            ("select(.a == 1) | .b", &["a", "b"]),
            ("{x: .a, b}", &["a", "b"]),
            ("\"\\(.a)/\\(.b)\"", &["a", "b"]),
            ("(.url | capture(\"(?<t>[^/]+)$\").t)? // null", &["url"]),
            ("has(\"a\") and .b", &["a", "b"]),
            ("[.a[] | select(.x) | .y]", &["a"]),
            ("reduce .a[] as $x (0; . + $x)", &["a"]),
            ("\"literal\"", &[]),
            (".a[.b]", &["a", "b"]),
            (".[\"a\"]", &["a"]),
        ];
        for (code, want) in cases {
            let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(keys(code), Some(want), "{code}");
        }
    }

    #[test]
    fn programs_that_may_observe_the_whole_input_are_not_cut() {
        for code in [
            ".",
            "keys",
            "to_entries",
            "tojson",
            "length",
            ". as $x | $x.a",
            ".[]",
            ".. | .a?",
            "select(.a)",
            "if .a then .b end",
            "{item: .}",
            "[.]",
            ". == {}",
            ".a = 1",
            "def f: .a; f",
            "map(.a)",
            "@json",
            "\"\\(.)\"",
            ".[0]",
            "has($k)",
            "reduce . as $x (0; 1)",
            "reduce .a[] as $x (.; .)",
            "first(.)",
            "getpath([\"a\"])",
            "error(.)",
            ".a, .",
        ] {
            assert_eq!(keys(code), None, "{code}");
        }
    }
}
