//! adoport's own settings file, `adoport.yaml`: what is not mapping, and never a secret.
//!
//! Secrets (PAT, Port client secret, webhook secret) come from the environment only; the
//! schema has no place for them, so a settings file cannot leak one into a repository.

use serde::Deserialize;

/// The settings file's name in a config repository.
pub const SETTINGS_FILE: &str = "adoport.yaml";

/// The datasource id stamped on every write when the settings name none.
pub const DEFAULT_DATASOURCE: &str = "adoport";

/// Parsed `adoport.yaml`. Every field is optional; absent fields take the defaults below.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// The Azure DevOps organization URL, e.g. `https://dev.azure.com/acme`.
    pub organization_url: Option<String>,
    /// Several organizations synced into one catalog (instead of `organizationUrl`).
    #[serde(default)]
    pub organization_urls: Vec<String>,
    /// Project tags whose projects, and every item that belongs to one, are skipped.
    #[serde(default)]
    pub excluded_tags: Vec<String>,
    /// The ownership id stamped on every write; only entities carrying it are ever deleted.
    pub datasource: Option<String>,
    /// Deletion guards that override or tighten the mapping's threshold.
    #[serde(default)]
    pub deletion: Deletion,
    /// jq evaluation settings.
    #[serde(default)]
    pub jq: JqSettings,
    /// Periodic resync for `serve`.
    #[serde(default)]
    pub resync: Resync,
    /// Port API location (credentials come from the environment).
    #[serde(default)]
    pub port: PortSettings,
    /// The default target catalog: `sqlite:PATH` or `port`.
    pub catalog: Option<String>,
    /// The webhook listener for `serve`.
    #[serde(default)]
    pub webhook: Webhook,
}

impl Settings {
    /// The datasource id to stamp writes with.
    pub fn datasource(&self) -> &str {
        self.datasource.as_deref().unwrap_or(DEFAULT_DATASOURCE)
    }

    /// The organization URLs to read: `organizationUrls`, else `organizationUrl` (the schema
    /// refuses both at once).
    pub fn organizations(&self) -> Vec<String> {
        if self.organization_urls.is_empty() {
            self.organization_url.iter().cloned().collect()
        } else {
            self.organization_urls.clone()
        }
    }
}

/// `deletion`: guards against mass deletes.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deletion {
    /// Overrides the mapping's `entityDeletionThreshold` (0..1).
    pub threshold: Option<f64>,
    /// An absolute cap on deletes per run.
    pub max_deletes: Option<u64>,
}

/// `jq`: what expressions may see and how long they may run.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JqSettings {
    /// Environment variables `$ENV`/`env` may expose; none by default.
    #[serde(default)]
    pub env_allow_list: Vec<String>,
    /// Time budget per evaluation, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Size budget per output, in bytes.
    pub max_output_bytes: Option<u64>,
}

/// `resync`: how often `serve` runs a full sync, and incremental passes between.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resync {
    /// A duration such as `30m` or `1h30m` (default `1h`); `serve::resync::parse_duration`
    /// reads it.
    pub interval: Option<String>,
    /// The time between incremental passes (unset: none run), read the same way.
    pub incremental_interval: Option<String>,
}

/// `port`: where Port's API is.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSettings {
    /// An explicit API base URL (wins over `region`).
    pub base_url: Option<String>,
    /// `eu` (default) or `us`.
    pub region: Option<String>,
}

/// `webhook`: the `serve` listener and its ADO subscriptions.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// Address to listen on, e.g. `0.0.0.0:8080` (`serve --listen` wins; default
    /// `0.0.0.0:8080`).
    pub listen: Option<String>,
    /// Largest accepted request body, in bytes (default 1 MiB); larger ones get 413.
    pub max_body_bytes: Option<u64>,
    /// Create the ADO service-hook subscriptions when `serve` starts (as `hooks sync`).
    pub sync_subscriptions: Option<bool>,
    /// The public URL ADO posts events to (this server's `/webhook`), for the subscriptions.
    pub url: Option<String>,
    /// Projects (names or ids) to subscribe one by one; empty: the whole organization.
    #[serde(default)]
    pub projects: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// What the schema accepts, the settings read: every top-level key of the settings
    /// schema, with its example (or default), reads into [`Settings`], and the README
    /// documents it.
    #[test]
    fn every_key_the_settings_schema_accepts_is_read_and_documented() {
        let schema: Value = serde_json::from_str(crate::config::schema::SETTINGS_SCHEMA).unwrap();
        let readme = include_str!("../../README.md");
        let properties = schema["properties"].as_object().unwrap();
        for (key, property) in properties {
            let value = property["examples"]
                .get(0)
                .or_else(|| property.get("default"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            let read = serde_json::from_value::<Settings>(json!({ key: value.clone() }));
            assert!(read.is_ok(), "{key}: {read:?}");
            if !value.is_object() {
                assert_ne!(
                    read.unwrap(),
                    Settings::default(),
                    "{key}: its example changes nothing"
                );
            }
            assert!(readme.contains(key.as_str()), "README.md never names {key}");
        }
        let example = serde_json::from_value::<Settings>(schema["examples"][0].clone());
        assert!(example.is_ok(), "{example:?}");
    }

    #[test]
    fn organization_urls_win_over_organization_url_and_either_lists_the_organizations() {
        let one: Settings =
            serde_json::from_value(json!({"organizationUrl": "https://dev.azure.com/a"})).unwrap();
        assert_eq!(one.organizations(), ["https://dev.azure.com/a"]);
        let many: Settings = serde_json::from_value(
            json!({"organizationUrls": ["https://dev.azure.com/a", "https://dev.azure.com/b"]}),
        )
        .unwrap();
        assert_eq!(many.organizations().len(), 2);
        assert!(Settings::default().organizations().is_empty());
    }
}
