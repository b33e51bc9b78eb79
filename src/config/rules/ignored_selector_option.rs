//! Lint rule `ignored-selector-option`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "ignored-selector-option",
    severity: Severity::Warning,
    docs: "A selector option that Port's integration accepts for the resource's kind but never reads (such as `includeRelease` on `release-deployment`, which one of Port's example mappings sets). It is accepted so Port's mappings load, and it does nothing: the warning says why, so the mapping does not promise what it cannot do. The list is per kind in adoport's registry of kinds (`ignored_options`), plus the options every selector accepts and adoport does not read (`COMMON_IGNORED_OPTIONS`: Port's `exportEnvVariables`, which only feeds Port's lakehouse).",
};
