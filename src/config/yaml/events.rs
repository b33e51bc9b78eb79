//! Parser events → one JSON value, with the position of every node.
//!
//! Collections are built on a stack of open frames; a finished node goes into its parent
//! and its spans into the index by JSON pointer. Keys must be scalars, and a key seen twice
//! in one mapping is an error naming both places (the later value is kept, as PyYAML does).
//! An alias copies its anchor's finished value, found in the tree being built, only after
//! counting what the copy adds against [`MAX_ALIAS_BYTES`] and [`MAX_ALIAS_NODES`]: the
//! alias that would cross a limit is reported and the document abandoned.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr::Scalar;
use saphyr_parser::{Event, ScalarStyle, Span as EventSpan, Tag};
use serde_json::{Map, Number, Value};

use super::{MAX_ALIAS_BYTES, MAX_ALIAS_NODES, MAX_DEPTH, NodeSpans, Style, YamlDoc, escape};
use crate::config::diagnostic::Diagnostic;
use crate::config::rules;
use crate::config::rules::yaml11_scalar::pyyaml_reading;
use crate::config::source::{SourceFile, Span};

/// What a subtree holds: text bytes (keys and scalars), nodes (keys included), height.
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    bytes: usize,
    nodes: usize,
    height: usize,
}

impl Size {
    fn scalar(bytes: usize) -> Size {
        Size {
            bytes,
            nodes: 1,
            height: 0,
        }
    }

    /// Adds a child (and the bytes of its key, for a mapping entry).
    fn add(&mut self, child: Size, key_bytes: usize) {
        self.bytes = self.bytes.saturating_add(child.bytes + key_bytes);
        self.nodes = self
            .nodes
            .saturating_add(child.nodes + usize::from(key_bytes > 0));
        self.height = self.height.max(child.height + 1);
    }
}

/// A finished anchored node: where it sits in the tree, and what a copy of it costs.
struct Anchored {
    pointer: String,
    size: Size,
}

/// What a node is to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The document itself.
    Root,
    /// An item of a list.
    Item,
    /// A mapping's key.
    Key,
    /// A mapping's value.
    Value,
}

/// Where a node goes: its role, its pointer (`None` inside a refused key, whose contents
/// are dropped) and, for a mapping's value, its key's span.
#[derive(Clone, Debug)]
struct Place {
    role: Role,
    pointer: Option<String>,
    key: Option<Span>,
}

/// A key read, waiting for its value; `key` is `None` when the key was refused, and the
/// value is then dropped.
struct Pending {
    key: Option<String>,
    span: Span,
}

enum Collection {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        /// Each key's first span, to name both places of a duplicate.
        keys: HashMap<String, Span>,
        pending: Option<Pending>,
    },
}

/// A list or mapping being built.
struct Frame {
    collection: Collection,
    place: Place,
    start: (usize, usize),
    anchor: usize,
    size: Size,
}

/// Builds one document from the parser's events.
pub(super) struct Builder<'f> {
    file: &'f SourceFile,
    nodes: HashMap<String, NodeSpans>,
    yaml11: Vec<(String, String, &'static str)>,
    /// Every problem found so far.
    pub(super) errors: Vec<Diagnostic>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Value>,
    documents: usize,
    /// What aliases have added so far.
    expanded: Size,
    stopped: bool,
}

impl<'f> Builder<'f> {
    pub(super) fn new(file: &'f SourceFile) -> Self {
        Builder {
            file,
            nodes: HashMap::new(),
            yaml11: Vec::new(),
            errors: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            documents: 0,
            expanded: Size::default(),
            stopped: false,
        }
    }

    /// Whether the document was abandoned (later events are not needed).
    pub(super) fn stopped(&self) -> bool {
        self.stopped
    }

    /// The document, or every problem found.
    pub(super) fn finish(self) -> Result<YamlDoc, Vec<Diagnostic>> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let Some(value) = self.root else {
            return Err(vec![
                Diagnostic::new(
                    &rules::empty_file::RULE,
                    &self.file.name,
                    None,
                    "the file is empty",
                )
                .with_help(
                    "a mapping file needs at least `resources:`; delete the file if it is unused",
                ),
            ]);
        };
        Ok(YamlDoc {
            value,
            nodes: self.nodes,
            yaml11: self.yaml11,
        })
    }

    /// Takes one event.
    pub(super) fn event(&mut self, event: Event<'_>, span: EventSpan) {
        if self.stopped {
            return;
        }
        let at = self.span(span);
        let node = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(_)
        );
        if (node || event == Event::DocumentEnd) && self.second_document(at) {
            return;
        }
        match event {
            Event::DocumentStart(_) => self.documents += 1,
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(&text, style, anchor, tag.as_deref(), at);
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Collection::Seq(Vec::new()), anchor, span);
            }
            Event::MappingStart(anchor, _) => {
                let map = Collection::Map {
                    map: Map::new(),
                    keys: HashMap::new(),
                    pending: None,
                };
                self.open(map, anchor, span);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
            Event::Alias(id) => self.alias(id, at),
            _ => {}
        }
    }

    /// Reports a node (or an empty document) of a second document, and stops.
    fn second_document(&mut self, at: Span) -> bool {
        if self.documents > 1 {
            let help = "remove the `---` separator: one file holds one mapping";
            self.stop(at, "the file holds more than one YAML document", help);
        }
        self.documents > 1
    }

    fn span(&self, span: EventSpan) -> Span {
        let (s, e) = (span.start, span.end);
        let end = if e.index() >= s.index() {
            (e.line(), e.col())
        } else {
            (s.line(), s.col())
        };
        self.file.span((s.line(), s.col()), end)
    }

    /// Records a `yaml-syntax` error; the document is invalid, but reading goes on.
    fn error(&mut self, at: Span, message: impl Into<String>, help: &str) {
        let d = Diagnostic::new(
            &rules::yaml_syntax::RULE,
            &self.file.name,
            Some(at),
            message,
        );
        self.errors.push(d.with_help(help));
    }

    /// Records a `yaml-syntax` error and abandons the document.
    fn stop(&mut self, at: Span, message: impl Into<String>, help: &str) {
        self.error(at, message, help);
        self.stopped = true;
    }

    fn too_deep(&mut self, at: Span) {
        let help = "a mapping file is a few levels deep; check for a runaway structure";
        self.stop(
            at,
            format!("the document is nested more than {MAX_DEPTH} levels deep"),
            help,
        );
    }

    /// Where the next node goes.
    fn place(&self) -> Place {
        let Some(top) = self.stack.last() else {
            return Place {
                role: Role::Root,
                pointer: Some(String::new()),
                key: None,
            };
        };
        let parent = top.place.pointer.as_deref();
        match &top.collection {
            Collection::Seq(items) => Place {
                role: Role::Item,
                pointer: parent.map(|p| format!("{p}/{}", items.len())),
                key: None,
            },
            Collection::Map { pending: None, .. } => Place {
                role: Role::Key,
                pointer: None,
                key: None,
            },
            Collection::Map {
                pending: Some(pending),
                ..
            } => Place {
                role: Role::Value,
                pointer: parent
                    .zip(pending.key.as_deref())
                    .map(|(p, k)| format!("{p}/{}", escape(k))),
                key: Some(pending.span),
            },
        }
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        at: Span,
    ) {
        let place = self.place();
        if self.stack.len() > MAX_DEPTH {
            return self.too_deep(at);
        }
        let tag = tag.map(Cow::Borrowed);
        let resolved =
            Scalar::parse_from_cow_and_metadata(Cow::Borrowed(text), style, tag.as_ref());
        if place.role == Role::Key {
            let key = match resolved {
                Some(Scalar::String(s)) => s.into_owned(),
                Some(Scalar::Null) => "null".to_string(),
                _ => text.trim().to_string(),
            };
            return self.key(key, at, style == ScalarStyle::Plain && tag.is_none());
        }
        let value = match resolved {
            Some(Scalar::Null) => Value::Null,
            Some(Scalar::Boolean(b)) => Value::Bool(b),
            Some(Scalar::Integer(i)) => Value::Number(i.into()),
            Some(Scalar::FloatingPoint(f)) => match Number::from_f64(f.into_inner()) {
                Some(n) => Value::Number(n),
                // `.inf` and `.nan` have no JSON form; keep the text so a schema check names it.
                None => Value::String(text.to_string()),
            },
            Some(Scalar::String(s)) => Value::String(s.into_owned()),
            None => {
                let tag = tag
                    .as_ref()
                    .map_or(String::new(), |t| format!(" `!!{}`", t.suffix));
                self.error(
                    at,
                    format!("this value does not match its tag{tag}"),
                    "remove the tag, or write a value of the type it names",
                );
                Value::Null
            }
        };
        if style == ScalarStyle::Plain
            && tag.is_none()
            && let (Some(pointer), Some(reading)) = (&place.pointer, pyyaml_reading(text.trim()))
        {
            self.yaml11
                .push((pointer.clone(), text.trim().to_string(), reading));
        }
        let style = Some(match style {
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
            _ => Style::Plain,
        });
        self.complete(value, Size::scalar(text.len()), place, at, style, anchor);
    }

    /// A mapping's key has been read: check it is new, and wait for its value.
    fn key(&mut self, key: String, at: Span, plain: bool) {
        let file = self.file.name.clone();
        let Some(Frame {
            collection: Collection::Map { keys, pending, .. },
            place,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        if let Some(first) = keys.get(&key) {
            let d = Diagnostic::new(
                &rules::duplicate_key::RULE,
                &file,
                Some(at),
                format!("duplicate key `{key}`"),
            )
            .with_context(*first, "first used here")
            .with_help(format!(
                "each key may appear once per mapping; remove one of the two `{key}` entries or rename one (Port's parser would silently keep only the last)"
            ));
            self.errors.push(d);
        } else {
            keys.insert(key.clone(), at);
        }
        if key == "<<"
            && plain
            && let Some(parent) = &place.pointer
        {
            self.yaml11.push((
                format!("{parent}/{}", escape(&key)),
                key.clone(),
                "a merge key that copies another mapping's entries",
            ));
        }
        *pending = Some(Pending {
            key: Some(key),
            span: at,
        });
    }

    fn open(&mut self, collection: Collection, anchor: usize, span: EventSpan) {
        let at = self.span(span);
        if self.stack.len() > MAX_DEPTH {
            return self.too_deep(at);
        }
        let mut place = self.place();
        if place.role == Role::Key {
            // Built to keep the events in step, then refused and dropped.
            place.pointer = None;
        }
        self.stack.push(Frame {
            collection,
            place,
            start: (span.start.line(), span.start.col()),
            anchor,
            size: Size::default(),
        });
    }

    fn close(&mut self, span: EventSpan) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let end = (span.start.line(), span.start.col());
        let at = self.file.span(frame.start, end);
        let value = match frame.collection {
            Collection::Seq(items) => Value::Array(items),
            Collection::Map { map, .. } => Value::Object(map),
        };
        let mut size = frame.size;
        size.nodes = size.nodes.saturating_add(1);
        if frame.place.role == Role::Key {
            self.error(
                at,
                "a mapping key must be a plain value, not a list or a mapping",
                "use a string key",
            );
            self.refuse_key();
            return;
        }
        self.complete(value, size, frame.place, at, None, frame.anchor);
    }

    /// The key just read cannot be used: its value will be dropped.
    fn refuse_key(&mut self) {
        if let Some(Frame {
            collection: Collection::Map { pending, .. },
            ..
        }) = self.stack.last_mut()
        {
            *pending = Some(Pending {
                key: None,
                span: Span::default(),
            });
        }
    }

    /// Puts a finished node in its place.
    fn complete(
        &mut self,
        value: Value,
        size: Size,
        place: Place,
        at: Span,
        style: Option<Style>,
        anchor: usize,
    ) {
        if let Some(pointer) = &place.pointer {
            self.nodes.insert(
                pointer.clone(),
                NodeSpans {
                    key: place.key,
                    value: at,
                    style,
                },
            );
            if anchor > 0 {
                self.anchors.insert(
                    anchor,
                    Anchored {
                        pointer: pointer.clone(),
                        size,
                    },
                );
            }
        }
        let Some(parent) = self.stack.last_mut() else {
            if place.role == Role::Root {
                self.root = Some(value);
            }
            return;
        };
        match &mut parent.collection {
            Collection::Seq(items) => {
                items.push(value);
                parent.size.add(size, 0);
            }
            Collection::Map { map, pending, .. } => {
                if let Some(Pending { key: Some(key), .. }) = pending.take() {
                    parent.size.add(size, key.len().max(1));
                    map.insert(key, value);
                }
            }
        }
    }

    /// Copies an anchor's value, once what the copy adds is known to fit the limits.
    fn alias(&mut self, id: usize, at: Span) {
        let place = self.place();
        let found = self
            .anchors
            .get(&id)
            .filter(|a| self.anchored_value(&a.pointer).is_some())
            .map(|a| (a.pointer.clone(), a.size));
        let Some((pointer, size)) = found else {
            self.error(
                at,
                "this alias cannot be expanded: its anchor is a key, or holds the alias itself",
                "point the alias at a complete value defined before it",
            );
            return self.drop_node(place, at);
        };
        let bytes = self.expanded.bytes.saturating_add(size.bytes);
        let nodes = self.expanded.nodes.saturating_add(size.nodes);
        if bytes > MAX_ALIAS_BYTES || nodes > MAX_ALIAS_NODES {
            let message = format!(
                "aliases expand this file past {} MiB of text or {MAX_ALIAS_NODES} values",
                MAX_ALIAS_BYTES >> 20
            );
            let help = "write the repeated values out, or repeat less: a mapping needs few aliases";
            return self.stop(at, message, help);
        }
        if self.stack.len() + size.height > MAX_DEPTH {
            return self.too_deep(at);
        }
        let Some(value) = self.anchored_value(&pointer).cloned() else {
            return self.drop_node(place, at);
        };
        self.expanded = Size {
            bytes,
            nodes,
            height: 0,
        };
        if place.role == Role::Key {
            let key = match value {
                Value::String(s) => s,
                Value::Null => "null".to_string(),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    self.error(
                        at,
                        "a mapping key must be a plain value, not a list or a mapping",
                        "use a string key",
                    );
                    return self.refuse_key();
                }
            };
            return self.key(key, at, false);
        }
        self.complete(value, size, place, at, None, 0);
    }

    /// A node that could not be read: a key is refused, a value becomes null.
    fn drop_node(&mut self, place: Place, at: Span) {
        if place.role == Role::Key {
            self.refuse_key();
        } else {
            self.complete(Value::Null, Size::scalar(0), place, at, None, 0);
        }
    }

    /// The finished value at `pointer`, found inside the deepest open collection holding it.
    fn anchored_value(&self, pointer: &str) -> Option<&Value> {
        for frame in self.stack.iter().rev() {
            let Some(base) = frame.place.pointer.as_deref() else {
                continue;
            };
            let Some(rest) = pointer.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else {
                continue;
            };
            let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let child = match &frame.collection {
                Collection::Seq(items) => items.get(first.parse::<usize>().ok()?)?,
                Collection::Map { map, .. } => {
                    map.get(&first.replace("~1", "/").replace("~0", "~"))?
                }
            };
            return if tail.is_empty() {
                Some(child)
            } else {
                child.pointer(&format!("/{tail}"))
            };
        }
        None
    }
}
