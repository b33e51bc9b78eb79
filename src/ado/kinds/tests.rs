//! The registry of kinds against the selector schemas: what a schema accepts, the kind
//! either does (`options`) or says it cannot (`ignored_options`), and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;

use super::KINDS;

/// Options every selector takes that no kind reads: `query` (the filter) and Port's own
/// `exportEnvVariables`.
const COMMON: &[&str] = &["query", "exportEnvVariables"];

#[test]
fn every_option_a_fetched_kinds_schema_accepts_takes_effect_or_is_declared_ignored() {
    for kind in KINDS {
        let schema: Value = serde_json::from_str(kind.schema).unwrap_or(Value::Null);
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let accepted: BTreeSet<&str> = properties
            .keys()
            .map(String::as_str)
            .filter(|k| !COMMON.contains(k))
            .collect();
        let read: BTreeSet<&str> = kind.options.iter().copied().collect();
        let ignored: BTreeSet<&str> = kind.ignored_options.iter().map(|o| o.name).collect();
        assert!(
            read.is_disjoint(&ignored),
            "{}: {read:?} {ignored:?}",
            kind.name
        );
        let declared: BTreeSet<&str> = read.union(&ignored).copied().collect();
        assert_eq!(accepted, declared, "{}", kind.name);
        // The schema marks exactly the ignored options `deprecated`, so editors grey them out.
        let deprecated: BTreeSet<&str> = properties
            .iter()
            .filter(|(_, p)| p["deprecated"] == Value::Bool(true))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(deprecated, ignored, "{}", kind.name);
        for option in kind.ignored_options {
            assert!(option.why.ends_with('.'), "{}: {}", kind.name, option.name);
        }
    }
}

#[test]
fn kind_names_are_unique() {
    let names: BTreeSet<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(names.len(), KINDS.len());
}
