//! Lint rule `unfetched-kind`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unfetched-kind",
    severity: Severity::Warning,
    docs: "A resource's `kind` is one Port's integration syncs, but this version of adoport does not fetch it yet. The resource is accepted (its selector is still checked) and plans nothing: its listing is incomplete, so nothing of its blueprints is ever deleted. The warning says so, because a mapping that passes lint and is then ignored would make you believe it works.",
};
