//! The Azure DevOps kinds a mapping may name, with each kind's selector schema: a view of
//! the one registry of kinds, `crate::ado::KINDS`, so that what lint accepts and what the
//! source fetches cannot drift apart.

use crate::ado::KINDS;

/// Whether `kind` is a known kind.
pub fn is_known(kind: &str) -> bool {
    KINDS.iter().any(|k| k.name == kind)
}

/// Why the selector option `option` of `kind` has no effect, when Port's integration
/// accepts it but ignores it (the registry's `ignored_options`).
pub fn ignored_option(kind: &str, option: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|k| k.name == kind)
        .and_then(|k| k.ignored_option(option))
        .map(|o| o.why)
}

/// The names of every known kind, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name)
}

/// The selector schema (JSON text) of `kind`.
pub fn selector_schema(kind: &str) -> Option<&'static str> {
    KINDS.iter().find(|k| k.name == kind).map(|k| k.schema)
}

/// Every kind's name and selector schema, in registry order.
pub fn schemas() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.name, k.schema))
}
