//! Lint rule `unknown-blueprint`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unknown-blueprint",
    severity: Severity::Error,
    docs: "A resource maps to a blueprint that is not among the config repo's blueprint files.",
};
