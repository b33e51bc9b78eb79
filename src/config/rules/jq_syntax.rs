//! Lint rule `jq-syntax`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "jq-syntax",
    severity: Severity::Error,
    docs: "A jq expression does not compile. Port's integration would turn every value of that field into null and log a warning per item.",
};
