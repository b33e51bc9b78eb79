//! The lint passes that need the whole config: jq compilation and blueprints; and the
//! finding for a config that cannot be read at all.
//!
//! Loading already reports YAML, schema, unknown keys/kinds/options, YAML 1.1 scalars and
//! flag conflicts. These passes add what needs the whole config. They run over the model
//! built from everything readable even when loading found errors, so a misspelt selector
//! option does not hide an unknown blueprint: every problem is reported in one run.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as _;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::jq::{Engine, EngineOptions, Input};

use super::diagnostic::{self, Diagnostic};
use super::load::Loaded;
use super::location::{self, ConfigSource};
use super::model::{Config, Jq, Origin, Resource};
use super::render::plural_noun;
use super::rules;
use super::schema::did_you_mean;
use super::source::Span;
use super::yaml::{escape, inside};
use super::{files, git};

/// Runs every pass over a loaded config, appends the findings and puts them all in order.
pub fn lint(loaded: &mut Loaded) {
    let mut found = Vec::new();
    let mut merged = Vec::new();
    if let Some(config) = loaded.model() {
        let engine = Engine::new(EngineOptions::default());
        warm(&engine, &config.mapping.resources);
        for resource in &config.mapping.resources {
            jq_leaves(resource, &engine, loaded, &mut found, &mut merged);
            ignored_selector_options(resource, loaded, &mut found);
        }
        blueprints(config, loaded, &mut found);
    }
    // A jq error that took over a YAML 1.1 finding's words replaces that finding.
    loaded.diagnostics.retain(|d| {
        d.code != rules::yaml11_scalar::RULE.code
            || !merged
                .iter()
                .any(|(file, span)| *file == d.file && *span == d.span)
    });
    loaded.diagnostics.extend(found);
    diagnostic::sort(&mut loaded.diagnostics);
}

/// Selector options Port's integration accepts for the kind but ignores: each is said to
/// have no effect, with the registry's reason.
fn ignored_selector_options(resource: &Resource, loaded: &Loaded, out: &mut Vec<Diagnostic>) {
    for key in resource.selector.options.keys() {
        let Some(why) = super::kinds::ignored_option(&resource.kind, key) else {
            continue;
        };
        let key_origin = Origin {
            pointer: format!("{}/selector/{}", resource.origin.pointer, escape(key)),
            ..resource.origin.clone()
        };
        out.push(
            Diagnostic::new(
                &rules::ignored_selector_option::RULE,
                &resource.origin.file,
                span_at(loaded, &key_origin, true),
                format!(
                    "selector option `{key}` has no effect on the `{}` kind",
                    resource.kind
                ),
            )
            .with_help(format!("{why} Remove it.")),
        );
    }
}

/// The finding for a config that cannot be read at all (a missing path, an unknown
/// revision, a refused file), so `lint` reports it like any other problem, in text and JSON.
pub fn unreadable(source: &ConfigSource, error: &location::Error) -> Diagnostic {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    let refused = matches!(
        error,
        location::Error::ReadFailed(files::Error::Refused { .. })
            | location::Error::GitFailed(git::Error::Refused { .. })
    );
    let help = if refused {
        format!(
            "config files must be regular files inside the repository, of at most {} MiB: remove the file or link named here, or replace it with the file itself",
            files::MAX_FILE_BYTES >> 20
        )
    } else {
        "lint reads a config folder, a mapping file, or a git revision `git:PATH@REV`; check that it exists and can be read".to_string()
    };
    let file: Arc<str> = source.to_string().into();
    Diagnostic::new(&rules::unreadable::RULE, &file, None, message).with_help(help)
}

/// The blueprint a resource writes to, when its `blueprint` mapping is a literal string.
pub fn literal_blueprint(resource: &Resource) -> Option<String> {
    literal_string(&resource.port.mappings.blueprint.expr)
}

/// The string a jq expression denotes when it is just a string literal (`"x"` or `'x'`).
pub fn literal_string(expr: &str) -> Option<String> {
    let t = expr.trim();
    if let Some(inner) = t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return (!inner.contains(['\'', '"', '\\'])).then(|| inner.to_string());
    }
    if t.starts_with('"') && !t.contains("\\(") {
        return serde_json::from_str::<String>(t).ok();
    }
    None
}

/// Where a node is, as a span (the value's position, or the key's when `key` is set).
pub(crate) fn span_at(loaded: &Loaded, origin: &Origin, key: bool) -> Option<Span> {
    let (_, doc) = loaded.docs.iter().find(|(f, _)| *f == origin.file)?;
    if key {
        doc.key_span_at(&origin.pointer)
    } else {
        doc.span_at(&origin.pointer)
    }
}

/// Compiles every distinct expression once, on every core, so the per-leaf pass below hits
/// the engine's cache: compiling dominates linting a large mapping.
fn warm(engine: &Engine, resources: &[Resource]) {
    let mut exprs: Vec<&str> = resources
        .iter()
        .flat_map(resource_leaves)
        .map(|(_, jq)| jq.expr.as_str())
        .filter(|expr| !expr.starts_with(super::model::FILE_PREFIX))
        .collect();
    exprs.sort_unstable();
    exprs.dedup();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = exprs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for part in exprs.chunks(chunk) {
            scope.spawn(move || {
                for expr in part {
                    // Errors are reported by the sequential pass; only successes are cached.
                    let _ = engine.compile(expr);
                }
            });
        }
    });
}

/// Every jq leaf of a resource with its field path: selector, itemsToParse, mappings.
fn resource_leaves(resource: &Resource) -> Vec<(String, &Jq)> {
    let mut leaves: Vec<(String, &Jq)> = vec![("selector.query".into(), &resource.selector.query)];
    if let Some(items) = &resource.port.items_to_parse {
        leaves.push(("itemsToParse".into(), items));
    }
    leaves.extend(resource.port.mappings.leaves());
    leaves
}

/// Compiles every jq leaf of a resource exactly as the mapping will, reporting syntax
/// errors at the offending token and uses of jq features we cannot match exactly.
///
/// A leaf written as a YAML 1.1 word (`no`) that does not compile gets that rule's words,
/// and its place goes into `merged` so the `yaml11-scalar` finding there is dropped.
fn jq_leaves(
    resource: &Resource,
    engine: &Engine,
    loaded: &Loaded,
    out: &mut Vec<Diagnostic>,
    merged: &mut Vec<(Arc<str>, Option<Span>)>,
) {
    for (field, jq) in resource_leaves(resource) {
        if written_as_non_string(loaded, jq) {
            // `coerced-value` (or `yaml11-scalar`) already says what Port makes of it.
            continue;
        }
        // Port reads a mapping value `file://PATH` as a file, not as jq (the selector and
        // `itemsToParse` are jq whatever they say).
        if field != "selector.query" && field != "itemsToParse" {
            let span = span_at(loaded, &jq.origin, false);
            if let Some(d) = rules::file_prefix::finding(resource, &field, jq, span) {
                out.push(d);
                continue;
            }
        }
        if let Err(e) = engine.compile(&jq.expr) {
            let span = match e.offset {
                Some(offset) => token_span(loaded, jq, token_at(&jq.expr, offset)),
                None => None,
            }
            .or_else(|| span_at(loaded, &jq.origin, false));
            let fallback = "Port's integration would map this field to null for every item; check the expression with `adoport jq`";
            let mut message = format!("`{field}` is not valid jq: {}", e.message);
            let help = if let Some((why, help)) = yaml11_words(loaded, jq) {
                // `no`: one finding, with the YAML 1.1 reading as the reason and its fix.
                message = format!("`{field}` is not valid jq: {why}");
                merged.push((jq.origin.file.clone(), span_at(loaded, &jq.origin, false)));
                help
            } else if let Some(name) = unknown_function(&e.message, &jq.expr) {
                format!(
                    "did you mean `{name}`? (as written, Port's integration maps this field to null for every item)"
                )
            } else {
                fallback.to_string()
            };
            out.push(
                Diagnostic::new(&rules::jq_syntax::RULE, &jq.origin.file, span, message)
                    .with_help(help),
            );
            continue;
        }
        for warning in crate::jq::compat_warnings(&jq.expr) {
            out.push(Diagnostic::new(
                &rules::jq_compat::RULE,
                &jq.origin.file,
                span_at(loaded, &jq.origin, false),
                format!("`{field}`: {warning}"),
            ));
        }
    }
}

/// The `yaml11-scalar` words for a jq leaf written as a YAML 1.1 word (`no`, `on`).
fn yaml11_words(loaded: &Loaded, jq: &Jq) -> Option<(String, String)> {
    let (_, doc) = loaded.docs.iter().find(|(f, _)| *f == jq.origin.file)?;
    rules::yaml11_scalar::words_at(doc, &jq.origin.pointer)
}

/// Whether a jq leaf is written in YAML as a number or a boolean rather than text.
fn written_as_non_string(loaded: &Loaded, jq: &Jq) -> bool {
    loaded
        .docs
        .iter()
        .find(|(f, _)| *f == jq.origin.file)
        .and_then(|(_, doc)| doc.value.pointer(&jq.origin.pointer))
        .is_some_and(|v| !v.is_string())
}

/// Where bytes `range` of a jq leaf's expression are in its file, through quotes, escapes
/// and folded or literal blocks; `None` when the expression's text cannot be followed.
fn token_span(loaded: &Loaded, jq: &Jq, range: Range<usize>) -> Option<Span> {
    let (_, doc) = loaded.docs.iter().find(|(f, _)| *f == jq.origin.file)?;
    let node = doc.nodes.get(&jq.origin.pointer)?;
    let source = loaded.sources.iter().find(|s| s.name == jq.origin.file)?;
    inside::span_of(source, node, &jq.expr, range)
}

/// The token of `expr` that starts at byte `offset`: a name (`lenght`, `$x`, `@csv`), a
/// string literal, or one character; empty at the end of the text.
fn token_at(expr: &str, offset: usize) -> Range<usize> {
    let Some(rest) = expr.get(offset..) else {
        return expr.len()..expr.len();
    };
    let name = |c: char| c.is_alphanumeric() || c == '_';
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return offset..offset;
    };
    let len = match first {
        '"' => {
            let mut escaped = false;
            chars
                .find(|&(_, c)| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map_or(rest.len(), |(i, _)| i + 1)
        }
        c if name(c) || c == '$' || c == '@' => chars
            .find(|&(_, c)| !name(c))
            .map_or(rest.len(), |(i, _)| i),
        c => c.len_utf8(),
    };
    offset..offset + len
}

/// For jq's "filter NAME is not defined", the closest known filter: jq's builtins as the
/// engine defines them, plus the expression's own `def`s.
fn unknown_function(message: &str, expr: &str) -> Option<String> {
    let name = message
        .strip_prefix("filter ")?
        .strip_suffix(" is not defined")?;
    let own = expr
        .split("def ")
        .skip(1)
        .filter_map(|d| d.split(|c: char| !(c.is_alphanumeric() || c == '_')).next());
    let candidates: Vec<&str> = builtin_names()
        .iter()
        .map(String::as_str)
        .chain(own)
        .collect();
    did_you_mean(name, candidates.into_iter()).map(String::from)
}

/// The names of jq's builtins, from the engine's own `builtins` (so they are what it runs).
fn builtin_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let engine = Engine::new(EngineOptions::default());
        let listed = engine
            .compile("builtins")
            .ok()
            .and_then(|p| p.first(&Input::new(&Value::Null)).ok().flatten());
        let mut names: Vec<String> = listed
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|b| b.split('/').next())
            .filter(|n| !n.starts_with('_'))
            .map(String::from)
            .collect();
        names.sort();
        names.dedup();
        names
    })
}

fn blueprints(config: &Config, loaded: &Loaded, out: &mut Vec<Diagnostic>) {
    if config.blueprints.is_empty() {
        return;
    }
    // Which properties each blueprint gets from some resource (for the `required` check).
    let mut mapped: BTreeMap<String, (BTreeSet<String>, &Resource)> = BTreeMap::new();
    for resource in &config.mapping.resources {
        let Some(bp_id) = literal_blueprint(resource) else {
            continue;
        };
        let m = &resource.port.mappings;
        let bp_leaf = &m.blueprint;
        let Some(bp) = config.blueprints.get(&bp_id) else {
            let mut d = Diagnostic::new(
                &rules::unknown_blueprint::RULE,
                &bp_leaf.origin.file,
                span_at(loaded, &bp_leaf.origin, false),
                format!("no blueprint `{bp_id}` among the config repo's blueprints"),
            );
            d = match did_you_mean(&bp_id, config.blueprints.keys().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!(
                    "known blueprints: {}",
                    config
                        .blueprints
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            out.push(d);
            continue;
        };
        let props = keys(bp, &["schema", "properties"]);
        let rels = keys(bp, &["relations"]);
        let entry = mapped
            .entry(bp_id.clone())
            .or_insert_with(|| (BTreeSet::new(), resource));
        for (name, jq) in m.properties.iter().flatten() {
            entry.0.insert(name.clone());
            if !props.contains(name) {
                out.push(unknown_field(
                    loaded, &jq.origin, "property", name, &bp_id, &props,
                ));
            }
        }
        for name in m.relations.iter().flatten().map(|(name, _)| name) {
            if !rels.contains(name) {
                let at = Origin {
                    pointer: format!(
                        "{}/port/entity/mappings/relations/{}",
                        resource.origin.pointer,
                        escape(name)
                    ),
                    ..resource.origin.clone()
                };
                out.push(unknown_field(loaded, &at, "relation", name, &bp_id, &rels));
            }
        }
    }
    for (bp_id, (set, resource)) in mapped {
        let Some(bp) = config.blueprints.get(&bp_id) else {
            continue;
        };
        let required: Vec<&str> = bp
            .pointer("/schema/required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in required.into_iter().filter(|r| !set.contains(*r)) {
            let leaf = &resource.port.mappings.blueprint;
            out.push(
                Diagnostic::new(
                    &rules::required_property::RULE,
                    &leaf.origin.file,
                    span_at(loaded, &leaf.origin, false),
                    format!(
                        "blueprint `{bp_id}` requires property `{name}`, which no resource maps"
                    ),
                )
                .with_help(format!("map it under `properties: {{{name}: ...}}`")),
            );
        }
    }
}

fn keys(bp: &Value, path: &[&str]) -> BTreeSet<String> {
    let mut node = bp;
    for p in path {
        match node.get(p) {
            Some(n) => node = n,
            None => return BTreeSet::new(),
        }
    }
    node.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn unknown_field(
    loaded: &Loaded,
    at: &Origin,
    what: &str,
    name: &str,
    bp_id: &str,
    known: &BTreeSet<String>,
) -> Diagnostic {
    let d = Diagnostic::new(
        &rules::unknown_blueprint_field::RULE,
        &at.file,
        span_at(loaded, at, true),
        format!("blueprint `{bp_id}` has no {what} `{name}`"),
    );
    match did_you_mean(name, known.iter().map(String::as_str)) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None if known.is_empty() => d.with_help(format!(
            "blueprint `{bp_id}` defines no {}",
            plural_noun(what)
        )),
        None => d.with_help(format!(
            "{} of `{bp_id}`: {}",
            plural_noun(what),
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jq_error_underlines_the_whole_offending_token() {
        assert_eq!(token_at(".a | lenght", 5), 5..11);
        assert_eq!(token_at(".a + $x1 ", 5), 5..8);
        assert_eq!(token_at(r#".a + "q\"x" | z"#, 5), 5..11);
        assert_eq!(token_at(".a ] ", 3), 3..4);
        assert_eq!(token_at(".a", 2), 2..2);
        assert_eq!(token_at(".a", 9), 2..2);
    }

    #[test]
    fn an_unknown_jq_function_gets_the_builtin_it_resembles() {
        assert_eq!(
            unknown_function("filter lenght is not defined", ".x | lenght").as_deref(),
            Some("length")
        );
        assert_eq!(
            unknown_function("filter myfnc is not defined", "def myfunc: 1; myfnc").as_deref(),
            Some("myfunc")
        );
        assert_eq!(unknown_function("syntax error", ".x"), None);
    }

    #[test]
    fn literal_blueprints_are_recognised_in_both_quote_styles() {
        assert_eq!(literal_string(r#""service""#).as_deref(), Some("service"));
        assert_eq!(literal_string("'service'").as_deref(), Some("service"));
        assert_eq!(literal_string(r#""a\(.x)""#), None);
        assert_eq!(literal_string(".kind"), None);
    }
}
