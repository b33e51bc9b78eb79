//! jq 1.8's regex natives over `fancy-regex` (look-around, Unicode classes), with compiled
//! regexes cached per thread: `__match(re; flags; test)` backs `test`, `match`, `capture`,
//! `scan`, `split/2`, `splits`, `sub` and `gsub` (defined in the prelude as jq defines them),
//! so all of them share the cache.
//!
//! Every search is bounded: fancy-regex gives up after [`BACKTRACK_LIMIT`] backtracking
//! steps (a catastrophic pattern fails instead of running for minutes), each match found
//! charges a step and reads the clock (so a global search over a long text stops at the
//! evaluation's deadline), and the match objects and replaced strings built are counted
//! against the evaluation's size allowance.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use fancy_regex::{Regex, RegexBuilder};
use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::Val;

use super::budget;
use super::compat::describe;
use super::natives::D;

/// Regexes kept per thread before the cache is cleared.
const CACHE_SIZE: usize = 512;

/// Backtracking steps one search may take (fancy-regex's default, set explicitly).
const BACKTRACK_LIMIT: usize = 1_000_000;

/// Bytes a match object is counted as against the evaluation's size allowance, besides
/// the text it holds.
const MATCH_BYTES: usize = 64;

thread_local! {
    /// Compiled regexes by `flags NUL pattern`.
    static CACHE: RefCell<HashMap<String, Rc<Regex>>> = RefCell::new(HashMap::new());
    /// The key being looked up, reused so a cache hit allocates nothing.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Parsed jq regex flags.
#[derive(Default)]
struct Flags {
    global: bool,
    skip_empty: bool,
}

fn parse_flags(flags: &str) -> Result<(Flags, String), String> {
    let mut f = Flags::default();
    let mut inline = String::new();
    for c in flags.chars() {
        match c {
            'g' => f.global = true,
            'i' => inline.push('i'),
            'x' => inline.push('x'),
            // Oniguruma's single-line option: no observable effect under jq's Perl syntax.
            's' => {}
            'n' => f.skip_empty = true,
            // Oniguruma's multi-line (`.` matches newlines) plus single-line.
            'p' => inline.push('s'),
            'l' => {}
            _ => return Err(format!("{flags} is not a valid modifier string")),
        }
    }
    Ok((f, inline))
}

/// The compiled regex for jq pattern `re` with inline flags, from the cache when it is there.
fn compile(re: &str, inline: &str) -> Result<Rc<Regex>, String> {
    let hit = KEY.with(|k| {
        let mut k = k.borrow_mut();
        k.clear();
        k.push_str(inline);
        k.push('\0');
        k.push_str(re);
        CACHE.with(|c| c.borrow().get(k.as_str()).cloned())
    });
    if let Some(r) = hit {
        return Ok(r);
    }
    let re_perl = perl_dollar(re);
    let pattern = if inline.is_empty() {
        re_perl
    } else {
        format!("(?{inline}){re_perl}")
    };
    let regex = RegexBuilder::new(&pattern)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| format!("{re} (at offset 0) is not a valid regex: {e}"))?;
    let regex = Rc::new(regex);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(format!("{inline}\0{re}"), Rc::clone(&regex));
    });
    Ok(regex)
}

fn text(v: &Val) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Val::TStr(s) => Some(String::from_utf8_lossy(s)),
        _ => None,
    }
}

fn obj(pairs: Vec<(&str, Val)>) -> Val {
    Val::from_map(pairs.into_iter().map(|(k, v)| (Val::from(k.to_owned()), v))).unwrap_or_default()
}

/// Runs a regex over `input`, returning jq match objects (or whether it matched).
fn run(input: &Val, re: &Val, flags: &Val, test: bool) -> Result<Val, String> {
    let s = text(input).ok_or_else(|| {
        format!(
            "{} cannot be matched, as it is not a string",
            describe(input)
        )
    })?;
    let s = s.as_ref();
    let (regex, flags) = prepare(re, flags)?;
    if test && !flags.skip_empty {
        budget::charge_timed(1)?;
        return regex
            .is_match(s)
            .map(Val::Bool)
            .map_err(|e| format!("regex failed: {e}"));
    }
    let found = find_all(s, &regex, &flags)?;
    if test {
        return Ok(Val::Bool(!found.is_empty()));
    }
    let mut offsets = Codepoints::new(s);
    let mut piece = |a: usize, b: usize, name: Option<Val>| {
        let mut fields = vec![
            ("offset", Val::from(offsets.at(a) as isize)),
            ("length", Val::from(s[a..b].chars().count() as isize)),
            ("string", Val::from(s[a..b].to_owned())),
        ];
        if let Some(name) = name {
            fields.push(("name", name));
        }
        obj(fields)
    };
    let mut matches = Vec::with_capacity(found.len());
    for m in &found {
        let text_bytes = m.end - m.start
            + m.groups
                .iter()
                .filter_map(|(span, _)| span.map(|(a, b)| b - a))
                .sum::<usize>();
        budget::charge_bytes(text_bytes + MATCH_BYTES * (1 + m.groups.len()))?;
        let mut whole = piece(m.start, m.end, None);
        let captures: Val = m
            .groups
            .iter()
            .map(|(span, name)| {
                let name = name.clone().map_or(Val::Null, Val::from);
                match span {
                    Some((a, b)) => piece(*a, *b, Some(name)),
                    None => obj(vec![
                        ("offset", Val::from(-1isize)),
                        ("length", Val::from(0isize)),
                        ("string", Val::Null),
                        ("name", name),
                    ]),
                }
            })
            .collect();
        if let Val::Obj(o) = &mut whole {
            jaq_json::Rc::make_mut(o).insert(Val::from("captures".to_owned()), captures);
        }
        matches.push(whole);
    }
    Ok(matches.into_iter().collect())
}

/// Byte offsets to code point offsets, counting forward from the last offset asked for, so
/// that the offsets of a string's many matches cost one pass over it, not one each.
struct Codepoints<'s> {
    s: &'s str,
    byte: usize,
    count: usize,
}

impl<'s> Codepoints<'s> {
    fn new(s: &'s str) -> Self {
        Self {
            s,
            byte: 0,
            count: 0,
        }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.count = 0;
        }
        self.count += self.s[self.byte..byte].chars().count();
        self.byte = byte;
        self.count
    }
}

/// A capture group of a match: its byte span (if it took part) and its name.
type Group = (Option<(usize, usize)>, Option<String>);

/// Oniguruma's Perl syntax lets `$` match before a final newline too; Rust's `$` does not.
fn perl_dollar(re: &str) -> String {
    if !re.contains('$') {
        return re.to_owned();
    }
    let mut out = String::with_capacity(re.len() + 8);
    let mut chars = re.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?=\\n?\\z)"),
            c => out.push(c),
        }
    }
    out
}

/// One match: byte span and capture groups.
struct Found {
    start: usize,
    end: usize,
    groups: Vec<Group>,
}

/// The compiled regex and parsed flags of jq's `re` and `flags` arguments.
fn prepare(re: &Val, flags: &Val) -> Result<(Rc<Regex>, Flags), String> {
    let not_string = |v: &Val| format!("{} cannot be matched, as it is not a string", describe(v));
    let re_text = text(re).ok_or_else(|| not_string(re))?;
    let flag_text = match flags {
        Val::Null => std::borrow::Cow::Borrowed(""),
        other => text(other).ok_or_else(|| format!("{} is not a string", describe(other)))?,
    };
    let (flags, inline) = parse_flags(&flag_text)?;
    Ok((compile(&re_text, &inline)?, flags))
}

/// Every match of `regex` in `s` (the first only, unless global), each charged to the
/// budget as it is found.
fn find_all(s: &str, regex: &Regex, flags: &Flags) -> Result<Vec<Found>, String> {
    let names: Vec<Option<String>> = regex
        .capture_names()
        .map(|n| n.map(str::to_owned))
        .collect();
    let mut found = Vec::new();
    let mut pos = 0;
    while pos <= s.len() {
        budget::charge_timed(1)?;
        let caps = match regex.captures_from_pos(s, pos) {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(format!("regex failed: {e}")),
        };
        let Some(whole) = caps.get(0) else { break };
        let (start, end) = (whole.start(), whole.end());
        let empty = start == end;
        if !(empty && flags.skip_empty) {
            let groups = (1..names.len())
                .map(|i| (caps.get(i).map(|m| (m.start(), m.end())), names[i].clone()))
                .collect();
            found.push(Found { start, end, groups });
            if !flags.global {
                break;
            }
        }
        pos = if empty {
            match s[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        } else {
            end
        };
    }
    Ok(found)
}

/// `__sub(re; flags; f)`: jq 1.8's `sub`, natively. `f` runs on each match's named
/// captures; its k-th outputs across matches build the k-th result.
fn sub_native(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (f, fc) = cv.0.pop_fun();
    let flags = cv.0.pop_var();
    let re = cv.0.pop_var();
    let run = || -> Result<Vec<Val>, Exn<'_, Val>> {
        let err = |e: String| Exn::from(Error::str(e));
        let input = cv.1.clone();
        let s = text(&input).ok_or_else(|| {
            err(format!(
                "{} cannot be matched, as it is not a string",
                describe(&input)
            ))
        })?;
        let (regex, parsed) = prepare(&re, &flags).map_err(err)?;
        let found = find_all(&s, &regex, &parsed).map_err(err)?;
        let mut results: Vec<String> = Vec::new();
        let mut previous = 0;
        for m in &found {
            let gap = &s[previous.min(m.start)..m.start];
            let captures = obj(m
                .groups
                .iter()
                .filter_map(|(span, name)| {
                    let name = name.as_deref()?;
                    let v = span.map_or(Val::Null, |(a, b)| Val::from(s[a..b].to_owned()));
                    Some((name, v))
                })
                .collect());
            for (ix, insert) in f.run((fc.clone(), captures)).enumerate() {
                let insert = insert?;
                let Val::TStr(b) = &insert else {
                    return Err(err(format!(
                        "{} and {} cannot be added",
                        describe(&Val::from(gap.to_owned())),
                        describe(&insert)
                    )));
                };
                let piece = String::from_utf8_lossy(b);
                budget::charge_bytes(gap.len() + piece.len()).map_err(|why| err(why.to_owned()))?;
                if ix < results.len() {
                    results[ix].push_str(gap);
                    results[ix].push_str(&piece);
                } else {
                    results.push(format!("{gap}{piece}"));
                }
            }
            previous = m.end;
        }
        if results.is_empty() {
            return Ok(vec![input]);
        }
        let tail = &s[previous..];
        Ok(results.into_iter().map(|r| Val::from(r + tail)).collect())
    };
    match run() {
        Ok(vals) => Box::new(vals.into_iter().map(Ok)),
        Err(e) => box_once(Err(e)),
    }
}

fn match_native(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let test = cv.0.pop_var();
    let flags = cv.0.pop_var();
    let re = cv.0.pop_var();
    let result = run(&cv.1, &re, &flags, test.as_bool()).map_err(|e| Exn::from(Error::str(e)));
    box_once(result)
}

/// The regex natives.
pub(crate) fn funs() -> Vec<Fun<D>> {
    let sub_args: Box<[jaq_core::Bind]> = Box::new([
        jaq_core::Bind::Var(()),
        jaq_core::Bind::Var(()),
        jaq_core::Bind::Fun(()),
    ]);
    vec![
        ("__match", v(3), Native::<D>::new(match_native)),
        ("__sub", sub_args, Native::<D>::new(sub_native)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val {
        Val::from(x.to_owned())
    }

    #[test]
    fn supports_look_around_and_unicode_word_characters() {
        assert_eq!(
            run(&s("quux"), &s("(?=u)"), &Val::Null, true),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            run(&s("héllo"), &s("^\\w+$"), &Val::Null, true),
            Ok(Val::Bool(true))
        );
    }

    #[test]
    fn dollar_matches_before_a_final_newline() {
        assert_eq!(
            run(&s("a\n"), &s("a$"), &Val::Null, true),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            run(&s("a\nb"), &s("a$"), &s("s"), true),
            Ok(Val::Bool(false))
        );
        assert_eq!(
            run(&s("a$"), &s("a[$]"), &Val::Null, true),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            run(&s("a\nb"), &s("a.b"), &s("p"), true),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            run(&s("a\nb"), &s("a.b"), &s("s"), true),
            Ok(Val::Bool(false))
        );
    }

    #[test]
    fn rejects_unknown_flags() {
        let err = run(&s("a"), &s("a"), &s("q"), true).unwrap_err();
        assert_eq!(err, "q is not a valid modifier string");
    }

    #[test]
    fn caches_compiled_regexes() {
        let a = compile("a+b", "").unwrap();
        let b = compile("a+b", "").unwrap();
        assert!(Rc::ptr_eq(&a, &b));
        let c = compile("a+b", "i").unwrap();
        assert!(!Rc::ptr_eq(&a, &c));
    }

    #[test]
    fn codepoint_offsets_count_forward_and_restart_when_asked_backwards() {
        let mut cp = Codepoints::new("héllo wörld");
        assert_eq!(cp.at(3), 2);
        assert_eq!(cp.at(8), 7);
        assert_eq!(cp.at(1), 1);
    }
}
