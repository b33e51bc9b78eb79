//! YAML text → JSON value, remembering where every node came from.
//!
//! Parsing uses `saphyr` (YAML 1.2 core schema, duplicate keys rejected). While converting to
//! `serde_json::Value` it records, for every node, the span of its value and of its key,
//! indexed by JSON pointer, so schema errors (which speak in JSON pointers) and jq errors can
//! point at a line and column. It also records plain scalars whose meaning differs under
//! YAML 1.1, which Port's integration (PyYAML) uses.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

use super::diagnostic::Diagnostic;
use super::rules;
use super::source::{SourceFile, Span};

/// Documents nested deeper than this are refused: no real mapping comes close, and the
/// limit keeps every recursive walk (ours and the schema validator's) far from the stack's end.
pub const MAX_DEPTH: usize = 64;

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
    /// The value's span.
    pub value: Span,
}

impl YamlDoc {
    /// The best span to report a problem at `pointer`: the nearest existing node.
    pub fn span_at(&self, pointer: &str) -> Option<Span> {
        let mut p = pointer;
        loop {
            if let Some(n) = self.nodes.get(p) {
                return Some(n.value);
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
    let name = &file.name;
    if let Some(d) = too_deep_flow(file).or_else(|| too_deep_block(file)) {
        return Err(vec![d]);
    }
    let docs = match MarkedYaml::load_from_str(&file.text) {
        Ok(docs) => docs,
        Err(e) => {
            let m = e.marker();
            let span = file.span((m.line(), m.col()), (m.line(), m.col() + 1));
            let info = e.info();
            let d = if info.contains("duplicated key") {
                Diagnostic::new(
                    &rules::duplicate_key::RULE,
                    name,
                    Some(span),
                    "duplicate key in mapping",
                )
                .with_help("each key may appear once per mapping; remove or rename one of them")
            } else if let Some(tab) = tab_after(file, span.start) {
                Diagnostic::new(
                    &rules::yaml_syntax::RULE,
                    name,
                    Some(tab),
                    "a tab is used for indentation",
                )
                .with_help("YAML does not allow tabs for indentation; use spaces")
            } else {
                Diagnostic::new(
                    &rules::yaml_syntax::RULE,
                    name,
                    Some(span),
                    format!("invalid YAML: {info}"),
                )
            };
            return Err(vec![d]);
        }
    };
    let mut docs = docs.into_iter();
    let Some(root) = docs.next() else {
        return Err(vec![
            Diagnostic::new(&rules::empty_file::RULE, name, None, "the file is empty").with_help(
                "a mapping file needs at least `resources:`; delete the file if it is unused",
            ),
        ]);
    };
    if let Some(extra) = docs.next() {
        let span = marked_span(file, &extra);
        return Err(vec![
            Diagnostic::new(
                &rules::yaml_syntax::RULE,
                name,
                Some(span),
                "the file holds more than one YAML document",
            )
            .with_help("remove the `---` separator: one file holds one mapping"),
        ]);
    }
    let mut cx = Converter {
        file,
        nodes: HashMap::new(),
        yaml11: Vec::new(),
        errors: Vec::new(),
    };
    let value = cx.convert(&root, String::new(), None, 0);
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    Ok(YamlDoc {
        value,
        nodes: cx.nodes,
        yaml11: cx.yaml11,
    })
}

struct Converter<'f> {
    file: &'f SourceFile,
    nodes: HashMap<String, NodeSpans>,
    yaml11: Vec<(String, String, &'static str)>,
    errors: Vec<Diagnostic>,
}

impl Converter<'_> {
    fn convert(
        &mut self,
        node: &MarkedYaml<'_>,
        pointer: String,
        key: Option<Span>,
        depth: usize,
    ) -> Value {
        let span = marked_span(self.file, node);
        self.nodes
            .insert(pointer.clone(), NodeSpans { key, value: span });
        if depth > MAX_DEPTH {
            if self.errors.is_empty() {
                self.errors.push(
                    Diagnostic::new(
                        &rules::yaml_syntax::RULE,
                        &self.file.name,
                        Some(span),
                        format!("the document is nested more than {MAX_DEPTH} levels deep"),
                    )
                    .with_help(
                        "a mapping file is a few levels deep; check for a runaway structure",
                    ),
                );
            }
            return Value::Null;
        }
        match &node.data {
            YamlData::Value(scalar) => self.scalar(scalar, span, pointer),
            YamlData::Representation(text, _, _) => Value::String(text.to_string()),
            YamlData::Sequence(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.convert(item, format!("{pointer}/{i}"), None, depth + 1))
                    .collect(),
            ),
            YamlData::Mapping(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let key_span = marked_span(self.file, k);
                    let Some(key) = self.key_text(k, key_span) else {
                        continue;
                    };
                    if key == "<<" && self.plain_at(key_span) {
                        self.yaml11.push((
                            format!("{pointer}/{}", escape(&key)),
                            key.clone(),
                            "a merge key that copies another mapping's entries",
                        ));
                    }
                    let child = format!("{pointer}/{}", escape(&key));
                    let value = self.convert(v, child, Some(key_span), depth + 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            YamlData::Tagged(_, inner) => self.convert(inner, pointer, key, depth),
            YamlData::Alias(_) | YamlData::BadValue => {
                self.errors.push(Diagnostic::new(
                    &rules::yaml_syntax::RULE,
                    &self.file.name,
                    Some(span),
                    "this value cannot be read (an unknown alias or a value that does not match its tag)",
                ));
                Value::Null
            }
        }
    }

    fn scalar(&mut self, scalar: &Scalar<'_>, span: Span, pointer: String) -> Value {
        let text = self.file.text.get(span.start..span.end).unwrap_or("");
        let plain = self.plain_at(span);
        if plain && let Some(reading) = rules::yaml11_scalar::pyyaml_reading(text.trim()) {
            self.yaml11
                .push((pointer, text.trim().to_string(), reading));
        }
        match scalar {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => Value::Bool(*b),
            Scalar::Integer(i) => Value::Number((*i).into()),
            Scalar::FloatingPoint(f) => match Number::from_f64(f.into_inner()) {
                Some(n) => Value::Number(n),
                // `.inf` and `.nan` have no JSON form; keep the text so a schema check names it.
                None => Value::String(text.to_string()),
            },
            Scalar::String(s) => Value::String(s.to_string()),
        }
    }

    fn key_text(&mut self, key: &MarkedYaml<'_>, span: Span) -> Option<String> {
        match &key.data {
            YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
            YamlData::Value(Scalar::Null) => Some("null".into()),
            YamlData::Value(_) | YamlData::Representation(..) => Some(
                self.file
                    .text
                    .get(span.start..span.end)
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            ),
            YamlData::Tagged(_, inner) => self.key_text(inner, span),
            _ => {
                self.errors.push(
                    Diagnostic::new(
                        &rules::yaml_syntax::RULE,
                        &self.file.name,
                        Some(span),
                        "a mapping key must be a plain value, not a list or a mapping",
                    )
                    .with_help("use a string key"),
                );
                None
            }
        }
    }

    /// Whether the scalar at `span` is written plain (not quoted, not a block scalar).
    fn plain_at(&self, span: Span) -> bool {
        !matches!(
            self.file
                .text
                .get(span.start..)
                .and_then(|s| s.chars().next()),
            Some('"' | '\'' | '|' | '>')
        )
    }
}

/// The span of a node; saphyr reports 1-based lines and 0-based character columns.
fn marked_span(file: &SourceFile, node: &MarkedYaml<'_>) -> Span {
    let (s, e) = (node.span.start, node.span.end);
    let end = if e.index() >= s.index() {
        (e.line(), e.col())
    } else {
        (s.line(), s.col())
    };
    file.span((s.line(), s.col()), end)
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Refuses runaway flow nesting (`[[[[…`) before the parser sees it: a 10 MB file of
/// brackets must produce a diagnostic, not a stack overflow while dropping the tree.
fn too_deep_flow(file: &SourceFile) -> Option<Diagnostic> {
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
fn too_deep_block(file: &SourceFile) -> Option<Diagnostic> {
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

/// The first indentation tab at or after `from` on that line or the next two, if any:
/// the parser reports tab errors at the scalar before the tab, not at the tab itself.
fn tab_after(file: &SourceFile, from: usize) -> Option<Span> {
    let line_start = file.text[..from].rfind('\n').map_or(0, |i| i + 1);
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

    #[test]
    fn every_node_has_a_position_by_json_pointer() {
        let d = doc("resources:\n  - kind: project\n    selector:\n      query: 'true'\n");
        let q = d.nodes["/resources/0/selector/query"];
        assert_eq!((q.value.line, q.value.column), (4, 14));
        assert_eq!(q.key.map(|k| (k.line, k.column)), Some((4, 7)));
        assert_eq!(d.value["resources"][0]["selector"]["query"], "true");
    }

    #[test]
    fn plain_yes_is_flagged_but_quoted_yes_is_not() {
        let d = doc("a: yes\nb: 'yes'\nc: 0755\nd: \"0755\"\n");
        let texts: Vec<_> = d
            .yaml11
            .iter()
            .map(|(p, t, _)| (p.as_str(), t.as_str()))
            .collect();
        assert_eq!(texts, vec![("/a", "yes"), ("/c", "0755")]);
    }

    #[test]
    fn duplicate_keys_are_an_error_at_the_second_key() {
        let e = parse(&SourceFile::new("t.yaml", "a: 1\na: 2\n")).unwrap_err();
        assert_eq!(e[0].code, "duplicate-key");
        assert_eq!(e[0].span.map(|s| s.line), Some(2));
    }

    #[test]
    fn runaway_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse(&SourceFile::new("t.yaml", text)).unwrap_err();
        assert!(e[0].message.contains("nested more than"));
    }
}
