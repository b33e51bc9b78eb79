//! jq 1.8's regex natives over `fancy-regex` (look-around, Unicode classes), with compiled
//! regexes cached per thread: `__match(re; flags; test)` backs `test`, `match`, `capture`,
//! `scan`, `split/2`, `splits`, `sub` and `gsub` (defined in the prelude as jq defines them).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use fancy_regex::{Regex, RegexBuilder};
use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::Val;

use super::compat::describe;
use super::natives::D;

/// Regexes kept per thread before the cache is cleared.
const CACHE_SIZE: usize = 512;

thread_local! {
    static CACHE: RefCell<HashMap<(String, String), Rc<Regex>>> = RefCell::new(HashMap::new());
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

fn compile(re: &str, inline: &str) -> Result<Rc<Regex>, String> {
    let key = (re.to_owned(), inline.to_owned());
    if let Some(r) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let pattern = if inline.is_empty() {
        re.to_owned()
    } else {
        format!("(?{inline}){re}")
    };
    let regex = RegexBuilder::new(&pattern)
        .backtrack_limit(1_000_000)
        .build()
        .map_err(|e| format!("{re} (at offset 0) is not a valid regex: {e}"))?;
    let regex = Rc::new(regex);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(key, Rc::clone(&regex));
    });
    Ok(regex)
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::TStr(s) => Some(String::from_utf8_lossy(s).into_owned()),
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
    let found = find_all(&s, re, flags)?;
    if test {
        return Ok(Val::Bool(!found.is_empty()));
    }
    // Byte offset -> codepoint offset.
    let cp = |byte: usize| s[..byte].chars().count() as isize;
    let piece = |a: usize, b: usize| {
        obj(vec![
            ("offset", Val::from(cp(a))),
            ("length", Val::from(s[a..b].chars().count() as isize)),
            ("string", Val::from(s[a..b].to_owned())),
        ])
    };
    let matches = found.iter().map(|m| {
        let captures: Val = m
            .groups
            .iter()
            .map(|(span, name)| {
                let name = name.clone().map_or(Val::Null, Val::from);
                match span {
                    Some((a, b)) => obj(vec![
                        ("offset", Val::from(cp(*a))),
                        ("length", Val::from(s[*a..*b].chars().count() as isize)),
                        ("string", Val::from(s[*a..*b].to_owned())),
                        ("name", name),
                    ]),
                    None => obj(vec![
                        ("offset", Val::from(-1isize)),
                        ("length", Val::from(0isize)),
                        ("string", Val::Null),
                        ("name", name),
                    ]),
                }
            })
            .collect();
        let mut whole = piece(m.start, m.end);
        if let Val::Obj(o) = &mut whole {
            jaq_json::Rc::make_mut(o).insert(Val::from("captures".to_owned()), captures);
        }
        whole
    });
    Ok(matches.collect())
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

fn find_all(s: &str, re: &Val, flags: &Val) -> Result<Vec<Found>, String> {
    let not_string = |v: &Val| format!("{} cannot be matched, as it is not a string", describe(v));
    let re_text = text(re).ok_or_else(|| not_string(re))?;
    let flag_text = match flags {
        Val::Null => String::new(),
        other => text(other).ok_or_else(|| format!("{} is not a string", describe(other)))?,
    };
    let (flags, inline) = parse_flags(&flag_text)?;
    let regex = compile(&perl_dollar(&re_text), &inline)?;
    let names: Vec<Option<String>> = regex
        .capture_names()
        .map(|n| n.map(str::to_owned))
        .collect();
    let mut found = Vec::new();
    let mut pos = 0;
    while pos <= s.len() {
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
        let found = find_all(&s, &re, &flags).map_err(err)?;
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
    }
}
