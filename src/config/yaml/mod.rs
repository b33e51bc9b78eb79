//! YAML text → JSON value, remembering where every node came from.
//!
//! Parsing uses `saphyr`'s event parser (YAML 1.2 core schema). `events` turns its events
//! into a `serde_json::Value` and records, for every node, the span of its value and of its
//! key (and how a scalar was written), indexed by JSON pointer, so schema errors (which
//! speak in JSON pointers) and jq errors can point at a line and column; `inside` maps a
//! position within a scalar's value back to the exact place in the source, through quotes,
//! escapes and folded or literal blocks. Building the value ourselves is what lets aliases be
//! counted before they are copied (a few kilobytes of aliases can otherwise expand to
//! gigabytes) and a duplicate key be named with both of its places. Plain scalars whose
//! meaning differs under YAML 1.1, which Port's integration (PyYAML) uses, are recorded for
//! the `yaml11-scalar` rule. `nesting` refuses runaway nesting before the parser sees it.

mod events;
pub mod inside;
mod nesting;

use std::collections::HashMap;

use saphyr_parser::{Parser, ScanError};
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::rules;
use super::source::{SourceFile, Span};

/// Documents nested deeper than this are refused: no real mapping comes close, and the
/// limit keeps every recursive walk (ours and the schema validator's) far from the stack's end.
pub const MAX_DEPTH: usize = 64;

/// The most text (keys and scalars, in bytes) that aliases may add to one document by
/// repeating their anchors: 16 MiB, as much as the largest file read. A real mapping
/// repeats a few snippets; an alias bomb needs far more, and is refused at the alias that
/// crosses the limit before anything is copied.
pub const MAX_ALIAS_BYTES: usize = 16 << 20;

/// The most nodes (values, keys included) that aliases may add to one document: as many as
/// `saphyr` allows by default, with the same reasoning as [`MAX_ALIAS_BYTES`].
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A parsed YAML document with the position of each node.
#[derive(Debug)]
pub struct YamlDoc {
    /// The document as JSON.
    pub value: Value,
    /// Positions by JSON pointer (`""` is the root).
    pub nodes: HashMap<String, NodeSpans>,
    /// Plain scalars that YAML 1.1 reads differently: (pointer, text, what PyYAML reads).
    pub yaml11: Vec<(String, String, &'static str)>,
}

/// Where a node's value and (for a mapping entry) its key are.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpans {
    /// The key's span, for mapping entries.
    pub key: Option<Span>,
    /// The value's span. For a block scalar (`|`, `>`) it starts at its first line of text.
    pub value: Span,
    /// How the value is written, for a scalar; `None` for a list, a mapping or an alias.
    pub style: Option<Style>,
}

/// How a scalar is written, which decides how its text maps to its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unquoted, possibly over several lines.
    Plain,
    /// In `'…'`.
    SingleQuoted,
    /// In `"…"`, with escapes.
    DoubleQuoted,
    /// A `|` block.
    Literal,
    /// A `>` block.
    Folded,
}

impl YamlDoc {
    /// The best span to report a problem at `pointer`: the nearest existing node.
    pub fn span_at(&self, pointer: &str) -> Option<Span> {
        self.node_at(pointer).map(|n| n.value)
    }

    /// The node at `pointer`, or its nearest existing ancestor (inside an alias, the alias).
    pub fn node_at(&self, pointer: &str) -> Option<&NodeSpans> {
        let mut p = pointer;
        loop {
            if let Some(n) = self.nodes.get(p) {
                return Some(n);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// The span of the key of the entry at `pointer`, else its value's.
    pub fn key_span_at(&self, pointer: &str) -> Option<Span> {
        match self.nodes.get(pointer) {
            Some(n) => n.key.or(Some(n.value)),
            None => self.span_at(pointer),
        }
    }
}

/// Parses one file. All problems found come back as diagnostics.
pub fn parse(file: &SourceFile) -> Result<YamlDoc, Vec<Diagnostic>> {
    if let Some(d) = nesting::too_deep_flow(file).or_else(|| nesting::too_deep_block(file)) {
        return Err(vec![d]);
    }
    let mut builder = events::Builder::new(file);
    let mut parser = Parser::new_from_str(&file.text);
    while !builder.stopped() {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => builder.event(event, span),
            Some(Err(e)) => {
                builder.errors.push(scan_error(file, &e));
                break;
            }
        }
    }
    builder.finish()
}

/// A parser error as a diagnostic at the place the parser stopped.
fn scan_error(file: &SourceFile, e: &ScanError) -> Diagnostic {
    let m = e.marker();
    let span = file.span((m.line(), m.col()), (m.line(), m.col() + 1));
    if let Some(tab) = tab_after(file, span.start) {
        return Diagnostic::new(
            &rules::yaml_syntax::RULE,
            &file.name,
            Some(tab),
            "a tab is used for indentation",
        )
        .with_help("YAML does not allow tabs for indentation; use spaces");
    }
    Diagnostic::new(
        &rules::yaml_syntax::RULE,
        &file.name,
        Some(span),
        format!("invalid YAML: {}", e.info()),
    )
    .with_help("fix the YAML at this place: the rest of the file is checked once it parses")
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The first indentation tab at or after `from` on that line or the next two, if any:
/// the parser reports tab errors at the scalar before the tab, not at the tab itself.
fn tab_after(file: &SourceFile, from: usize) -> Option<Span> {
    let from = from.min(file.text.len());
    let line_start = file.text.get(..from)?.rfind('\n').map_or(0, |i| i + 1);
    let mut offset = line_start;
    for line in file.text[line_start..].split_inclusive('\n').take(3) {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(i) = line[..indent].find('\t') {
            return Some(file.span_of_bytes(offset + i, offset + i + 1));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> YamlDoc {
        parse(&SourceFile::new("t.yaml", text)).unwrap()
    }

    fn errors(text: &str) -> Vec<Diagnostic> {
        parse(&SourceFile::new("t.yaml", text)).unwrap_err()
    }

    #[test]
    fn every_node_has_a_position_by_json_pointer() {
        let d = doc("resources:\n  - kind: project\n    selector:\n      query: 'true'\n");
        let q = d.nodes["/resources/0/selector/query"];
        assert_eq!((q.value.line, q.value.column), (4, 14));
        assert_eq!(q.key.map(|k| (k.line, k.column)), Some((4, 7)));
        assert_eq!(q.style, Some(Style::SingleQuoted));
        assert_eq!(d.value["resources"][0]["selector"]["query"], "true");
    }

    #[test]
    fn plain_yes_is_flagged_but_quoted_or_block_yes_is_not() {
        let d = doc("a: yes\nb: 'yes'\nc: 0755\nd: \"0755\"\ne: |\n  yes\nf: !!str no\n");
        let texts: Vec<_> = d
            .yaml11
            .iter()
            .map(|(p, t, _)| (p.as_str(), t.as_str()))
            .collect();
        assert_eq!(texts, vec![("/a", "yes"), ("/c", "0755")]);
    }

    #[test]
    fn a_duplicate_key_is_named_at_its_second_place_with_the_first_as_context() {
        let e = errors("a: 1\nb:\n  x: 1\n  x: 2\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, "duplicate-key");
        assert_eq!(e[0].message, "duplicate key `x`");
        let at = e[0].span.map(|s| (s.line, s.column));
        assert_eq!(at, Some((4, 3)));
        let first = e[0].context.as_ref().map(|c| (c.span.line, c.span.column));
        assert_eq!(first, Some((3, 3)));
    }

    #[test]
    fn every_duplicate_key_of_a_file_is_reported() {
        let e = errors("a: 1\na: 2\nb: 1\nb: 2\n");
        let lines: Vec<_> = e.iter().filter_map(|d| d.span.map(|s| s.line)).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn runaway_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = errors(&text);
        assert!(e[0].message.contains("nested more than"));
    }

    #[test]
    fn aliases_are_expanded_with_their_anchors_value() {
        let d = doc("base: &b {x: 1}\ncopy: *b\nlist: [&s hi, *s]\n");
        assert_eq!(d.value["copy"]["x"], 1);
        assert_eq!(d.value["list"][1], "hi");
        let alias = d.nodes["/copy"].value;
        assert_eq!((alias.line, alias.column), (2, 7));
        // Inside an alias, problems point at the alias.
        assert_eq!(d.span_at("/copy/x").map(|s| s.line), Some(2));
    }

    #[test]
    fn an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() {
        let big = "x".repeat(1 << 20);
        let mut text = format!("a: &big {big}\nb:\n");
        for _ in 0..20_000 {
            text.push_str("  - *big\n");
        }
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].code, "yaml-syntax");
        assert!(e[0].message.contains("aliases"), "{}", e[0].message);
        // 16 copies of 1 MiB fit in 16 MiB; the 17th alias (line 19) crosses it.
        let at = e[0].span.map(|s| (s.line, s.column));
        assert_eq!(at, Some((19, 5)));
    }

    #[test]
    fn nested_aliases_that_multiply_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = errors(&text);
        assert!(e[0].message.contains("aliases"), "{}", e[0].message);
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_an_error_not_a_loop() {
        let e = errors("a: &x [1, *x]\n");
        assert_eq!(e[0].code, "yaml-syntax");
        assert_eq!(e[0].span.map(|s| s.column), Some(11));
    }

    #[test]
    fn a_second_document_an_empty_one_and_a_bad_tag_are_reported() {
        let e = errors("a: 1\n---\nb: 2\n");
        assert!(e[0].message.contains("more than one YAML document"));
        assert_eq!(e[0].span.map(|s| s.line), Some(3));
        assert_eq!(errors("")[0].code, "empty-file");
        assert_eq!(errors("# nothing\n")[0].code, "empty-file");
        assert_eq!(doc("---\n").value, Value::Null);
        let e = errors("a: !!int abc\n");
        assert!(e[0].message.contains("tag"), "{}", e[0].message);
    }

    #[test]
    fn keys_that_are_lists_are_refused_and_their_values_skipped() {
        let e = errors("? [a]\n: 1\nb: 2\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("plain value"));
    }

    #[test]
    fn scalars_resolve_as_yaml_1_2_core_schema() {
        let d = doc("a: 1\nb: 1.5\nc: true\nd: ~\ne: .inf\nf: '1'\n0x10: x\n~: y\n");
        assert_eq!(d.value["a"], 1);
        assert_eq!(d.value["b"], 1.5);
        assert_eq!(d.value["c"], true);
        assert_eq!(d.value["d"], Value::Null);
        assert_eq!(d.value["e"], ".inf");
        assert_eq!(d.value["f"], "1");
        assert_eq!(d.value["0x10"], "x");
        assert_eq!(d.value["null"], "y");
    }
}
