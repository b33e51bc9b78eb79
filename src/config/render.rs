//! Findings → text like rustc's (annotate-snippets) or the stable JSON array.

use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::diagnostic::{Diagnostic, JsonDiagnostic, Severity};
use super::source::{SourceFile, Span};

/// Renders findings like rustc: severity, code, message, `--> file:line:col`, the source
/// line with a caret, and a `help:` line. Ends with a one-line summary.
pub fn text(diagnostics: &[Diagnostic], sources: &[Arc<SourceFile>], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .term_width(MAX_QUOTED_WIDTH);
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&renderer.render(&report(d, sources)));
        out.push_str("\n\n");
    }
    out.push_str(&summary(diagnostics));
    out.push('\n');
    out
}

/// The widest stretch of a source line quoted under a finding, in columns. A longer line is
/// cut around the finding (with `...`), so a file that is one enormous line (a minified blob,
/// a device's output) is never printed whole.
pub const MAX_QUOTED_WIDTH: usize = 140;

fn report<'a>(d: &'a Diagnostic, sources: &'a [Arc<SourceFile>]) -> Vec<Group<'a>> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let source = sources.iter().find(|s| s.name == d.file);
    let title = level.primary_title(d.message.as_str()).id(d.code);
    let mut group = match (d.span, source) {
        (Some(span), Some(src)) => {
            let (line, range) = quote(src, span);
            let mut group = Group::with_title(title).element(
                Snippet::source(line)
                    .line_start(span.line)
                    .path(&*d.file)
                    .annotation(AnnotationKind::Primary.span(range)),
            );
            if let Some(context) = &d.context {
                let (line, range) = quote(src, context.span);
                group = group.element(
                    Snippet::source(line)
                        .line_start(context.span.line)
                        .path(&*d.file)
                        .annotation(
                            AnnotationKind::Context
                                .span(range)
                                .label(context.label.as_str()),
                        ),
                );
            }
            group
        }
        // No position: name the file in the title's place of a snippet.
        _ => Group::with_title(title).element(Level::NOTE.message(format!("in {}", d.file))),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    vec![group]
}

/// The line holding `span`, up to [`MAX_QUOTED_WIDTH`] characters past the span, and the
/// span's byte range within it. Only that line is looked at: a 10 MB file must not be
/// re-scanned per finding. The renderer cuts what is left of the line to its width around
/// the span (keeping the column it reports right); cutting the rest here keeps an enormous
/// line from being handed to it whole.
fn quote(src: &SourceFile, span: Span) -> (&str, Range<usize>) {
    let text: &str = &src.text;
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let s = start - line_start;
    let e = span.end.clamp(start, line_end) - line_start;
    let line = &text[line_start..line_end];
    let cut = line[e..]
        .char_indices()
        .nth(MAX_QUOTED_WIDTH)
        .map_or(line.len(), |(i, _)| e + i);
    let e = e.max(s + 1).min(cut).max(s);
    (&line[..cut], s..e)
}

/// `N errors, M warnings` (or `no problems found`).
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    match (errors, warnings) {
        (0, 0) => "no problems found".to_string(),
        _ => format!(
            "{} and {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

/// `1 error`, `2 errors`, `0 properties`: a count with its noun in the right number.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {}", plural_noun(word))
    }
}

/// The plural of an English noun of the kinds findings count: `property` → `properties`,
/// `match` → `matches`, `key` → `keys`.
pub fn plural_noun(word: &str) -> String {
    let consonant_y = word.strip_suffix('y').filter(|stem| {
        stem.chars()
            .last()
            .is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    });
    if let Some(stem) = consonant_y {
        format!("{stem}ies")
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| word.ends_with(end))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// The stable JSON array: `[{file, line, column, severity, code, message, hint}]`.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics.iter().map(JsonDiagnostic::from).collect();
    // Serialising plain strings and numbers cannot fail.
    let mut s = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rules;

    #[test]
    fn nouns_are_pluralised_in_english() {
        assert_eq!(plural(2, "property"), "2 properties");
        assert_eq!(plural(1, "property"), "1 property");
        assert_eq!(plural(0, "error"), "0 errors");
        assert_eq!(plural_noun("key"), "keys");
        assert_eq!(plural_noun("match"), "matches");
        assert_eq!(plural_noun("relation"), "relations");
    }

    #[test]
    fn a_long_line_is_quoted_only_around_the_finding() {
        let secret = "S3CRET".repeat(1000);
        let text = format!("a: {secret}Q{secret}\n");
        let src = Arc::new(SourceFile::new("t.yaml", text.as_str()));
        let at = text.find('Q').unwrap();
        let d = Diagnostic::new(
            &rules::yaml_syntax::RULE,
            &src.name,
            Some(src.span_of_bytes(at, at + 1)),
            "m",
        );
        let out = self::text(&[d], &[src], false);
        let quoted = out.lines().find(|l| l.contains('Q')).unwrap();
        assert!(quoted.chars().count() <= MAX_QUOTED_WIDTH + 10, "{quoted}");
        assert!(out.len() < 1000, "{out}");
        assert!(out.contains(&format!("t.yaml:1:{}", at + 1)), "{out}");
        let caret = out.lines().find(|l| l.contains('^')).unwrap();
        let column = |l: &str, c: char| l.chars().position(|x| x == c);
        assert_eq!(column(caret, '^'), column(quoted, 'Q'));
    }
}
