//! Lint rule `deprecated-key`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "deprecated-key",
    severity: Severity::Warning,
    docs: "A key that Port's integration accepts but ignores (marked `deprecated` in the schema). It does nothing; remove it.",
};
