//! Lint rule `jq-compat`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "jq-compat",
    severity: Severity::Warning,
    docs: "A jq expression uses a feature where adoport's jq engine cannot match jq 1.8 (which Port's integration runs) exactly; the result may differ from Port's.",
};
