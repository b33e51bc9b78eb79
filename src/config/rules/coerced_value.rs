//! Lint rule `coerced-value`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "coerced-value",
    severity: Severity::Warning,
    docs: "A mapping value that is not a string. Port coerces it to text and evaluates that text as jq, which is rarely what was meant; quote it.",
};
