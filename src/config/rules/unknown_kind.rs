//! Lint rule `unknown-kind`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unknown-kind",
    severity: Severity::Error,
    docs: "A resource's `kind` is not one of the Azure DevOps kinds adoport (and Port's integration) can fetch.",
};
