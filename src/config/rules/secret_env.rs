//! Lint rule `secret-env`: `jq.envAllowList` names one of adoport's credentials or a
//! secret-looking variable.

use std::sync::Arc;

use crate::config::diagnostic::{Diagnostic, Rule, Severity};
use crate::config::settings::Settings;
use crate::config::yaml::YamlDoc;
use crate::jq::is_secret_env_name;

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "secret-env",
    severity: Severity::Error,
    docs: "`jq.envAllowList` names a secret: one of adoport's own credentials (`AZURE_DEVOPS_PAT`, `PORT_CLIENT_ID`, `PORT_CLIENT_SECRET`, `ADOPORT_WEBHOOK_SECRET`, `AZURE_CLIENT_SECRET`, `ADOPORT_GIT_TOKEN`) or a name that looks like one (a `PAT`, `TOKEN`, `SECRET`, `PASSWORD` or `CREDENTIALS` word, an `API_KEY` or `PRIVATE_KEY`). A mapping that can read it can copy it into the catalog, where everyone with read access sees it. jq never sees these variables whatever the list says; remove the name from the list.",
};

/// A finding for each secret name in the settings' `jq.envAllowList`, at its list entry.
pub fn check(settings: &Settings, doc: &YamlDoc, file: &Arc<str>) -> Vec<Diagnostic> {
    settings
        .jq
        .env_allow_list
        .iter()
        .enumerate()
        .filter(|(_, name)| is_secret_env_name(name))
        .map(|(i, name)| {
            let span = doc
                .span_at(&format!("/jq/envAllowList/{i}"))
                .or_else(|| doc.key_span_at("/jq/envAllowList"));
            Diagnostic::new(
                &RULE,
                file,
                span,
                format!("`jq.envAllowList` names the secret `{name}`: a mapping could copy it into the catalog"),
            )
            .with_help("remove it from the list; jq is never shown adoport's credentials or secret-looking variables")
        })
        .collect()
}
