//! The registry of kinds against the selector schemas: what a schema accepts, the kind
//! either does (`options`) or says it cannot (`ignored_options`), and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{COMMON_IGNORED_OPTIONS, KINDS};

/// Options every selector takes that no kind reads: `query` (the filter, the mapping's) and
/// Port's core options that lint says are ignored.
fn common() -> BTreeSet<&'static str> {
    COMMON_IGNORED_OPTIONS
        .iter()
        .map(|o| o.name)
        .chain(["query"])
        .collect()
}

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
            .filter(|k| !common().contains(k))
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

#[test]
fn every_selector_accepts_the_common_ignored_options_and_says_they_are_ignored() {
    for kind in KINDS {
        let schema: Value = serde_json::from_str(kind.schema).unwrap_or(Value::Null);
        for option in COMMON_IGNORED_OPTIONS {
            assert!(
                schema["properties"].get(option.name).is_some(),
                "{}: {}",
                kind.name,
                option.name
            );
            assert!(!kind.options.contains(&option.name), "{}", kind.name);
            assert!(kind.ignored_option(option.name).is_some(), "{}", kind.name);
        }
    }
}
