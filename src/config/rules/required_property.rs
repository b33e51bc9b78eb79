//! Lint rule `required-property`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "required-property",
    severity: Severity::Warning,
    docs: "A property the blueprint requires that no mapping of that blueprint sets; Port will refuse to create such entities.",
};
