//! Positions inside a scalar: from a byte range of its value back to the source text.
//!
//! A value and its source differ by how the scalar is written: quotes, `''` and `\`
//! escapes, and the line breaks and indentation a multi-line plain scalar or a `>` or `|`
//! block folds or strips. Whitespace is where they differ; every other character of the
//! value comes from one place of the source, in order. So the source is read into its
//! significant characters (escapes decoded, each with its place), the value's
//! non-whitespace characters are paired with them one by one, and a range of the value maps
//! to the places of its first and last paired characters. When the two do not pair up (a
//! number written `0x1F`, a value that came through an alias), there is no answer and the
//! caller points at the whole value instead.

use std::ops::Range;

use super::{NodeSpans, Style};
use crate::config::source::{SourceFile, Span};

/// The span in the source of bytes `range` of `value`, the value of the scalar at `node`.
///
/// An empty range (a place between characters, such as the end of the text) maps to the
/// next character, or just past the last one.
pub fn span_of(
    file: &SourceFile,
    node: &NodeSpans,
    value: &str,
    range: Range<usize>,
) -> Option<Span> {
    let style = node.style?;
    let source = file.text.get(node.value.start..node.value.end)?;
    let units = significant(source, style)?;
    // Pair the value's non-whitespace characters with the source's significant ones.
    let mut pairs: Vec<(usize, Range<usize>)> = Vec::new();
    let mut next = units.iter();
    for (i, c) in value.char_indices().filter(|(_, c)| !c.is_whitespace()) {
        let unit = next.next()?;
        if unit.0 != c {
            return None;
        }
        pairs.push((i, unit.1.clone()));
    }
    let base = node.value.start;
    let first = pairs.iter().find(|(i, _)| *i >= range.start);
    let (start, end) = if range.is_empty() {
        match first {
            Some((_, at)) => (at.start, at.end),
            None => {
                let end = pairs.last().map_or(0, |(_, at)| at.end);
                (end, end)
            }
        }
    } else {
        let last = pairs.iter().rev().find(|(i, _)| *i < range.end)?;
        let first = first?;
        (first.1.start, last.1.end.max(first.1.end))
    };
    Some(file.span_of_bytes(base + start, base + end))
}

/// The significant characters of a scalar's source text, each with its byte range there:
/// quotes left out, escapes decoded, whitespace (which folding changes) skipped.
fn significant(source: &str, style: Style) -> Option<Vec<(char, Range<usize>)>> {
    let mut out = Vec::new();
    match style {
        Style::Plain | Style::Literal | Style::Folded => {
            for (i, c) in source.char_indices() {
                if !c.is_whitespace() {
                    out.push((c, i..i + c.len_utf8()));
                }
            }
        }
        Style::SingleQuoted => {
            let mut chars = source.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    // `''` is one quote; a lone one closes the scalar.
                    match chars.peek() {
                        Some(&(_, '\'')) => {
                            chars.next();
                            out.push(('\'', i..i + 2));
                        }
                        _ => break,
                    }
                } else if !c.is_whitespace() {
                    out.push((c, i..i + c.len_utf8()));
                }
            }
        }
        Style::DoubleQuoted => {
            let mut chars = source.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        let (j, e) = chars.next()?;
                        let mut end = j + e.len_utf8();
                        let decoded = match e {
                            // An escaped line break joins the lines.
                            '\n' | '\r' => continue,
                            'x' | 'u' | 'U' => {
                                let len = match e {
                                    'x' => 2,
                                    'u' => 4,
                                    _ => 8,
                                };
                                let hex = source.get(end..end + len)?;
                                end += len;
                                for _ in 0..len {
                                    chars.next();
                                }
                                char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                            }
                            _ => escaped(e)?,
                        };
                        if !decoded.is_whitespace() {
                            out.push((decoded, i..end));
                        }
                    }
                    c if c.is_whitespace() => {}
                    c => out.push((c, i..i + c.len_utf8())),
                }
            }
        }
    }
    Some(out)
}

/// The character a one-letter `\` escape of a double-quoted scalar stands for.
fn escaped(e: char) -> Option<char> {
    Some(match e {
        '0' => '\0',
        'a' => '\u{7}',
        'b' => '\u{8}',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\u{b}',
        'f' => '\u{c}',
        'r' => '\r',
        'e' => '\u{1b}',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    /// The line, column and text of the source span of `needle` (its first occurrence in
    /// the value at `/v`).
    fn find(text: &str, needle: &str) -> Option<(usize, usize, String)> {
        let file = SourceFile::new("t.yaml", text);
        let doc = parse(&file).unwrap();
        let value = doc.value["v"].as_str().unwrap();
        let at = value.find(needle).unwrap();
        let span = span_of(&file, &doc.nodes["/v"], value, at..at + needle.len())?;
        Some((
            span.line,
            span.column,
            file.text[span.start..span.end].to_string(),
        ))
    }

    #[test]
    fn a_token_on_the_second_line_of_a_folded_block_is_found_on_that_line() {
        let text = "v: >-\n  .fields.a\n  | gsub(\" \"; \"\")\nw: 1\n";
        assert_eq!(find(text, "gsub"), Some((3, 5, "gsub".into())));
    }

    #[test]
    fn literal_blocks_with_an_indentation_indicator_keep_their_columns() {
        let text = "v: |2\n    .a\n   | lenght\n";
        assert_eq!(find(text, "lenght"), Some((3, 6, "lenght".into())));
        let text = "v: |-\n  .a |\n\n  lenght\n";
        assert_eq!(find(text, "lenght"), Some((4, 3, "lenght".into())));
        let text = "v: >\n  .a\n    | lenght # kept: a comment is text in a block\n";
        assert_eq!(find(text, "lenght"), Some((3, 7, "lenght".into())));
    }

    #[test]
    fn multi_line_plain_and_quoted_scalars_are_followed_across_lines() {
        assert_eq!(
            find("v: .a\n  | lenght\n", "lenght"),
            Some((2, 5, "lenght".into()))
        );
        assert_eq!(
            find("v: '.a + ''x''\n  | lenght'\n", "lenght"),
            Some((2, 5, "lenght".into()))
        );
        assert_eq!(
            find("v: \".a + \\\"\\u00e9\\\"\n  | lenght\"\n", "lenght"),
            Some((2, 5, "lenght".into()))
        );
    }

    #[test]
    fn escapes_map_to_the_escape_as_written() {
        assert_eq!(
            find("v: \"a\\u00e9b\"\n", "é"),
            Some((1, 6, "\\u00e9".into()))
        );
        assert_eq!(find("v: 'it''s'\n", "'"), Some((1, 7, "''".into())));
    }

    #[test]
    fn a_value_that_does_not_match_its_text_has_no_inner_positions() {
        let file = SourceFile::new("t.yaml", "v: 0x1F\n");
        let doc = parse(&file).unwrap();
        assert!(span_of(&file, &doc.nodes["/v"], "31", 0..1).is_none());
    }
}
