//! Lint rule `empty-file`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "empty-file",
    severity: Severity::Error,
    docs: "The file holds no YAML document. An empty mapping would map nothing, and a later apply would try to delete every entity it owns.",
};
