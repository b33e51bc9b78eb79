//! Lint rule `unknown-blueprint-field`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unknown-blueprint-field",
    severity: Severity::Error,
    docs: "A mapped property or relation that the blueprint does not define. Port rejects such entities (or drops the field).",
};
