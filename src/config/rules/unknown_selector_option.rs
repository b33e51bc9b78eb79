//! Lint rule `unknown-selector-option`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unknown-selector-option",
    severity: Severity::Error,
    docs: "A selector option that the resource's kind does not take (each kind's options are in schemas/selectors/KIND.schema.json).",
};
