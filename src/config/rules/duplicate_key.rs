//! Lint rule `duplicate-key`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "duplicate-key",
    severity: Severity::Error,
    docs: "A mapping repeats a key. YAML 1.2 forbids it; PyYAML, which Port's integration uses, silently keeps the last one, so one of the two values is lost without a word.",
};
