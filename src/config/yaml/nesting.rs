//! Runaway nesting, refused before the parser sees it: a 10 MB file of `[` or of ever-deeper
//! indents must produce a diagnostic, not a stack overflow while dropping the tree.

use super::MAX_DEPTH;
use crate::config::diagnostic::Diagnostic;
use crate::config::rules;
use crate::config::source::SourceFile;

/// Refuses runaway flow nesting (`[[[[…`) before the parser sees it: a 10 MB file of
/// brackets must produce a diagnostic, not a stack overflow while dropping the tree.
pub(super) fn too_deep_flow(file: &SourceFile) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let (mut single, mut double, mut comment) = (false, false, false);
    let mut prev = '\n';
    for (i, c) in file.text.char_indices() {
        match c {
            '\n' => comment = false,
            _ if comment => {}
            '#' if !single && !double && (prev == ' ' || prev == '\n' || prev == '\t') => {
                comment = true
            }
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '[' | '{' if !single && !double => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(
                        Diagnostic::new(
                            &rules::yaml_syntax::RULE,
                            &file.name,
                            Some(file.span_of_bytes(i, i + 1)),
                            format!("the document is nested more than {MAX_DEPTH} levels deep"),
                        )
                        .with_help(
                            "a mapping file is a few levels deep; check for a runaway structure",
                        ),
                    );
                }
            }
            ']' | '}' if !single && !double => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

/// Refuses runaway block nesting (thousands of ever-deeper indents, or `- - - - …`) before
/// the parser sees it, for the same reason as `too_deep_flow`.
pub(super) fn too_deep_block(file: &SourceFile) -> Option<Diagnostic> {
    let mut indents: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_start_matches(' ');
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        while indents.last().is_some_and(|&top| top > indent) {
            indents.pop();
        }
        if indents.last() != Some(&indent) {
            indents.push(indent);
        }
        let mut dashes = 0;
        let mut rest = body;
        while let Some(r) = rest.strip_prefix("- ") {
            dashes += 1;
            rest = r.trim_start_matches(' ');
        }
        if indents.len() + dashes > MAX_DEPTH {
            return Some(
                Diagnostic::new(
                    &rules::yaml_syntax::RULE,
                    &file.name,
                    Some(file.span_of_bytes(start + indent, start + indent + 1)),
                    format!("the document is nested more than {MAX_DEPTH} levels deep"),
                )
                .with_help("a mapping file is a few levels deep; check for a runaway structure"),
            );
        }
    }
    None
}
