//! Lint rule `unknown-key`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unknown-key",
    severity: Severity::Error,
    docs: "A key that Port's mapping format does not define. Port's integration drops unknown keys silently, so a misspelled `itemToParse` simply does nothing; here it is an error, with the closest known key as a hint.",
};
