//! What changed between two versions of a mapping: resources added, removed and changed,
//! leaf by leaf, with where each change sits in the files.
//!
//! Resources have no name in Port's format, so they are matched by a stable key: the kind,
//! the blueprint expression, and the occurrence of that pair in file order
//! (`work-item "workItem"`, then `work-item "workItem" #2`). Inserting a resource for another
//! kind or blueprint therefore does not make every later resource look changed, as matching by
//! position would. Changing a resource's blueprint shows as one removed and one added, which is
//! what it means for the catalog. Within a matched pair the selector (query and each option)
//! and every mapping leaf are compared as written.
//!
//! [`fingerprint`] gives a resource's content without positions, so watch mode can tell which
//! resources an edit really touched (a line inserted above moves every origin, not content).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use super::lint::literal_string;
use super::model::{Config, Mapping, Origin, Resource};

/// The difference between a base and a head mapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingDiff {
    /// Top-level flags that differ (`entityDeletionThreshold`, …).
    pub flags: Vec<LeafChange>,
    /// Resources added, removed or changed, in head order (removed ones after).
    pub resources: Vec<ResourceChange>,
    /// Blueprint files added, removed or changed, by identifier.
    pub blueprints: Vec<BlueprintChange>,
}

impl MappingDiff {
    /// Whether the two mappings are the same (positions aside).
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty() && self.resources.is_empty() && self.blueprints.is_empty()
    }
}

/// One resource's change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "change")]
pub enum ResourceChange {
    /// Only in head.
    Added {
        /// The matching key.
        key: String,
        /// Where head defines it.
        at: Place,
    },
    /// Only in base.
    Removed {
        /// The matching key.
        key: String,
        /// Where base defined it.
        at: Place,
    },
    /// In both, with different content.
    Changed {
        /// The matching key.
        key: String,
        /// Where head defines it.
        at: Place,
        /// The leaves that differ.
        leaves: Vec<LeafChange>,
    },
}

impl ResourceChange {
    /// The resource's matching key.
    pub fn key(&self) -> &str {
        match self {
            ResourceChange::Added { key, .. }
            | ResourceChange::Removed { key, .. }
            | ResourceChange::Changed { key, .. } => key,
        }
    }
}

/// A file and line, for pointing a reviewer at a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The file as displayed (`REV:mappings/a.yaml` for a git source).
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl From<&Origin> for Place {
    fn from(o: &Origin) -> Self {
        Place {
            file: o.file.to_string(),
            line: o.line,
        }
    }
}

/// One leaf (selector option, mapping field, flag) that differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafChange {
    /// The leaf's path: `selector.query`, `selector.wiql`, `properties.url`, `itemsToParse`.
    pub path: String,
    /// The base value as written; `None` when absent.
    pub before: Option<String>,
    /// The head value as written; `None` when absent.
    pub after: Option<String>,
    /// Where head has it (or base, when head removed it), when known.
    pub at: Option<Place>,
}

/// A blueprint document that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintChange {
    /// The blueprint's identifier.
    pub identifier: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The fields that differ, by path (every field of an added or removed blueprint).
    pub fields: Vec<crate::blueprint::FieldChange>,
}

/// Compares two configs: their mappings and blueprint documents.
pub fn diff(base: &Config, head: &Config) -> MappingDiff {
    let mut out = diff_mappings(&base.mapping, &head.mapping);
    for (id, doc) in &head.blueprints {
        let old = base.blueprints.get(id);
        let fields = crate::blueprint::diff(old, Some(doc));
        let change = match old {
            None => "added",
            Some(_) if !fields.is_empty() => "changed",
            Some(_) => continue,
        };
        out.blueprints.push(BlueprintChange {
            identifier: id.clone(),
            change,
            fields,
        });
    }
    for (id, doc) in &base.blueprints {
        if !head.blueprints.contains_key(id) {
            out.blueprints.push(BlueprintChange {
                identifier: id.clone(),
                change: "removed",
                fields: crate::blueprint::diff(Some(doc), None),
            });
        }
    }
    out
}

/// Compares two mappings: flags, then resources matched by [`resource_keys`].
pub fn diff_mappings(base: &Mapping, head: &Mapping) -> MappingDiff {
    let mut out = MappingDiff::default();
    let flags = |m: &Mapping| -> Vec<(&'static str, Option<String>)> {
        vec![
            (
                "deleteDependentEntities",
                Some(m.delete_dependent_entities.to_string()),
            ),
            (
                "createMissingRelatedEntities",
                Some(m.create_missing_related_entities.to_string()),
            ),
            ("enableMergeEntity", Some(m.enable_merge_entity.to_string())),
            (
                "entityDeletionThreshold",
                Some(m.entity_deletion_threshold.to_string()),
            ),
            ("specPath", m.spec_path.clone()),
            (
                "useDefaultBranch",
                m.use_default_branch.map(|b| b.to_string()),
            ),
            ("branch", m.branch.clone()),
        ]
    };
    for ((name, before), (_, after)) in flags(base).into_iter().zip(flags(head)) {
        if before != after {
            out.flags.push(LeafChange {
                path: name.to_string(),
                before,
                after,
                at: None,
            });
        }
    }

    let base_keyed: BTreeMap<String, &Resource> = resource_keys(&base.resources)
        .into_iter()
        .zip(&base.resources)
        .collect();
    let head_keys = resource_keys(&head.resources);
    for (key, resource) in head_keys.iter().zip(&head.resources) {
        let at = Place::from(&resource.origin);
        match base_keyed.get(key) {
            None => out.resources.push(ResourceChange::Added {
                key: key.clone(),
                at,
            }),
            Some(old) => {
                let leaves = diff_resource(old, resource);
                if !leaves.is_empty() {
                    out.resources.push(ResourceChange::Changed {
                        key: key.clone(),
                        at,
                        leaves,
                    });
                }
            }
        }
    }
    for (key, resource) in &base_keyed {
        if !head_keys.contains(key) {
            out.resources.push(ResourceChange::Removed {
                key: key.clone(),
                at: Place::from(&resource.origin),
            });
        }
    }
    out
}

/// Each resource's stable key: `kind (blueprint)`, with `#n` from the second occurrence on.
pub fn resource_keys(resources: &[Resource]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    resources
        .iter()
        .map(|r| {
            let expr = &r.port.mappings.blueprint.expr;
            let blueprint = literal_string(expr).unwrap_or_else(|| expr.trim().to_string());
            let base = format!("{} ({blueprint})", r.kind);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base} #{n}")
            }
        })
        .collect()
}

/// Every comparable leaf of a resource: (path, value as written, where).
fn leaves(r: &Resource) -> BTreeMap<String, (String, Option<Place>)> {
    let mut out = BTreeMap::new();
    out.insert(
        "selector.query".to_string(),
        (
            r.selector.query.expr.clone(),
            Some(Place::from(&r.selector.query.origin)),
        ),
    );
    for (k, v) in &r.selector.options {
        out.insert(format!("selector.{k}"), (written(v), None));
    }
    if let Some(jq) = &r.port.items_to_parse {
        out.insert(
            "itemsToParse".to_string(),
            (jq.expr.clone(), Some(Place::from(&jq.origin))),
        );
        out.insert(
            "itemsToParseName".to_string(),
            (r.port.items_to_parse_name.clone(), None),
        );
    }
    for (path, jq) in r.port.mappings.leaves() {
        out.insert(path, (jq.expr.clone(), Some(Place::from(&jq.origin))));
    }
    out
}

fn written(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The leaves of two matched resources that differ, in path order.
fn diff_resource(base: &Resource, head: &Resource) -> Vec<LeafChange> {
    let old = leaves(base);
    let new = leaves(head);
    let mut out = Vec::new();
    for (path, (after, at)) in &new {
        match old.get(path) {
            Some((before, _)) if before == after => {}
            before => out.push(LeafChange {
                path: path.clone(),
                before: before.map(|(b, _)| b.clone()),
                after: Some(after.clone()),
                at: at.clone().or_else(|| Some(Place::from(&head.origin))),
            }),
        }
    }
    for (path, (before, at)) in &old {
        if !new.contains_key(path) {
            out.push(LeafChange {
                path: path.clone(),
                before: Some(before.clone()),
                after: None,
                at: at.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A resource's content as a string, positions left out: equal fingerprints map items to
/// equal entities (given the same items and settings).
pub fn fingerprint(r: &Resource) -> String {
    let mut s = format!("{}\n", r.kind);
    for (path, (value, _)) in leaves(r) {
        let _ = writeln!(s, "{path}\t{value:?}");
    }
    let _ = writeln!(
        s,
        "itemsToParseTopLevelTransform\t{}",
        r.port.items_to_parse_top_level_transform
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFiles, build_config};

    fn config(name: &str, yaml: &str) -> Config {
        let loaded = build_config(ConfigFiles {
            mappings: vec![(name.to_string(), yaml.as_bytes().to_vec())],
            ..ConfigFiles::default()
        });
        loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
    }

    const BASE: &str = r#"resources:
  - kind: project
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"project"'
          properties:
            url: .url
  - kind: repository
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"service"'
"#;

    #[test]
    fn an_identical_mapping_moved_down_a_line_has_no_changes() {
        let base = config("a.yaml", BASE);
        let head = config("a.yaml", &format!("# comment\n{BASE}"));
        assert!(diff(&base, &head).is_empty());
        assert_eq!(
            fingerprint(&base.mapping.resources[0]),
            fingerprint(&head.mapping.resources[0])
        );
    }

    #[test]
    fn a_changed_leaf_is_reported_with_both_values_and_heads_line() {
        let base = config("a.yaml", BASE);
        let head = config("a.yaml", &BASE.replace("url: .url", "url: .webUrl"));
        let d = diff(&base, &head);
        assert_eq!(d.resources.len(), 1);
        let ResourceChange::Changed { key, leaves, .. } = &d.resources[0] else {
            panic!("{d:?}")
        };
        assert_eq!(key, "project (project)");
        assert_eq!(leaves.len(), 1);
        assert_eq!(leaves[0].path, "properties.url");
        assert_eq!(leaves[0].before.as_deref(), Some(".url"));
        assert_eq!(leaves[0].after.as_deref(), Some(".webUrl"));
        assert_eq!(leaves[0].at.as_ref().unwrap().to_string(), "a.yaml:11");
    }

    #[test]
    fn inserting_a_resource_does_not_shift_the_others() {
        let base = config("a.yaml", BASE);
        let inserted = BASE.replacen(
            "resources:\n",
            "resources:\n  - kind: team\n    selector:\n      query: \"true\"\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"team\"'\n",
            1,
        );
        let head = config("a.yaml", &inserted);
        let d = diff(&base, &head);
        assert_eq!(d.resources.len(), 1, "{d:?}");
        assert!(
            matches!(&d.resources[0], ResourceChange::Added { key, at } if key == "team (team)" && at.line == 2)
        );
    }

    #[test]
    fn a_removed_resource_and_a_removed_property_are_reported() {
        let base = config("a.yaml", BASE);
        let head_text = BASE
            .split("  - kind: repository")
            .next()
            .unwrap()
            .replace("          properties:\n            url: .url\n", "");
        let head = config("a.yaml", &head_text);
        let d = diff(&base, &head);
        let kinds: Vec<(&str, &str)> = d
            .resources
            .iter()
            .map(|c| match c {
                ResourceChange::Added { key, .. } => ("added", key.as_str()),
                ResourceChange::Removed { key, .. } => ("removed", key.as_str()),
                ResourceChange::Changed { key, .. } => ("changed", key.as_str()),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("changed", "project (project)"),
                ("removed", "repository (service)")
            ]
        );
        let ResourceChange::Changed { leaves, .. } = &d.resources[0] else {
            unreachable!()
        };
        assert_eq!(leaves[0].after, None);
    }

    #[test]
    fn a_second_resource_of_the_same_kind_and_blueprint_gets_its_own_key() {
        let base = config("a.yaml", BASE);
        let mut resources = base.mapping.resources.clone();
        resources.push(resources[0].clone());
        assert_eq!(
            resource_keys(&resources),
            [
                "project (project)",
                "repository (service)",
                "project (project) #2"
            ]
        );
    }

    #[test]
    fn a_changed_flag_is_reported() {
        let base = config("a.yaml", BASE);
        let head = config("a.yaml", &format!("entityDeletionThreshold: 0.5\n{BASE}"));
        let d = diff(&base, &head);
        assert_eq!(d.flags.len(), 1);
        assert_eq!(d.flags[0].path, "entityDeletionThreshold");
        assert!(d.resources.is_empty());
    }
}
