//! Lint rule `not-a-mapping`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "not-a-mapping",
    severity: Severity::Error,
    docs: "The top level of a mapping file must be a mapping with a `resources` key, not a list or a scalar.",
};
