//! The environment variables jq must never see: the tool's own credentials, and any name
//! that looks like a secret. `Engine::new` drops them from the allow-list, and lint makes
//! naming one in `jq.envAllowList` an error (rule `secret-env`), so a mapping cannot copy a
//! token into the catalog even when the settings ask for it.

/// The credentials adoport itself reads from the environment, never exposed to jq.
pub const SECRET_ENV_NAMES: &[&str] = &[
    "AZURE_DEVOPS_PAT",
    "PORT_CLIENT_ID",
    "PORT_CLIENT_SECRET",
    "ADOPORT_WEBHOOK_SECRET",
    "AZURE_CLIENT_SECRET",
    "ADOPORT_GIT_TOKEN",
];

/// Words (between `_`) that mark a name as a secret wherever they appear: `GITHUB_TOKEN`,
/// `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `NPM_CREDENTIALS`, `ADO_PAT`.
const SECRET_WORDS: &[&str] = &[
    "PAT",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PWD",
    "CREDENTIAL",
    "CREDENTIALS",
    "PASSPHRASE",
];

/// Words that mark a secret when a `KEY` follows them: `API_KEY`, `PRIVATE_KEY`.
const KEY_QUALIFIERS: &[&str] = &["API", "PRIVATE", "ACCESS", "SIGNING", "CLIENT", "MASTER"];

/// Parts of a word that mark a secret even inside a longer word: `DBPASSWORD`,
/// `GITTOKEN`, `CLIENTSECRET`.
const SECRET_PARTS: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "CREDENTIAL"];

/// Whether `name` is one of adoport's credentials or looks like a secret, case aside:
/// a `_`-separated word is `PAT`, `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `PWD`,
/// `CREDENTIAL(S)` or `PASSPHRASE`; a word contains `PASSWORD`, `SECRET`, `TOKEN` or
/// `CREDENTIAL`; or `KEY` follows `API`, `PRIVATE`, `ACCESS`, `SIGNING`, `CLIENT` or `MASTER`
/// (`*_API_KEY`, `*_PRIVATE_KEY`, …). `PATH`, `PATTERN` or `SORT_KEY` are not secrets.
pub fn is_secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if SECRET_ENV_NAMES.contains(&upper.as_str()) {
        return true;
    }
    let words: Vec<&str> = upper.split(['_', '-', '.']).collect();
    words.iter().any(|w| SECRET_WORDS.contains(w))
        || words
            .iter()
            .any(|w| SECRET_PARTS.iter().any(|p| w.contains(p)))
        || words
            .windows(2)
            .any(|p| p[1] == "KEY" && KEY_QUALIFIERS.contains(&p[0]))
        || words.iter().any(|w| w.ends_with("APIKEY"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_own_credentials_and_secret_looking_names_are_secret() {
        for name in SECRET_ENV_NAMES.iter().copied().chain([
            "azure_devops_pat",
            "ADO_PAT",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "MYSQL_PWD",
            "AWS_SECRET_ACCESS_KEY",
            "STRIPE_API_KEY",
            "OPENAIAPIKEY",
            "SSH_PRIVATE_KEY",
            "NPM_CREDENTIALS",
            "GITTOKEN",
            "CLIENTSECRET",
        ]) {
            assert!(is_secret_env_name(name), "{name}");
        }
    }

    #[test]
    fn ordinary_names_are_not_secret() {
        for name in [
            "TEAM",
            "PATH",
            "PATTERN",
            "SORT_KEY",
            "ENVIRONMENT",
            "CLUSTER_NAME",
            "PORT_BASE_URL",
            "KEYBOARD",
        ] {
            assert!(!is_secret_env_name(name), "{name}");
        }
    }
}
