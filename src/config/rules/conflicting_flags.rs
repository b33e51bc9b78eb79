//! Lint rule `conflicting-flags`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "conflicting-flags",
    severity: Severity::Error,
    docs: "Mapping files split across several files disagree on a top-level flag (such as `deleteDependentEntities`); the flags apply to the whole mapping, so they must agree.",
};
