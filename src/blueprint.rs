//! The blueprint: Port's blueprint JSON as a config repository declares it (`blueprints/*.json`)
//! and a catalog holds it, compared and written field by field. It sits on the ground floor
//! beside [`crate::entity`]: the config's review diff, the reconciler and both catalogs use
//! it, and it uses none of them.
//!
//! A blueprint is compared as a set of **fields**, each a path into the document:
//!
//! - every top-level key (`title`, `icon`, `description`, `ownership`, `teamInheritance`, …)
//!   except the identifier and what Port sets itself ([`SERVER_FIELDS`]);
//! - `schema.required`, and any other key of `schema`;
//! - one field per entry of the keyed sections ([`KEYED_SECTIONS`]): each property
//!   (`schema.properties.url`), relation (`relations.project`), mirror, calculation and
//!   aggregation property. An entry is compared and written whole.
//!
//! Applying a declared blueprint over the catalog's ([`merge`]) sets every field the config
//! declares and leaves alone every top-level key it does not mention (Port's own additions,
//! a `changelogDestination` set in Port's UI). An entry of a keyed section that the config
//! declares but whose entry it lacks (a property removed from the JSON) is *kept* unless
//! pruning is asked for: removing a property drops its values from every entity.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields Port sets on every blueprint it returns: never compared, never sent.
pub const SERVER_FIELDS: [&str; 4] = ["createdAt", "updatedAt", "createdBy", "updatedBy"];

/// Sections compared and written entry by entry, as paths into the document.
pub const KEYED_SECTIONS: [&[&str]; 5] = [
    &["schema", "properties"],
    &["relations"],
    &["mirrorProperties"],
    &["calculationProperties"],
    &["aggregationProperties"],
];

/// Sections that name other blueprints (directly, or through relations): a blueprint created
/// before its relation targets exist is created without them ([`bare`]), then completed.
const REFERRING_SECTIONS: [&str; 6] = [
    "relations",
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
    "teamInheritance",
    "ownership",
];

/// The identifier of a blueprint document.
pub fn identifier(doc: &Value) -> Option<&str> {
    doc.get("identifier").and_then(Value::as_str)
}

/// One field that differs between two versions of a blueprint. `null` stands for absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field's path, dot-separated: `title`, `schema.properties.url`, `relations.project`.
    pub field: String,
    /// The value before (the catalog's, or the base revision's).
    pub before: Value,
    /// The value after (what is written, or the head revision's).
    pub after: Value,
}

/// A field's path: segments into the document.
type Path = Vec<String>;

/// The document's fields, by path (see the module docs).
fn fields(doc: &Value) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    let Some(top) = doc.as_object() else {
        return out;
    };
    for (key, value) in top {
        if key == "identifier" || SERVER_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let path = vec![key.clone()];
        if key == "schema"
            && let Some(schema) = value.as_object()
        {
            for (sub, v) in schema {
                add(&mut out, vec![key.clone(), sub.clone()], v);
            }
            continue;
        }
        add(&mut out, path, value);
    }
    out
}

/// Adds one field, or one per entry when `path` is a keyed section holding an object.
fn add(out: &mut BTreeMap<Path, Value>, path: Path, value: &Value) {
    if is_keyed(&path)
        && let Some(entries) = value.as_object()
    {
        for (name, v) in entries {
            let mut p = path.clone();
            p.push(name.clone());
            out.insert(p, v.clone());
        }
        return;
    }
    out.insert(path, value.clone());
}

fn is_keyed(path: &[String]) -> bool {
    KEYED_SECTIONS
        .iter()
        .any(|s| s.len() == path.len() && s.iter().zip(path).all(|(a, b)| a == b))
}

/// The keyed sections a document holds (even empty): the config manages those entries.
fn keyed_present(doc: &Value) -> Vec<Path> {
    KEYED_SECTIONS
        .iter()
        .filter(|s| {
            s.iter()
                .try_fold(doc, |v, k| v.get(*k))
                .is_some_and(Value::is_object)
        })
        .map(|s| s.iter().map(|k| (*k).to_owned()).collect())
        .collect()
}

/// The differences between two field maps, ordered by path.
fn diff_fields(before: &BTreeMap<Path, Value>, after: &BTreeMap<Path, Value>) -> Vec<FieldChange> {
    let paths: BTreeSet<&Path> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let b = before.get(p).unwrap_or(&Value::Null);
            let a = after.get(p).unwrap_or(&Value::Null);
            (!same(b, a)).then(|| FieldChange {
                field: p.join("."),
                before: b.clone(),
                after: a.clone(),
            })
        })
        .collect()
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Field by field, what differs between two documents (a blueprint file at two revisions):
/// `None` on one side is a blueprint added or removed.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = BTreeMap::new();
    let b = before.map(fields);
    let a = after.map(fields);
    diff_fields(b.as_ref().unwrap_or(&empty), a.as_ref().unwrap_or(&empty))
}

/// What applying a declared blueprint over the catalog's does.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The whole document to write (Port replaces a blueprint whole): the catalog's, with
    /// the declared fields set and Port's own fields left out.
    pub document: Value,
    /// The fields that change; empty when the catalog is already as declared.
    pub changes: Vec<FieldChange>,
    /// Entries of declared sections that the config lacks and the catalog holds, kept
    /// because pruning is off (`schema.properties.legacy`).
    pub kept: Vec<String>,
}

/// Applies `declared` over `actual` (see the module docs); with `prune`, entries of the
/// keyed sections `declared` holds are removed when it lacks them.
pub fn merge(actual: &Value, declared: &Value, prune: bool) -> Merged {
    let have = fields(actual);
    let want = fields(declared);
    let managed = keyed_present(declared);
    let mut merged = have.clone();
    let mut kept = Vec::new();
    for path in have.keys() {
        if want.contains_key(path) {
            continue;
        }
        let in_managed = managed
            .iter()
            .any(|s| path.len() == s.len() + 1 && path.starts_with(s));
        if in_managed {
            if prune {
                merged.remove(path);
            } else {
                kept.push(path.join("."));
            }
        }
    }
    for (path, v) in &want {
        merged.insert(path.clone(), v.clone());
    }
    let changes = diff_fields(&have, &merged);
    let mut sections = keyed_present(actual);
    sections.extend(managed);
    let document = build(
        identifier(declared).or_else(|| identifier(actual)),
        &merged,
        &sections,
    );
    Merged {
        document,
        changes,
        kept,
    }
}

/// A document from its fields; keyed sections in `sections` exist even when empty.
fn build(id: Option<&str>, fields: &BTreeMap<Path, Value>, sections: &[Path]) -> Value {
    let mut doc = Map::new();
    if let Some(id) = id {
        doc.insert("identifier".into(), Value::String(id.to_owned()));
    }
    for section in sections {
        section.iter().fold(&mut doc, |at, key| child(at, key));
    }
    for (path, value) in fields {
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let at = parents.iter().fold(&mut doc, |at, key| child(at, key));
        at.insert(last.clone(), value.clone());
    }
    Value::Object(doc)
}

/// The object under `key`, made (replacing any other value) when there is none.
fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(next) => next,
        // Made an object just above.
        _ => unreachable!("the slot holds an object"),
    }
}

/// The document without Port's own fields, as a catalog should store or send it.
pub fn without_server_fields(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        for key in SERVER_FIELDS {
            map.remove(key);
        }
    }
    doc
}

/// The document without what names other blueprints (relations, and what builds on them):
/// how a blueprint is first created when its relation targets do not exist yet.
pub fn bare(doc: &Value) -> Value {
    let mut doc = without_server_fields(doc);
    if let Some(map) = doc.as_object_mut() {
        for key in REFERRING_SECTIONS {
            map.remove(key);
        }
    }
    doc
}

/// Whether the document names other blueprints (see [`bare`]).
pub fn refers_to_others(doc: &Value) -> bool {
    REFERRING_SECTIONS.iter().any(|k| {
        doc.get(*k)
            .is_some_and(|v| !(v.is_null() || v.as_object().is_some_and(Map::is_empty)))
    })
}

/// The blueprints this one needs to exist first: its relations' targets and its aggregation
/// properties' targets, itself excluded.
pub fn depends_on(doc: &Value) -> BTreeSet<String> {
    let own = identifier(doc);
    let mut out = BTreeSet::new();
    for section in ["relations", "aggregationProperties"] {
        let Some(entries) = doc.get(section).and_then(Value::as_object) else {
            continue;
        };
        for entry in entries.values() {
            if let Some(target) = entry.get("target").and_then(Value::as_str)
                && Some(target) != own
            {
                out.insert(target.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repo() -> Value {
        json!({
            "identifier": "repo",
            "title": "Repository",
            "schema": {
                "properties": {
                    "url": {"type": "string", "format": "url"},
                    "size": {"type": "number"}
                },
                "required": []
            },
            "relations": {"project": {"target": "project", "many": false, "required": false}}
        })
    }

    #[test]
    fn a_catalog_copy_with_ports_own_fields_is_unchanged() {
        let mut have = repo();
        have["createdAt"] = json!("2024-01-01T00:00:00.000Z");
        have["updatedBy"] = json!("someone");
        have["changelogDestination"] = json!({"type": "WEBHOOK"});
        let m = merge(&have, &repo(), false);
        assert!(m.changes.is_empty(), "{:?}", m.changes);
        assert!(m.document.get("createdAt").is_none());
        assert_eq!(
            m.document["changelogDestination"],
            json!({"type": "WEBHOOK"})
        );
    }

    #[test]
    fn a_changed_property_is_one_field_change() {
        let mut want = repo();
        want["schema"]["properties"]["size"] = json!({"type": "string"});
        want["title"] = json!("Repo");
        let m = merge(&repo(), &want, false);
        let fields: Vec<&str> = m.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["schema.properties.size", "title"]);
        assert_eq!(m.changes[0].before, json!({"type": "number"}));
        assert_eq!(
            m.document["schema"]["properties"]["size"],
            json!({"type": "string"})
        );
        assert_eq!(m.document["schema"]["properties"]["url"]["format"], "url");
    }

    #[test]
    fn a_removed_property_is_kept_unless_pruning() {
        let mut want = repo();
        want["schema"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("size");
        let kept = merge(&repo(), &want, false);
        assert!(kept.changes.is_empty());
        assert_eq!(kept.kept, ["schema.properties.size"]);
        assert!(kept.document["schema"]["properties"].get("size").is_some());
        let pruned = merge(&repo(), &want, true);
        assert_eq!(pruned.changes[0].field, "schema.properties.size");
        assert_eq!(pruned.changes[0].after, Value::Null);
        assert!(
            pruned.document["schema"]["properties"]
                .get("size")
                .is_none()
        );
    }

    #[test]
    fn a_section_the_config_leaves_out_is_not_managed_even_when_pruning() {
        let mut want = repo();
        want.as_object_mut().unwrap().remove("relations");
        let m = merge(&repo(), &want, true);
        assert!(m.changes.is_empty() && m.kept.is_empty());
        assert_eq!(m.document["relations"], repo()["relations"]);
    }

    #[test]
    fn numbers_compare_by_value() {
        let mut want = repo();
        want["schema"]["properties"]["size"] = json!({"type": "number", "minimum": 1});
        let mut have = repo();
        have["schema"]["properties"]["size"] = json!({"type": "number", "minimum": 1.0});
        assert!(merge(&have, &want, false).changes.is_empty());
    }

    #[test]
    fn a_bare_blueprint_names_no_other_blueprint() {
        let b = bare(&repo());
        assert!(b.get("relations").is_none());
        assert!(!refers_to_others(&b) && refers_to_others(&repo()));
        assert_eq!(depends_on(&repo()), ["project".to_owned()].into());
        let selfish = json!({"identifier": "a", "relations": {"parent": {"target": "a"}}});
        assert!(depends_on(&selfish).is_empty());
    }

    #[test]
    fn a_diff_between_revisions_lists_added_and_removed_fields() {
        let mut head = repo();
        head["icon"] = json!("Git");
        let d = diff(Some(&repo()), Some(&head));
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].field.as_str(), &d[0].after), ("icon", &json!("Git")));
        assert_eq!(diff(None, Some(&repo())).len(), 5);
    }
}
