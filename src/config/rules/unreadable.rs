//! Lint rule `unreadable`.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "unreadable",
    severity: Severity::Error,
    docs: "The config cannot be read at all: the path or git revision does not exist, holds no mapping, or a file was refused before reading because it is a link leading outside the repository, not a regular file (a FIFO, socket or device), or larger than 16 MiB. Nothing else can be checked until it is fixed; `adoport lint` exits 2.",
};
