//! A file's text parsed as Port's integration parses it (`parse_file_content`): JSON; else
//! YAML as PyYAML's `safe_load` reads it; else the text itself.
//!
//! YAML follows PyYAML, not YAML 1.2, because mappings written for Port rely on what it
//! gives: plain `yes`/`off` are booleans, `0755` is octal, `1:20` is base 60, `1e3` is a
//! string; `<<` merges; a local tag (`!Ref`) makes the whole text unparsed, as PyYAML's
//! `ConstructorError` does. A text starting with `---` may hold several documents: the
//! non-null ones give a list (one gives itself); any other text must be one document. A
//! document that is null, or no document, gives the text. Non-string keys become their JSON
//! text (`1`, `true`), as Port's JSON conversion writes them. Timestamps stay as written.
//!
//! Parsing is bounded: nesting deeper than [`MAX_DEPTH`] and aliases that would copy more
//! than [`MAX_ALIAS_NODES`] nodes or [`MAX_ALIAS_BYTES`] bytes give the text unparsed.

use std::collections::HashMap;
use std::sync::LazyLock;

use fancy_regex::Regex;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

/// The deepest nesting parsed (a real file is a few levels deep).
pub(crate) const MAX_DEPTH: usize = 128;
/// The most nodes aliases may add to one file.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;
/// The most scalar bytes aliases may add to one file.
pub(crate) const MAX_ALIAS_BYTES: usize = 16 << 20;

/// The parsed content of a file's text (Port's `content.parsed`).
pub(crate) fn parse(text: &str) -> Value {
    if text.is_empty() {
        return Value::String(String::new());
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return value;
    }
    yaml(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

fn yaml(text: &str) -> Option<Value> {
    let docs = documents(text)?;
    if text.starts_with("---") {
        let mut docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
        return match docs.len() {
            0 => None,
            1 => docs.pop(),
            _ => Some(Value::Array(docs)),
        };
    }
    // `safe_load`: one document at most.
    if docs.len() > 1 {
        return None;
    }
    docs.into_iter().next().filter(|d| !d.is_null())
}

/// Every document of the stream, or `None` when PyYAML would raise.
fn documents(text: &str) -> Option<Vec<Value>> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, _) = event.ok()?;
        builder.event(event)?;
    }
    Some(builder.docs)
}

/// What a built node cost, for the alias budget.
#[derive(Clone, Copy, Default)]
struct Cost {
    nodes: usize,
    bytes: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

enum Frame {
    Seq {
        anchor: usize,
        items: Vec<Value>,
        cost: Cost,
    },
    Map {
        anchor: usize,
        /// Entries in order; `None` keys are merges (`<<`).
        entries: Vec<(Option<String>, Value)>,
        key: Option<Option<String>>,
        cost: Cost,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, Cost)>,
    docs: Vec<Value>,
    aliased: Cost,
}

impl Builder {
    /// Takes one event; `None` when the text is not what PyYAML's safe loader accepts.
    fn event(&mut self, event: Event<'_>) -> Option<()> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.expects_key() {
                    let key = key_of(&text, style, tag.as_deref())?;
                    return self.set_key(key);
                }
                let value = scalar(&text, style, tag.as_deref())?;
                let cost = Cost {
                    nodes: 1,
                    bytes: text.len(),
                };
                self.finish(value, cost, anchor)
            }
            Event::Alias(id) => {
                let (value, cost) = self.anchors.get(&id)?.clone();
                self.aliased.add(cost);
                if self.aliased.nodes > MAX_ALIAS_NODES || self.aliased.bytes > MAX_ALIAS_BYTES {
                    return None;
                }
                if self.expects_key() {
                    return self.set_key(Some(key_text(&value)?));
                }
                self.finish(value, cost, 0)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(tag.as_deref(), &["seq"])?;
                self.stack.push(Frame::Seq {
                    anchor,
                    items: Vec::new(),
                    cost: Cost::default(),
                });
                Some(())
            }
            Event::MappingStart(anchor, tag) => {
                self.open(tag.as_deref(), &["map", "omap", "set"])?;
                self.stack.push(Frame::Map {
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    cost: Cost::default(),
                });
                Some(())
            }
            Event::SequenceEnd => match self.stack.pop()? {
                Frame::Seq {
                    anchor,
                    items,
                    mut cost,
                } => {
                    cost.nodes += 1;
                    self.finish(Value::Array(items), cost, anchor)
                }
                Frame::Map { .. } => None,
            },
            Event::MappingEnd => match self.stack.pop()? {
                Frame::Map {
                    anchor,
                    entries,
                    mut cost,
                    ..
                } => {
                    cost.nodes += 1;
                    self.finish(Value::Object(merged(entries)?), cost, anchor)
                }
                Frame::Seq { .. } => None,
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => Some(()),
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn set_key(&mut self, key: Option<String>) -> Option<()> {
        match self.stack.last_mut() {
            Some(Frame::Map { key: slot, .. }) => {
                *slot = Some(key);
                Some(())
            }
            _ => None,
        }
    }

    /// A collection starts: it may not be a key (PyYAML: unhashable), nor nest too deep,
    /// nor carry a tag other than the core ones of its kind.
    fn open(&self, tag: Option<&Tag>, core: &[&str]) -> Option<()> {
        if self.expects_key() || self.stack.len() >= MAX_DEPTH {
            return None;
        }
        match tag {
            None => Some(()),
            Some(t) if t.is_yaml_core_schema() && core.contains(&t.suffix.as_str()) => Some(()),
            Some(t) if non_specific(t) => Some(()),
            Some(_) => None,
        }
    }

    /// A node is complete: remember its anchor and hand it to its parent (or the stream).
    fn finish(&mut self, value: Value, cost: Cost, anchor: usize) -> Option<()> {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), cost));
        }
        match self.stack.last_mut() {
            None => self.docs.push(value),
            Some(Frame::Seq {
                items, cost: total, ..
            }) => {
                total.add(cost);
                items.push(value);
            }
            Some(Frame::Map {
                entries,
                key,
                cost: total,
                ..
            }) => {
                let key = key.take()?;
                total.add(cost);
                total.nodes += 1;
                entries.push((key, value));
            }
        }
        Some(())
    }
}

/// A mapping's entries with `<<` merges applied as PyYAML's `flatten_mapping` does: merged
/// entries first (a list of mappings in reverse order), then the mapping's own; a later
/// entry overrides an earlier one and keeps its place.
fn merged(entries: Vec<(Option<String>, Value)>) -> Option<Map<String, Value>> {
    let mut merge: Vec<(String, Value)> = Vec::new();
    let mut own: Vec<(String, Value)> = Vec::new();
    for (key, value) in entries {
        match (key, value) {
            (Some(key), value) => own.push((key, value)),
            (None, Value::Object(map)) => merge.extend(map),
            (None, Value::Array(maps)) => {
                let mut parts = Vec::with_capacity(maps.len());
                for map in maps {
                    match map {
                        Value::Object(map) => parts.push(map),
                        _ => return None,
                    }
                }
                for map in parts.into_iter().rev() {
                    merge.extend(map);
                }
            }
            (None, _) => return None,
        }
    }
    let mut out = Map::new();
    for (key, value) in merge.into_iter().chain(own) {
        out.insert(key, value);
    }
    Some(out)
}

/// A mapping key: its text (`None` for the merge key `<<`).
fn key_of(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Option<Option<String>> {
    if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
        return Some(None);
    }
    key_text(&scalar(text, style, tag)?).map(Some)
}

/// The JSON text of a scalar key; `None` for a collection (unhashable in PyYAML).
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
        other => Some(other.to_string()),
    }
}

/// A scalar's value: quoted and block scalars are strings; plain ones resolve as in PyYAML.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Option<Value> {
    let Some(tag) = tag.filter(|t| !non_specific(t)) else {
        return Some(if style == ScalarStyle::Plain {
            plain(text)
        } else {
            Value::String(text.to_owned())
        });
    };
    if !tag.is_yaml_core_schema() {
        // PyYAML's safe loader knows no local tag (`!Ref`): ConstructorError.
        return None;
    }
    match tag.suffix.as_str() {
        "str" | "binary" | "timestamp" => Some(Value::String(text.to_owned())),
        "null" => null(text).then_some(Value::Null),
        "bool" => boolean(text).map(Value::Bool),
        "int" => int(text),
        "float" => float(text).or_else(|| int(text)),
        _ => None,
    }
}

/// The non-specific tag `!`: PyYAML resolves the node as if it had none.
fn non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!" || tag.handle == "!" && tag.suffix.is_empty()
}

/// PyYAML's implicit resolution of a plain scalar.
fn plain(text: &str) -> Value {
    if null(text) {
        return Value::Null;
    }
    if let Some(b) = boolean(text) {
        return Value::Bool(b);
    }
    int(text)
        .or_else(|| float(text))
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

fn null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// PyYAML's implicit int resolver (YAML 1.1: binary, octal, hex, base 60, `_`s).
static INT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
    .ok()
});

/// PyYAML's implicit float resolver: a dot is required (`1e3` is a string), an exponent
/// needs its sign.
static FLOAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
    .ok()
});

fn resolves(re: &LazyLock<Option<Regex>>, text: &str) -> bool {
    re.as_ref()
        .is_some_and(|re| re.is_match(text).unwrap_or(false))
}

/// An int as PyYAML constructs it (`construct_yaml_int`).
fn int(text: &str) -> Option<Value> {
    if !resolves(&INT, text) {
        return None;
    }
    let (negative, body) = sign(text);
    let body = body.replace('_', "");
    let magnitude: i128 = if body == "0" {
        0
    } else if let Some(bin) = body.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()?
    } else if let Some(hex) = body.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if body.starts_with('0') {
        i128::from_str_radix(&body, 8).ok()?
    } else if body.contains(':') {
        body.split(':').try_fold(0i128, |acc, part| {
            acc.checked_mul(60)?.checked_add(part.parse::<i128>().ok()?)
        })?
    } else {
        body.parse::<i128>().ok()?
    };
    let n = if negative { -magnitude } else { magnitude };
    Some(
        i64::try_from(n)
            .map(Value::from)
            .or_else(|_| u64::try_from(n).map(Value::from))
            .unwrap_or_else(|_| Value::from(n as f64)),
    )
}

/// A float as PyYAML constructs it (`construct_yaml_float`). JSON has no infinity: jq
/// prints it as the largest double, as here; NaN is null.
fn float(text: &str) -> Option<Value> {
    if !resolves(&FLOAT, text) {
        return None;
    }
    let (negative, body) = sign(text);
    let body = body.replace('_', "").to_ascii_lowercase();
    let magnitude = match body.as_str() {
        ".inf" => f64::INFINITY,
        ".nan" => return Some(Value::Null),
        _ if body.contains(':') => body.split(':').try_fold(0f64, |acc, part| {
            Some(acc * 60.0 + part.parse::<f64>().ok()?)
        })?,
        _ => body.parse::<f64>().ok()?,
    };
    let value = if negative { -magnitude } else { magnitude };
    Number::from_f64(value.clamp(f64::MIN, f64::MAX)).map(Value::Number)
}

/// The sign of a number, and the rest.
fn sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(yaml_value: &str) -> Value {
        parse(&format!("k: {yaml_value}\nother: 1\n"))["k"].clone()
    }

    #[test]
    fn plain_scalars_resolve_as_pyyaml_reads_them() {
        // Expected values from PyYAML 6.0.3's `safe_load`.
        let cases = [
            ("yes", json!(true)),
            ("No", json!(false)),
            ("on", json!(true)),
            ("OFF", json!(false)),
            ("y", json!("y")),
            ("0755", json!(493)),
            ("0o17", json!("0o17")),
            ("0x1F", json!(31)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("1:20", json!(80)),
            ("1:20.5", json!(80.5)),
            ("1e3", json!("1e3")),
            ("1.0e+3", json!(1000.0)),
            ("1.5", json!(1.5)),
            (".5", json!(0.5)),
            ("+12", json!(12)),
            ("012_3", json!(83)),
            ("08", json!("08")),
            ("1.", json!(1.0)),
            ("1_0.5", json!(10.5)),
            ("-0", json!(0)),
            ("2024-01-02", json!("2024-01-02")),
            ("~", json!(null)),
            ("tRue", json!("tRue")),
            ("'yes'", json!("yes")),
            ("!!str 12", json!("12")),
            ("!!int '7'", json!(7)),
            ("! 12", json!(12)),
            ("-.inf", json!(f64::MIN)),
            ("-.5", json!("-.5")),
            ("._5", json!("._5")),
            ("1.e+3", json!(1000.0)),
            (".5e+3", json!(500.0)),
            ("-.nan", json!("-.nan")),
            ("1__0", json!(10)),
            ("0x_1", json!(1)),
            ("1:2:3", json!(3723)),
            ("1:60", json!("1:60")),
            ("0:1", json!("0:1")),
            ("+1:20", json!(80)),
            ("1:20.", json!(80.0)),
            ("1_2:3", json!(723)),
        ];
        for (written, expected) in cases {
            assert_eq!(field(written), expected, "{written}");
        }
    }

    #[test]
    fn json_comes_first_then_yaml_then_the_text() {
        assert_eq!(parse(r#"{"a": [1, 2]}"#), json!({"a": [1, 2]}));
        assert_eq!(parse("a:\n  - b\n"), json!({"a": ["b"]}));
        assert_eq!(parse("a: b: c"), json!("a: b: c"), "not YAML");
        assert_eq!(parse("# only a comment\n"), json!("# only a comment\n"));
        assert_eq!(parse("plain words"), json!("plain words"));
        assert_eq!(parse(""), json!(""));
        assert_eq!(parse("a: !Ref x\n"), json!("a: !Ref x\n"), "a local tag");
        assert_eq!(
            parse("[a, {b: c}]: d\n"),
            json!("[a, {b: c}]: d\n"),
            "a collection key"
        );
    }

    #[test]
    fn several_documents_are_a_list_only_after_a_leading_marker() {
        assert_eq!(parse("---\na: 1\n---\nb: 2\n"), json!([{"a": 1}, {"b": 2}]));
        assert_eq!(
            parse("---\na: 1\n---\n"),
            json!({"a": 1}),
            "null documents drop"
        );
        assert_eq!(parse("a: 1\n---\nb: 2\n"), json!("a: 1\n---\nb: 2\n"));
    }

    #[test]
    fn merge_keys_and_odd_keys_follow_pyyaml() {
        let text = "a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  q: 3\n  r: 4\nc:\n  <<: [{m: 1, n: 1}, {m: 2, o: 2}]\n";
        assert_eq!(
            parse(text),
            json!({"a": {"p": 1, "q": 2}, "b": {"p": 1, "q": 3, "r": 4}, "c": {"m": 1, "o": 2, "n": 1}})
        );
        let keys: Vec<String> = parse("c: {m: 1, n: 1, o: 2}\n")["c"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["m", "n", "o"]);
        assert_eq!(
            parse("1: a\n~: c\n1.5: d\n"),
            json!({"1": "a", "null": "c", "1.5": "d"})
        );
    }

    #[test]
    fn alias_bombs_and_runaway_nesting_stay_text() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, prev) in ('b'..='j').zip('a'..='i') {
            bomb.push_str(&format!("{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert_eq!(parse(&bomb), Value::String(bomb.clone()));
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep).is_string());
        assert!(parse(&"[".repeat(1 << 20)).is_string());
        assert!(parse(&"- ".repeat(1 << 16)).is_string());
    }
}
