//! Port's single-quote rewrite: `'text'` string delimiters become `"text"` before compiling.
//!
//! Port applies the Python regex `(^|\s)'(?!\s|")|(?<!\s|")'(\s|$)` with replacement
//! `\1"\2` to every pattern. This module reproduces that substitution without a look-around
//! regex engine, with identical results (Python's `re.sub` semantics: leftmost match, scanning
//! resumes after each match, empty matches impossible here).

use std::borrow::Cow;

/// Rewrites single-quote delimiters to double quotes exactly as Port's regex does.
pub fn rewrite_single_quotes(expr: &str) -> Cow<'_, str> {
    if !expr.contains('\'') {
        return Cow::Borrowed(expr);
    }
    let chars: Vec<(usize, char)> = expr.char_indices().collect();
    let mut out = String::with_capacity(expr.len());
    let mut last = 0; // byte offset copied so far
    let mut i = 0; // char index where the next match attempt starts
    while i < chars.len() {
        match match_at(&chars, i) {
            Some((quote, end)) => {
                let qpos = chars[quote].0;
                out.push_str(&expr[last..qpos]);
                out.push('"');
                last = qpos + 1;
                // A zero-length remainder cannot happen: every match consumes the quote.
                i = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&expr[last..]);
    Cow::Owned(out)
}

/// Tries the regex at char index `i`; returns (index of the quote char, char index after match).
fn match_at(chars: &[(usize, char)], i: usize) -> Option<(usize, usize)> {
    let is_ws = |c: char| is_python_space(c);
    // Alternative 1: (^|\s)'(?!\s|")
    // 1a: `^` at the very start, then the quote at i.
    if i == 0 && chars[0].1 == '\'' && !next_is_ws_or_dquote(chars, 1) {
        return Some((0, 1));
    }
    // 1b: whitespace at i, quote at i + 1.
    if is_ws(chars[i].1)
        && chars.get(i + 1).is_some_and(|c| c.1 == '\'')
        && !next_is_ws_or_dquote(chars, i + 2)
    {
        return Some((i + 1, i + 2));
    }
    // Alternative 2: (?<!\s|")'(\s|$)
    if chars[i].1 == '\'' {
        let prev_ok = i == 0 || !(is_ws(chars[i - 1].1) || chars[i - 1].1 == '"');
        if prev_ok {
            match chars.get(i + 1) {
                None => return Some((i, i + 1)),
                Some(c) if is_ws(c.1) => return Some((i, i + 2)),
                Some(_) => {}
            }
        }
    }
    None
}

fn next_is_ws_or_dquote(chars: &[(usize, char)], j: usize) -> bool {
    chars
        .get(j)
        .is_some_and(|c| is_python_space(c.1) || c.1 == '"')
}

/// Python's `\s` for `str` patterns: Unicode whitespace (`str.isspace`) plus the ASCII
/// separators 0x1c–0x1f.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

#[cfg(test)]
mod tests {
    use super::rewrite_single_quotes as r;

    #[test]
    fn leaves_expressions_without_quotes_borrowed() {
        assert!(matches!(r(".a.b"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn rewrites_a_whole_single_quoted_expression() {
        assert_eq!(r("'abc'"), "\"abc\"");
    }

    #[test]
    fn rewrites_quotes_after_and_before_whitespace() {
        assert_eq!(r(".a + 'x' + .b"), ".a + \"x\" + .b");
    }

    #[test]
    fn leaves_quotes_inside_words_alone() {
        assert_eq!(r(".a + \"it's\""), ".a + \"it's\"");
    }

    #[test]
    fn does_not_rewrite_quote_followed_by_space_at_start() {
        // `(^|\s)'(?!\s|")` fails; `(?<!\s|")'(\s|$)` matches at 0 (no char before).
        assert_eq!(r("' a"), "\" a");
    }

    #[test]
    fn does_not_rewrite_quote_next_to_double_quote() {
        assert_eq!(r("\"'\""), "\"'\"");
        assert_eq!(r(" '\""), " '\"");
    }

    #[test]
    fn rewrites_closing_quote_at_end_only_when_not_after_space() {
        assert_eq!(r("'a'"), "\"a\"");
        // `\s'` followed by the end: `(?!\s|")` holds, so alternative 1 matches.
        assert_eq!(r("x '"), "x \"");
    }

    #[test]
    fn rewrites_quotes_inside_parentheses_as_python_does() {
        // `('a')`: no whitespace around, so Port leaves it (and jq then fails).
        assert_eq!(r("test('a')"), "test('a')");
        assert_eq!(r("test( 'a' )"), "test( \"a\" )");
    }

    #[test]
    fn handles_consecutive_matches_sharing_whitespace() {
        // The first match consumes the trailing space, so the next quote after it has no
        // leading whitespace available for alternative 1 (Python resumes after the match).
        assert_eq!(r("'a' 'b'"), "\"a\" 'b\"");
    }

    #[test]
    fn handles_tabs_newlines_and_unicode() {
        assert_eq!(r("\t'é'\n"), "\t\"é\"\n");
        assert_eq!(r("'ü' | ."), "\"ü\" | .");
    }

    #[test]
    fn handles_lone_quotes() {
        assert_eq!(r("'"), "\"");
        assert_eq!(r(" ' "), " ' ");
        assert_eq!(r("a'b"), "a'b");
    }
}
