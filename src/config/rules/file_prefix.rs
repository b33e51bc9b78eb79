//! Lint rule `file-prefix`: a mapping value written as Port's deprecated `file://PATH`.

use crate::config::diagnostic::{Diagnostic, Rule, Severity};
use crate::config::model::{Jq, Resource};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "file-prefix",
    severity: Severity::Warning,
    docs: "A mapping value written as `file://PATH` is not jq: Port's Azure DevOps integration reads it as the text of the file PATH in the item's repository (a repository item's own, else its `__repository`), on its default branch (or the folder's `__branch`), and has deprecated it in favour of the `includedFiles` selector option. adoport reads it the same way: the file is fetched with the items (and recorded in snapshots), and the value is its text, or null when the file is missing or empty. Prefer `includedFiles: [PATH]` in the selector and `.__includedFiles[\"PATH\"]` in the mapping (which gives \"\" for a missing file).",
};

/// The finding for one `file://` leaf of `resource`, at `field` (`properties.readme`).
pub fn finding(
    resource: &Resource,
    field: &str,
    jq: &Jq,
    span: Option<crate::config::source::Span>,
) -> Option<Diagnostic> {
    let path = jq.file_path()?;
    let quoted = serde_json::Value::String(path.to_owned()).to_string();
    let takes_included = crate::ado::kinds::find(&resource.kind)
        .is_some_and(|kind| kind.options.contains(&"includedFiles"));
    let help = if takes_included {
        format!(
            "add `includedFiles: [{quoted}]` to the selector and map `.__includedFiles[{quoted}]`"
        )
    } else {
        format!(
            "kind `{}` has no `includedFiles` option; the value keeps working, or map a `repository` resource with `includedFiles: [{quoted}]` and `.__includedFiles[{quoted}]`",
            resource.kind
        )
    };
    Some(
        Diagnostic::new(
            &RULE,
            &jq.origin.file,
            span,
            format!(
                "`{field}`: `{}` is deprecated in Port's integration: the value is the text of `{path}` in the item's repository",
                jq.expr
            ),
        )
        .with_help(help),
    )
}
