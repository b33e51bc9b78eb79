//! Lint findings as data: what is wrong, where, how bad, and how to fix it, plus the order
//! they are shown in (file, line, column, then rule).

use std::sync::Arc;

use serde::Serialize;

use super::source::Span;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not fail `lint` unless `--deny-warnings`.
    Warning,
    /// The config cannot be used as written.
    Error,
}

/// A lint rule's descriptor: its code, default severity and what it is about.
#[derive(Debug)]
pub struct Rule {
    /// Stable code shown in output and used in JSON, e.g. `unknown-key`.
    pub code: &'static str,
    /// The severity its findings get.
    pub severity: Severity,
    /// What it checks and why it matters (shown by `adoport lint --explain CODE`).
    pub docs: &'static str,
}

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The rule's code.
    pub code: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The file, as shown to the user.
    pub file: Arc<str>,
    /// Where in the file; `None` when the problem is the file as a whole.
    pub span: Option<Span>,
    /// What is wrong: a lowercase phrase.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// A second place in the same file that explains the first (where a duplicated key
    /// first appears), shown under it.
    pub context: Option<Context>,
}

/// A related place shown beside a finding's own, with a short label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Where, in the finding's file.
    pub span: Span,
    /// What that place is: a lowercase phrase such as `first used here`.
    pub label: String,
}

impl Diagnostic {
    /// A finding of `rule` at `span` in `file`.
    pub fn new(
        rule: &Rule,
        file: &Arc<str>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code: rule.code,
            severity: rule.severity,
            file: file.clone(),
            span,
            message: message.into(),
            help: None,
            context: None,
        }
    }

    /// Adds a related place in the same file.
    pub fn with_context(mut self, span: Span, label: impl Into<String>) -> Self {
        self.context = Some(Context {
            span,
            label: label.into(),
        });
        self
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Puts findings in the order a reader walks a config: by file, line, column, then rule
/// code (a finding about a whole file comes first in it). The sort is stable, so findings
/// at one place keep the order they were found in.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let at = |d: &Diagnostic| d.span.map_or((0, 0), |s| (s.line, s.column));
        (&*a.file, at(a), a.code).cmp(&(&*b.file, at(b), b.code))
    });
}

/// The stable JSON shape of a diagnostic (`adoport lint --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// The file, as shown to the user.
    pub file: &'a str,
    /// 1-based line, or null for the whole file.
    pub line: Option<usize>,
    /// 1-based column, or null for the whole file.
    pub column: Option<usize>,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The rule's code.
    pub code: &'a str,
    /// What is wrong.
    pub message: &'a str,
    /// How to fix it, or null.
    pub hint: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonDiagnostic<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        JsonDiagnostic {
            file: &d.file,
            line: d.span.map(|s| s.line),
            column: d.span.map(|s| s.column),
            severity: d.severity,
            code: d.code,
            message: &d.message,
            hint: d.help.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rules;

    fn at(file: &str, line: usize, column: usize, rule: &Rule) -> Diagnostic {
        let span = (line > 0).then_some(Span {
            start: 0,
            end: 0,
            line,
            column,
        });
        Diagnostic::new(rule, &file.into(), span, "m")
    }

    #[test]
    fn findings_sort_by_file_line_column_then_rule() {
        let mut ds = vec![
            at("b.yaml", 1, 1, &rules::unknown_key::RULE),
            at("a.yaml", 9, 2, &rules::schema::RULE),
            at("a.yaml", 9, 2, &rules::jq_syntax::RULE),
            at("a.yaml", 3, 7, &rules::schema::RULE),
            at("a.yaml", 0, 0, &rules::empty_file::RULE),
        ];
        sort(&mut ds);
        let order: Vec<_> = ds
            .iter()
            .map(|d| (&*d.file, d.span.map(|s| s.line), d.code))
            .collect();
        assert_eq!(
            order,
            [
                ("a.yaml", None, "empty-file"),
                ("a.yaml", Some(3), "schema"),
                ("a.yaml", Some(9), "jq-syntax"),
                ("a.yaml", Some(9), "schema"),
                ("b.yaml", Some(1), "unknown-key"),
            ]
        );
    }
}
