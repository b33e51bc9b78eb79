//! jq's destructuring alternative `exp as P1 ?// P2 … | body`, which jaq's parser lacks,
//! rewritten at the token level before parsing:
//!
//! ```text
//! (exp) as $__alt | try (null as $v… | $__alt as P1 | body) catch (… $__alt as Pn | body)
//! ```
//!
//! Every variable of every pattern is bound (to `null` first), and an error in an
//! alternative (while destructuring or in the body) moves on to the next one; the last
//! alternative's errors propagate, as in jq.

use jaq_core::load::lex::{Lexer, Tok, Token};

/// Words that end a term when scanning backwards from `as`.
const STOP_WORDS: &[&str] = &[
    "and", "or", "then", "else", "elif", "if", "reduce", "foreach", "def", "try", "catch", "label",
    "as", "end", "import", "include",
];
/// Words that end an alternative's body.
const BODY_END_WORDS: &[&str] = &["then", "elif", "else", "end", "catch"];

struct Site {
    exp: (usize, usize),
    patterns: Vec<(usize, usize)>,
    vars: Vec<String>,
    body: (usize, usize),
}

/// Rewrites every `?//` in `code`; `None` when there is none (or the code does not lex).
pub(crate) fn rewrite(code: &str) -> Option<String> {
    if !code.contains("?//") && !code.contains("? //") {
        return None;
    }
    let mut current = code.to_owned();
    let mut changed = false;
    for _ in 0..64 {
        let tokens = Lexer::new(current.as_str()).lex().ok()?;
        let Some(site) = find(&current, &tokens) else {
            break;
        };
        current = apply(&current, &site);
        changed = true;
    }
    changed.then_some(current)
}

fn span(code: &str, s: &str) -> (usize, usize) {
    let start = (s.as_ptr() as usize).saturating_sub(code.as_ptr() as usize);
    (start, start + s.len())
}

fn is_sym(t: &Token<&str>, s: &str) -> bool {
    matches!(t.1, Tok::Sym) && t.0 == s
}

fn is_word(t: &Token<&str>, words: &[&str]) -> bool {
    matches!(t.1, Tok::Word) && words.contains(&t.0)
}

fn term_like(t: &Token<&str>) -> bool {
    match &t.1 {
        Tok::Word => !STOP_WORDS.contains(&t.0),
        Tok::Var | Tok::Fmt | Tok::Num | Tok::Str(_) | Tok::Block(_) => true,
        Tok::Sym => t.0.starts_with('.') || t.0 == "?",
    }
}

fn pattern_vars(t: &Token<&str>, out: &mut Vec<String>) {
    match &t.1 {
        Tok::Var if !out.iter().any(|v| v == t.0) => out.push(t.0.to_owned()),
        // Key expressions in parentheses may use outer variables: not pattern variables.
        Tok::Block(inner) if !t.0.starts_with('(') => {
            for i in inner {
                pattern_vars(i, out);
            }
        }
        _ => {}
    }
}

fn find(code: &str, ts: &[Token<&str>]) -> Option<Site> {
    for i in 0..ts.len() {
        if let Tok::Block(inner) = &ts[i].1
            && let Some(site) = find(code, inner)
        {
            return Some(site);
        }
        if !is_word(&ts[i], &["as"]) || i == 0 {
            continue;
        }
        let mut j = i + 1;
        let mut patterns = vec![ts.get(j)?];
        while j + 3 < ts.len() && is_sym(&ts[j + 1], "?") && is_sym(&ts[j + 2], "//") {
            patterns.push(&ts[j + 3]);
            j += 3;
        }
        if patterns.len() < 2 || !ts.get(j + 1).is_some_and(|t| is_sym(t, "|")) {
            continue;
        }
        let mut k = i;
        while k > 0 && term_like(&ts[k - 1]) {
            k -= 1;
        }
        if k == i {
            continue;
        }
        let body_start = j + 2;
        let mut body_end = body_start;
        // `if … end`, `try … catch` and `def …;` inside the body do not end it.
        let (mut ifs, mut tries, mut defs) = (0usize, 0usize, 0usize);
        while body_end < ts.len() {
            let t = &ts[body_end];
            let closing = matches!(t.1, Tok::Sym) && matches!(t.0, ")" | "]" | "}");
            if is_word(t, &["if"]) {
                ifs += 1;
            } else if is_word(t, &["try"]) {
                tries += 1;
            } else if is_word(t, &["def"]) {
                defs += 1;
            } else if is_word(t, &["end"]) && ifs > 0 {
                ifs -= 1;
            } else if is_word(t, &["then", "elif", "else"]) && ifs > 0 {
            } else if is_word(t, &["catch"]) && tries > 0 {
                tries -= 1;
            } else if is_sym(t, ";") && defs > 0 {
                defs -= 1;
            } else if is_sym(t, ";") || closing || is_word(t, BODY_END_WORDS) {
                break;
            }
            body_end += 1;
        }
        if body_end == body_start {
            continue;
        }
        let mut vars = Vec::new();
        for p in &patterns {
            pattern_vars(p, &mut vars);
        }
        let exp = (span(code, ts[k].0).0, span(code, ts[i - 1].0).1);
        let body = (
            span(code, ts[body_start].0).0,
            span(code, ts[body_end - 1].0).1,
        );
        let patterns = patterns.iter().map(|p| span(code, p.0)).collect();
        return Some(Site {
            exp,
            patterns,
            vars,
            body,
        });
    }
    None
}

fn apply(code: &str, site: &Site) -> String {
    let body = &code[site.body.0..site.body.1];
    let nulls: String = site
        .vars
        .iter()
        .map(|v| format!("null as {v} | "))
        .collect();
    let branch = |p: &(usize, usize)| format!("({nulls}$__alt as {} | {body})", &code[p.0..p.1]);
    let mut chain = String::new();
    let n = site.patterns.len();
    for (i, p) in site.patterns.iter().enumerate() {
        if i + 1 < n {
            chain.push_str(&format!("try {} catch (", branch(p)));
        } else {
            chain.push_str(&branch(p));
        }
    }
    chain.push_str(&")".repeat(n - 1));
    format!(
        "{}(({}) as $__alt | {}){}",
        &code[..site.exp.0],
        &code[site.exp.0..site.exp.1],
        chain,
        &code[site.body.1..]
    )
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_alternatives_into_try_chains() {
        assert_eq!(
            rewrite(".[] as [$a] ?// $b | [$a, $b]").as_deref(),
            Some(
                "((.[]) as $__alt | try (null as $a | null as $b | $__alt as [$a] | [$a, $b]) \
                 catch ((null as $a | null as $b | $__alt as $b | [$a, $b])))"
            )
        );
    }

    #[test]
    fn stops_the_body_at_the_enclosing_block() {
        let out = rewrite("[. as [$a] ?// $a | $a], 1").unwrap_or_default();
        assert!(out.starts_with("[((.) as $__alt | try"), "{out}");
        assert!(out.ends_with("| $a)))], 1"), "{out}");
    }

    #[test]
    fn keeps_conditionals_inside_the_body() {
        let out = rewrite(".[] as [$a] ?// [$b] | if $a then 1 else 2 end").unwrap_or_default();
        assert!(out.ends_with("| if $a then 1 else 2 end)))"), "{out}");
    }

    #[test]
    fn leaves_programs_without_alternatives_alone() {
        assert_eq!(rewrite(".a // .b"), None);
    }
}
