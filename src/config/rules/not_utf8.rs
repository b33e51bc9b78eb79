//! Lint rule `not-utf8`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "not-utf8",
    severity: Severity::Error,
    docs: "The file is not UTF-8 text. YAML files must be UTF-8.",
};
