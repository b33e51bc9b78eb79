//! Findings → text like rustc's (annotate-snippets) or the stable JSON array.

use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::diagnostic::{Diagnostic, JsonDiagnostic, Severity};
use super::source::SourceFile;

/// Renders findings like rustc: severity, code, message, `--> file:line:col`, the source
/// line with a caret, and a `help:` line. Ends with a one-line summary.
pub fn text(diagnostics: &[Diagnostic], sources: &[Arc<SourceFile>], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&renderer.render(&report(d, sources)));
        out.push_str("\n\n");
    }
    out.push_str(&summary(diagnostics));
    out.push('\n');
    out
}

fn report<'a>(d: &'a Diagnostic, sources: &'a [Arc<SourceFile>]) -> Vec<Group<'a>> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let source = sources.iter().find(|s| s.name == d.file);
    let title = level.primary_title(d.message.as_str()).id(d.code);
    let mut group = match (d.span, source) {
        (Some(span), Some(src)) => {
            // Quote only the line holding the span: a 10 MB file must not be re-scanned per finding.
            let text: &str = &src.text;
            let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[span.start..]
                .find('\n')
                .map_or(text.len(), |i| span.start + i);
            let start = span.start - line_start;
            let end = (span.end.min(line_end) - line_start).max(start + 1);
            let line = &text[line_start..line_end];
            let end = end.min(line.len()).max(start.min(line.len()));
            Group::with_title(title).element(
                Snippet::source(line)
                    .line_start(span.line)
                    .path(&*d.file)
                    .annotation(AnnotationKind::Primary.span(start..end)),
            )
        }
        // No position: name the file in the title's place of a snippet.
        _ => Group::with_title(title).element(Level::NOTE.message(format!("in {}", d.file))),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    vec![group]
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
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
