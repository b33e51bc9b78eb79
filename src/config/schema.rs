//! The JSON Schemas compiled into the binary, and validation that speaks in diagnostics.
//!
//! Schemas live in `schemas/` (editors use them too). Validators are built once per
//! process. A schema error carries a JSON pointer; the YAML span index turns it into a
//! line and column, and unknown keys get a "did you mean" from the schema's own keys.

use std::sync::{Arc, OnceLock};

use jsonschema::ValidationError;
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::kinds;
use super::rules;
use super::yaml::{YamlDoc, escape};

/// The mapping file's schema (Port's `port-app-config` format).
pub const MAPPING_SCHEMA: &str = include_str!("../../schemas/mapping.schema.json");
/// The settings file's schema (`adoport.yaml`).
pub const SETTINGS_SCHEMA: &str = include_str!("../../schemas/settings.schema.json");

/// A schema's text by name: `mapping`, `settings`, or `selector/KIND`.
pub fn schema_text(name: &str) -> Option<&'static str> {
    match name {
        "mapping" => Some(MAPPING_SCHEMA),
        "settings" => Some(SETTINGS_SCHEMA),
        _ => {
            let kind = name.strip_prefix("selector/")?;
            kinds::selector_schema(kind)
        }
    }
}

struct Compiled {
    schema: Value,
    validator: Validator,
}

fn compile(text: &str) -> Compiled {
    // The schemas are part of the binary and covered by tests: failing here is a build bug.
    let schema: Value = serde_json::from_str(text).expect("embedded schema is valid JSON");
    let validator =
        jsonschema::draft202012::new(&schema).expect("embedded schema is a valid JSON Schema");
    Compiled { schema, validator }
}

fn mapping() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| compile(MAPPING_SCHEMA))
}

fn settings() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| compile(SETTINGS_SCHEMA))
}

fn selector(kind: &str) -> Option<&'static Compiled> {
    static C: OnceLock<Vec<Compiled>> = OnceLock::new();
    let all = C.get_or_init(|| kinds::schemas().map(|(_, text)| compile(text)).collect());
    kinds::names().position(|k| k == kind).map(|i| &all[i])
}

/// Which document a validation is about, for wording and rule choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A mapping file.
    Mapping,
    /// The settings file.
    Settings,
    /// The selector of a resource of `kind`, at `pointer` within the mapping file.
    Selector {
        /// The resource's kind.
        kind: &'a str,
        /// The selector's JSON pointer.
        pointer: &'a str,
    },
}

/// Validates `instance` (part of `doc`) against the target's schema.
pub fn validate(
    target: Target<'_>,
    instance: &Value,
    doc: &YamlDoc,
    file: &Arc<str>,
) -> Vec<Diagnostic> {
    let (compiled, base) = match target {
        Target::Mapping => (mapping(), ""),
        Target::Settings => (settings(), ""),
        Target::Selector { kind, pointer } => match selector(kind) {
            Some(c) => (c, pointer),
            None => return Vec::new(),
        },
    };
    let mut out = Vec::new();
    let errors: Vec<_> = compiled
        .validator
        .iter_errors(instance)
        .map(|e| e.to_owned())
        .collect();
    for error in errors.iter().flat_map(most_specific) {
        let at = format!("{base}{}", error.instance_path().as_str());
        let schema_path = error.schema_path().as_str().to_string();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = allowed_keys(&compiled.schema, &schema_path);
                for key in unexpected {
                    out.push(unknown_key(target, doc, file, &at, key, &known));
                }
            }
            ValidationErrorKind::Enum { options }
                if target == Target::Mapping && at.ends_with("/kind") =>
            {
                let given = error.instance().as_str().unwrap_or_default().to_string();
                let names: Vec<&str> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut d = Diagnostic::new(
                    &rules::unknown_kind::RULE,
                    file,
                    doc.span_at(&at),
                    format!("unknown kind `{given}`"),
                );
                d = match did_you_mean(&given, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("known kinds: {}", names.join(", "))),
                };
                out.push(d);
            }
            // `not: {required: [a, b]}`: keys that exclude each other.
            ValidationErrorKind::Not { schema }
                if schema.get("required").and_then(Value::as_array).is_some() =>
            {
                let keys: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let last = keys.last().copied().unwrap_or_default();
                let listed: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                out.push(
                    Diagnostic::new(
                        &rules::schema::RULE,
                        file,
                        doc.key_span_at(&format!("{at}/{}", escape(last))),
                        format!("{} cannot be set together", listed.join(" and ")),
                    )
                    .with_help("keep one of them"),
                );
            }
            _ => {
                let what = if at.is_empty() {
                    "the file".to_string()
                } else {
                    format!("`{}`", display_path(&at))
                };
                let span = match error.kind() {
                    ValidationErrorKind::Required { .. } => doc.key_span_at(&at),
                    _ => doc.span_at(&at),
                };
                let mut d = Diagnostic::new(
                    &rules::schema::RULE,
                    file,
                    span,
                    format!("{what}: {}", lowercase_first(&bounded(error))),
                );
                if let Some(help) = schema_help(error.kind(), &compiled.schema, &schema_path) {
                    d = d.with_help(help);
                }
                out.push(d);
            }
        }
    }
    let mut deprecated = std::collections::BTreeMap::new();
    deprecated_keys(
        &compiled.schema,
        &compiled.schema,
        instance,
        base.to_string(),
        &mut deprecated,
    );
    for (pointer, description) in deprecated {
        // A selector option the registry of kinds lists as ignored by Port is reported by
        // lint's `ignored-selector-option`, with the registry's reason: not twice.
        if let Target::Selector { kind, pointer: at } = target
            && let Some(option) = pointer.strip_prefix(&format!("{at}/"))
            && kinds::ignored_option(kind, &option.replace("~1", "/").replace("~0", "~")).is_some()
        {
            continue;
        }
        let key = pointer
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .replace("~1", "/")
            .replace("~0", "~");
        out.push(
            Diagnostic::new(
                &rules::deprecated_key::RULE,
                file,
                doc.key_span_at(&pointer),
                format!("`{key}` has no effect"),
            )
            .with_help(format!("{} Remove it.", first_sentence(&description))),
        );
    }
    out
}

/// Keys present in `instance` whose schema marks them `deprecated`, with their descriptions.
fn deprecated_keys(
    root: &Value,
    node: &Value,
    instance: &Value,
    pointer: String,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        && let Some(resolved) = root.pointer(target)
    {
        deprecated_keys(root, resolved, instance, pointer.clone(), out);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        for branch in node
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            deprecated_keys(root, branch, instance, pointer.clone(), out);
        }
    }
    match instance {
        Value::Object(map) => {
            let Some(props) = node.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (key, value) in map {
                let Some(sub) = props.get(key) else { continue };
                let at = format!("{pointer}/{}", escape(key));
                if sub.get("deprecated") == Some(&Value::Bool(true)) {
                    let description = sub.get("description").and_then(Value::as_str).unwrap_or("");
                    out.insert(at.clone(), description.to_string());
                }
                deprecated_keys(root, sub, value, at, out);
            }
        }
        Value::Array(items) => {
            if let Some(sub) = node.get("items") {
                for (i, item) in items.iter().enumerate() {
                    deprecated_keys(root, sub, item, format!("{pointer}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

/// For `anyOf`/`oneOf`, the errors of the alternative the value came closest to (the one
/// whose errors go deepest into it), instead of "not valid under any of the schemas".
fn most_specific<'a>(error: &'a ValidationError<'static>) -> Vec<&'a ValidationError<'static>> {
    let context = match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
        }
        _ => return vec![error],
    };
    let depth = |errs: &&Vec<ValidationError<'static>>| {
        errs.iter()
            .map(|e| e.instance_path().as_str().len())
            .max()
            .unwrap_or(0)
    };
    let wrong_type = |errs: &&Vec<ValidationError<'static>>| {
        errs.iter().all(|e| {
            matches!(e.kind(), ValidationErrorKind::Type { .. })
                && e.instance_path().as_str() == error.instance_path().as_str()
        })
    };
    let best = context
        .iter()
        .filter(|errs| !errs.is_empty() && !wrong_type(errs))
        .max_by_key(|errs| (depth(errs), usize::MAX - errs.len()));
    match best {
        Some(errs) => errs.iter().flat_map(most_specific).collect(),
        None => vec![error],
    }
}

fn unknown_key(
    target: Target<'_>,
    doc: &YamlDoc,
    file: &Arc<str>,
    at: &str,
    key: &str,
    known: &[String],
) -> Diagnostic {
    let pointer = format!("{at}/{}", escape(key));
    let (rule, message) = match target {
        Target::Selector { kind, .. } => (
            &rules::unknown_selector_option::RULE,
            format!("the `{kind}` kind has no selector option `{key}`"),
        ),
        _ => (&rules::unknown_key::RULE, format!("unknown key `{key}`")),
    };
    let d = Diagnostic::new(rule, file, doc.key_span_at(&pointer), message);
    match did_you_mean(key, known.iter().map(String::as_str)) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None if known.is_empty() => d,
        None => d.with_help(format!("known keys here: {}", known.join(", "))),
    }
}

/// The likeliest meant candidate for a misspelt name, if one is close enough.
///
/// A candidate that differs only in case wins; then one the name is a prefix of, or that is
/// a prefix of the name (`azureDevopsRepo` → `azureDevopsRepository`, not the equally
/// distant `azureDevopsTeam`); then the most similar by Jaro-Winkler, which weighs a shared
/// start, where typos are rare, above a shared end, among those a few edits away (a third of
/// the name's length). Used by every "did you mean" hint.
pub fn did_you_mean<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = given.to_lowercase();
    let mut best: Option<((u8, f64), &'a str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let tier = if cl == lower {
            2
        } else if lower.chars().count() >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl)) {
            1
        } else {
            0
        };
        let similarity = strsim::jaro_winkler(&lower, &cl);
        let edits = strsim::damerau_levenshtein(&lower, &cl);
        let longest = lower.chars().count().max(cl.chars().count());
        if tier == 0 && (similarity < MIN_SIMILARITY || edits > (longest / 3).max(2)) {
            continue;
        }
        let score = (tier, similarity);
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// How similar (Jaro-Winkler, 0 to 1) a name must be to a candidate to suggest it: typos
/// of real keys score above 0.9, unrelated names of similar length below 0.7.
const MIN_SIMILARITY: f64 = 0.8;

/// The longest value quoted in a schema message; longer ones are cut, so a message never
/// carries more of a file than a glance needs.
const MAX_QUOTED_VALUE: usize = 60;

/// A validation error's message, with the value it quotes cut to [`MAX_QUOTED_VALUE`].
fn bounded(error: &ValidationError<'_>) -> String {
    let message = error.to_string();
    let quoted = error.instance().to_string();
    if quoted.chars().count() <= MAX_QUOTED_VALUE || !message.contains(&quoted) {
        return message;
    }
    let cut: String = quoted.chars().take(MAX_QUOTED_VALUE).collect();
    message.replacen(&quoted, &format!("{cut}…"), 1)
}

/// Whether the schema wants a boolean at `pointer` of a mapping document: a top-level flag,
/// `itemsToParseTopLevelTransform`, or a selector option (from the resource's kind's schema).
pub fn expects_boolean(mapping_doc: &Value, pointer: &str) -> bool {
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    if let [res, i, sel, _] = parts.as_slice()
        && res == "resources"
        && sel == "selector"
    {
        let kind = mapping_doc
            .pointer(&format!("/resources/{i}/kind"))
            .and_then(Value::as_str);
        return kind
            .and_then(selector)
            .is_some_and(|c| boolean_at(&c.schema, &c.schema, &parts[3..], 0));
    }
    let c = mapping();
    boolean_at(&c.schema, &c.schema, &parts, 0)
}

/// Whether `node` (of the schema `root`), followed along `path`, allows a boolean.
fn boolean_at(root: &Value, node: &Value, path: &[String], depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|r| root.pointer(r))
        && boolean_at(root, target, path, depth + 1)
    {
        return true;
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        let branches = node.get(combinator).and_then(Value::as_array);
        if branches
            .into_iter()
            .flatten()
            .any(|b| boolean_at(root, b, path, depth + 1))
        {
            return true;
        }
    }
    let Some((first, rest)) = path.split_first() else {
        return node.get("type") == Some(&Value::String("boolean".into()));
    };
    if let Some(sub) = node.get("properties").and_then(|p| p.get(first.as_str())) {
        return boolean_at(root, sub, rest, depth + 1);
    }
    match node.get("items") {
        Some(items) if first.parse::<usize>().is_ok() => boolean_at(root, items, rest, depth + 1),
        _ => false,
    }
}

/// The `properties` names of the schema object that owns the keyword at `schema_path`.
fn allowed_keys(schema: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path
        .rsplit_once('/')
        .map_or("", |(parent, _)| parent);
    resolve(schema, parent)
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// Follows a schema path through the schema, resolving local `$ref`s on the way.
fn resolve<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = root;
    for raw in path.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            node = root.pointer(target)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// A hint from the schema itself: the description of the property that failed.
fn schema_help(kind: &ValidationErrorKind, schema: &Value, schema_path: &str) -> Option<String> {
    match kind {
        ValidationErrorKind::Required { property } => {
            let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
            let name = property.as_str()?;
            let desc = resolve(schema, parent)?
                .get("properties")?
                .get(name)?
                .get("description")?
                .as_str()?;
            Some(format!("add `{name}`: {}", first_sentence(desc)))
        }
        _ => {
            let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
            let desc = resolve(schema, parent)?.get("description")?.as_str()?;
            Some(first_sentence(desc).to_string())
        }
    }
}

/// The text up to the first full stop that ends a sentence (not `e.g.` or `i.e.`).
fn first_sentence(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find(". ").map(|i| i + from) {
        let before = &text[..i];
        if !(before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc")) {
            return &text[..=i];
        }
        from = i + 2;
    }
    text
}

/// `/resources/0/port/entity` → `resources[0].port.entity`.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if f.is_uppercase() && !c.clone().next().is_some_and(char::is_uppercase) => {
            f.to_lowercase().chain(c).collect()
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        mapping();
        settings();
        for kind in kinds::names() {
            assert!(selector(kind).is_some(), "{kind}");
        }
        assert_eq!(
            kinds::names().count(),
            29,
            "every kind Port's integration syncs"
        );
    }

    #[test]
    fn suggestions_catch_typos_but_not_strangers() {
        let keys = ["itemsToParse", "itemsToParseName", "entity"];
        assert_eq!(
            did_you_mean("itemToParse", keys.into_iter()),
            Some("itemsToParse")
        );
        assert_eq!(did_you_mean("zzz", keys.into_iter()), None);
        assert_eq!(
            did_you_mean("identifer", ["identifier", "icon", "title"].into_iter()),
            Some("identifier")
        );
        assert_eq!(
            did_you_mean("Blueprint", ["blueprint", "team"].into_iter()),
            Some("blueprint")
        );
        assert_eq!(
            did_you_mean("includeFiles", ["includedFiles", "query"].into_iter()),
            Some("includedFiles")
        );
        assert_eq!(
            did_you_mean("lenght", ["length", "ltrimstr", "last"].into_iter()),
            Some("length")
        );
        assert_eq!(
            did_you_mean("description", ["url", "language"].into_iter()),
            None
        );
        assert_eq!(
            did_you_mean("True", ["truncate_stream", "tojson"].into_iter()),
            None
        );
    }

    #[test]
    fn a_name_cut_short_is_matched_to_the_name_it_starts() {
        let blueprints = [
            "azureDevopsProject",
            "azureDevopsTeam",
            "azureDevopsRepository",
            "azureDevopsRepositoryPolicy",
        ];
        assert_eq!(
            did_you_mean("azureDevopsRepo", blueprints.into_iter()),
            Some("azureDevopsRepository")
        );
        assert_eq!(
            did_you_mean("repositry", ["repository", "release"].into_iter()),
            Some("repository")
        );
    }

    #[test]
    fn booleans_are_found_where_the_schemas_want_them() {
        let doc = serde_json::json!({"resources": [{"kind": "team", "selector": {}}]});
        assert!(expects_boolean(&doc, "/deleteDependentEntities"));
        assert!(expects_boolean(
            &doc,
            "/resources/0/port/itemsToParseTopLevelTransform"
        ));
        assert!(!expects_boolean(&doc, "/resources/0/port/itemsToParseName"));
        assert!(!expects_boolean(&doc, "/entityDeletionThreshold"));
        assert!(!expects_boolean(&doc, "/resources/0/selector/query"));
        assert!(expects_boolean(
            &doc,
            "/resources/0/selector/includeMembers"
        ));
    }

    #[test]
    fn pointers_read_as_dotted_paths() {
        assert_eq!(
            display_path("/resources/0/port/a~1b"),
            "resources[0].port.a/b"
        );
    }
}
