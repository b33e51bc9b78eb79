//! Lint rule `schema`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "schema",
    severity: Severity::Error,
    docs: "A value has the wrong type or shape for Port's mapping format, or a required key is missing (checked against schemas/mapping.schema.json).",
};
