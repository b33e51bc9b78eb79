//! Lint rule `yaml-syntax`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "yaml-syntax",
    severity: Severity::Error,
    docs: "The file is not valid YAML (or nests deeper than any mapping needs). Nothing in it can be checked further until it parses.",
};
