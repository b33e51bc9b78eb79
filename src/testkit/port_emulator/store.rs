//! The emulator's catalog: blueprints (from Port's blueprint JSON) and the entities written
//! against them, with the checks Port makes on every write.
//!
//! It owns validation (identifier pattern, known keys, property types and enums through
//! `blueprint`, known relations, relation targets), Port's write semantics (create only, override, merge), the
//! `$datasource` stamp of every write, dependents on delete, and the cursor-paged listing by
//! datasource prefix and suffix. HTTP, tokens and faults are the server's (`mod.rs`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

pub(super) use super::blueprint::Blueprint;

/// A refusal of one entity (or of a whole call): status, Port's `error` code, a message.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) error: &'static str,
    pub(super) message: String,
}

fn refuse(status: u16, error: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error,
        message: message.into(),
    }
}

/// An entity as stored: Port's JSON shape, plus who wrote it last.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub(super) entity: Map<String, Value>,
    pub(super) datasource: String,
    /// When it was last written (for latency measurements).
    pub(super) written: std::time::Instant,
}

/// The flags of a write (query parameters).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct WriteFlags {
    pub(super) upsert: bool,
    pub(super) merge: bool,
    pub(super) create_missing_related_entities: bool,
}

/// Blueprints and entities.
#[derive(Default)]
pub(super) struct Store {
    /// Each blueprint as parsed for checking entities.
    pub(super) blueprints: BTreeMap<String, Blueprint>,
    /// Each blueprint's document, as the blueprint API hands it back.
    pub(super) docs: BTreeMap<String, Value>,
    pub(super) entities: BTreeMap<(String, String), Stored>,
    /// Every entity written, in order, while kept (`PortEmulator::keep_writes`).
    pub(super) log: Option<Vec<super::Written>>,
}

const ENTITY_KEYS: [&str; 7] = [
    "identifier",
    "blueprint",
    "title",
    "icon",
    "team",
    "properties",
    "relations",
];

/// Port's entity identifier pattern: `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$`, at most 1000.
fn is_valid_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 1000
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/=-".contains(c))
}

pub(super) fn now_iso() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Store {
    /// Loads a blueprint document, replacing one of the same identifier (as an
    /// organization set up beforehand holds it).
    pub(super) fn add_blueprint(&mut self, doc: &Value) -> Result<(), String> {
        let (id, blueprint) = Blueprint::parse(doc)?;
        let mut stored = doc.clone();
        if let Some(map) = stored.as_object_mut() {
            let now = json!(now_iso());
            map.insert("createdAt".into(), now.clone());
            map.insert("updatedAt".into(), now);
            map.insert("createdBy".into(), json!("setup"));
            map.insert("updatedBy".into(), json!("setup"));
        }
        self.docs.insert(id.clone(), stored);
        self.blueprints.insert(id, blueprint);
        Ok(())
    }

    /// The entity with a search-query identifier replaced by the one entity of `blueprint`
    /// it matches (`crate::search`); any other entity as it is. No match is a 404, several a
    /// 422, as Port refuses them.
    pub(super) fn resolve_search(&self, blueprint: &str, raw: &Value) -> Result<Value, Refusal> {
        let Some(query) = raw.get("identifier").filter(|q| crate::search::is_query(q)) else {
            return Ok(raw.clone());
        };
        let mut found = Vec::new();
        for ((bp, id), stored) in &self.entities {
            if bp != blueprint {
                continue;
            }
            let Ok(entity) = serde_json::from_value::<crate::entity::Entity>(Value::Object(
                stored.entity.clone(),
            )) else {
                continue;
            };
            match crate::search::matches(query, &entity) {
                Ok(true) => found.push(id.clone()),
                Ok(false) => {}
                Err(why) => return Err(refuse(422, "invalid_request", why)),
            }
        }
        match found.as_slice() {
            [one] => {
                let mut resolved = raw.clone();
                resolved["identifier"] = json!(one);
                Ok(resolved)
            }
            [] => Err(refuse(
                404,
                "not_found",
                format!("no entity of blueprint {blueprint:?} matches the search identifier"),
            )),
            many => Err(refuse(
                422,
                "invalid_request",
                format!(
                    "the search identifier matches {} entities of blueprint {blueprint:?}",
                    many.len()
                ),
            )),
        }
    }

    /// Writes one entity of `blueprint` as Port's upsert routes do. `Ok(true)` when created.
    pub(super) fn write(
        &mut self,
        blueprint: &str,
        raw: &Value,
        flags: WriteFlags,
        datasource: &str,
    ) -> Result<(String, bool), Refusal> {
        let spec = self
            .blueprints
            .get(blueprint)
            .ok_or_else(|| {
                refuse(
                    404,
                    "not_found",
                    format!("blueprint {blueprint:?} not found"),
                )
            })?
            .clone();
        let body = raw
            .as_object()
            .ok_or_else(|| refuse(422, "invalid_request", "an entity must be an object"))?;
        if let Some(key) = body.keys().find(|k| !ENTITY_KEYS.contains(&k.as_str())) {
            return Err(refuse(
                422,
                "invalid_request",
                format!("unknown entity field {key:?}"),
            ));
        }
        let id = match body.get("identifier") {
            Some(Value::String(id)) if is_valid_identifier(id) => id.clone(),
            Some(other) => {
                return Err(refuse(
                    422,
                    "invalid_request",
                    format!("identifier {other} does not match Port's identifier pattern"),
                ));
            }
            None => return Err(refuse(422, "invalid_request", "identifier is required")),
        };
        if let Some(bp) = body.get("blueprint")
            && bp.as_str() != Some(blueprint)
        {
            return Err(refuse(
                422,
                "invalid_request",
                format!("entity blueprint {bp} differs from the route's {blueprint:?}"),
            ));
        }
        for key in ["title", "icon"] {
            if let Some(v) = body.get(key)
                && !(v.is_string() || v.is_null())
            {
                return Err(refuse(
                    422,
                    "invalid_request",
                    format!("{key} must be a string or null"),
                ));
            }
        }
        if let Some(team) = body.get("team") {
            let ok = match team {
                Value::Null | Value::String(_) | Value::Object(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            };
            if !ok {
                return Err(refuse(
                    422,
                    "invalid_request",
                    "team must be a string, a list of strings, a search query or null",
                ));
            }
        }
        let empty = Map::new();
        let properties = match body.get("properties") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(refuse(
                    422,
                    "invalid_request",
                    "properties must be an object",
                ));
            }
        };
        for (name, value) in properties {
            let Some(prop) = spec.properties.get(name) else {
                return Err(refuse(
                    422,
                    "unknown_property",
                    format!("property {name:?} is not defined in blueprint {blueprint:?}"),
                ));
            };
            if let Some(why) = prop.check(value) {
                return Err(refuse(
                    422,
                    "invalid_property_type",
                    format!("property {name:?}: {why}"),
                ));
            }
        }
        let relations = match body.get("relations") {
            None => &empty,
            Some(Value::Object(r)) => r,
            Some(_) => {
                return Err(refuse(
                    422,
                    "invalid_request",
                    "relations must be an object",
                ));
            }
        };
        let mut missing_targets = Vec::new();
        for (name, value) in relations {
            let Some(rel) = spec.relations.get(name) else {
                return Err(refuse(
                    422,
                    "unknown_relation",
                    format!("relation {name:?} is not defined in blueprint {blueprint:?}"),
                ));
            };
            let targets: Vec<&str> = match (value, rel.many) {
                (Value::Null | Value::Object(_), _) => Vec::new(),
                (Value::String(t), false) => vec![t.as_str()],
                (Value::Array(items), true) if items.iter().all(Value::is_string) => {
                    items.iter().filter_map(Value::as_str).collect()
                }
                _ => {
                    let want = if rel.many {
                        "a list of identifiers"
                    } else {
                        "an identifier"
                    };
                    return Err(refuse(
                        422,
                        "invalid_relation",
                        format!("relation {name:?} must be {want} or null"),
                    ));
                }
            };
            for target in targets {
                let key = (rel.target.clone(), target.to_owned());
                let is_self = key.0 == blueprint && key.1 == id;
                if !self.entities.contains_key(&key) && !is_self {
                    missing_targets.push(key);
                }
            }
        }
        if !missing_targets.is_empty() && !flags.create_missing_related_entities {
            let (bp, target) = &missing_targets[0];
            return Err(refuse(
                404,
                "not_found",
                format!("related entity {target:?} of blueprint {bp:?} was not found"),
            ));
        }

        let key = (blueprint.to_owned(), id.clone());
        let existing = self.entities.get(&key);
        if existing.is_some() && !flags.upsert {
            return Err(refuse(
                409,
                "identifier_taken",
                format!("an entity {id:?} already exists in blueprint {blueprint:?}"),
            ));
        }
        let now = now_iso();
        let mut entity = match existing {
            Some(old) if flags.merge => old.entity.clone(),
            _ => {
                let mut fresh = Map::new();
                fresh.insert("identifier".into(), json!(id));
                fresh.insert("blueprint".into(), json!(blueprint));
                fresh.insert("properties".into(), json!({}));
                fresh.insert("relations".into(), json!({}));
                fresh.insert(
                    "createdAt".into(),
                    existing
                        .and_then(|old| old.entity.get("createdAt").cloned())
                        .unwrap_or_else(|| json!(now)),
                );
                fresh
            }
        };
        for key in ["title", "icon", "team"] {
            if let Some(v) = body.get(key) {
                entity.insert(key.into(), v.clone());
            }
        }
        for (field, values) in [("properties", properties), ("relations", relations)] {
            if let Some(Value::Object(target)) = entity.get_mut(field) {
                for (k, v) in values {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
        for name in &spec.required {
            let set = entity
                .get("properties")
                .and_then(|p| p.get(name))
                .is_some_and(|v| !v.is_null());
            if !set {
                return Err(refuse(
                    422,
                    "missing_required_property",
                    format!("required property {name:?} is missing"),
                ));
            }
        }
        for (name, rel) in &spec.relations {
            let set = entity
                .get("relations")
                .and_then(|r| r.get(name))
                .is_some_and(|v| !v.is_null());
            if rel.required && !set {
                return Err(refuse(
                    422,
                    "missing_required_relation",
                    format!("required relation {name:?} is missing"),
                ));
            }
        }
        entity.insert("updatedAt".into(), json!(now));
        let created = existing.is_none();
        for (bp, target) in missing_targets {
            // Port creates a bare placeholder, stamped by the writer like any write.
            let mut placeholder = Map::new();
            placeholder.insert("identifier".into(), json!(target));
            placeholder.insert("blueprint".into(), json!(bp));
            placeholder.insert("properties".into(), json!({}));
            placeholder.insert("relations".into(), json!({}));
            placeholder.insert("createdAt".into(), json!(now));
            placeholder.insert("updatedAt".into(), json!(now));
            self.entities.insert(
                (bp, target),
                Stored {
                    entity: placeholder,
                    datasource: datasource.to_owned(),
                    written: std::time::Instant::now(),
                },
            );
        }
        if let Some(log) = &mut self.log {
            log.push(super::Written {
                at: std::time::Instant::now(),
                blueprint: key.0.clone(),
                identifier: key.1.clone(),
                entity: Value::Object(entity.clone()),
            });
        }
        self.entities.insert(
            key,
            Stored {
                entity,
                datasource: datasource.to_owned(),
                written: std::time::Instant::now(),
            },
        );
        Ok((id, created))
    }

    /// Keys of entities that point at `(blueprint, id)` through a relation.
    fn dependents_of(&self, blueprint: &str, id: &str) -> Vec<(String, String)> {
        self.entities
            .iter()
            .filter(|((bp, _), stored)| {
                let Some(rels) = stored.entity.get("relations").and_then(Value::as_object) else {
                    return false;
                };
                let spec = self.blueprints.get(bp);
                rels.iter().any(|(name, value)| {
                    let target_bp = spec
                        .and_then(|s| s.relations.get(name))
                        .map(|r| r.target.as_str());
                    target_bp == Some(blueprint)
                        && match value {
                            Value::String(t) => t == id,
                            Value::Array(items) => items.iter().any(|t| t.as_str() == Some(id)),
                            _ => false,
                        }
                })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Deletes entities of one blueprint. With dependents and no `delete_dependents`, the whole
    /// call is refused (as Port does). Returns the identifiers of `blueprint` deleted.
    pub(super) fn delete(
        &mut self,
        blueprint: &str,
        ids: &[String],
        delete_dependents: bool,
    ) -> Result<Vec<String>, Refusal> {
        if !self.blueprints.contains_key(blueprint) {
            return Err(refuse(
                404,
                "not_found",
                format!("blueprint {blueprint:?} not found"),
            ));
        }
        let targets: Vec<(String, String)> = ids
            .iter()
            .map(|id| (blueprint.to_owned(), id.clone()))
            .filter(|k| self.entities.contains_key(k))
            .collect();
        let mut doomed = targets.clone();
        let mut i = 0;
        while i < doomed.len() {
            let (bp, id) = doomed[i].clone();
            for dep in self.dependents_of(&bp, &id) {
                if doomed.contains(&dep) {
                    continue;
                }
                if !delete_dependents {
                    return Err(refuse(
                        422,
                        "has_dependents",
                        format!(
                            "entity {id:?} of {bp:?} has dependent entities (e.g. {:?} of {:?}); \
                             pass delete_dependents=true",
                            dep.1, dep.0
                        ),
                    ));
                }
                doomed.push(dep);
            }
            i += 1;
        }
        for key in &doomed {
            self.entities.remove(key);
        }
        Ok(targets.into_iter().map(|(_, id)| id).collect())
    }

    /// The entities whose datasource starts with `prefix` and ends with `suffix`, after the
    /// cursor key, at most `limit`, and the cursor for the next page if more remain. Each
    /// entity shows its `$datasource`.
    pub(super) fn list(
        &self,
        prefix: &str,
        suffix: &str,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> (Vec<Value>, Option<(String, String)>) {
        let (mut page, next) = self.page(after, limit, |_, stored| {
            stored.datasource.starts_with(prefix) && stored.datasource.ends_with(suffix)
        });
        for entity in &mut page {
            let key = (
                entity["blueprint"].as_str().unwrap_or_default().to_owned(),
                entity["identifier"].as_str().unwrap_or_default().to_owned(),
            );
            if let (Value::Object(map), Some(stored)) = (entity, self.entities.get(&key)) {
                map.insert(
                    "$datasource".to_owned(),
                    Value::String(stored.datasource.clone()),
                );
            }
        }
        (page, next)
    }

    /// The entities of `blueprint` whose identifier is in `ids`, paged like `list`.
    pub(super) fn search(
        &self,
        blueprint: &str,
        ids: &std::collections::HashSet<String>,
        datasource: &[(String, String)],
        after: Option<&(String, String)>,
        limit: usize,
    ) -> (Vec<Value>, Option<(String, String)>) {
        self.page(after, limit, |(bp, id), stored| {
            bp == blueprint
                && ids.contains(id)
                && datasource.iter().all(|(op, v)| match op.as_str() {
                    "beginsWith" => stored.datasource.starts_with(v.as_str()),
                    "endsWith" => stored.datasource.ends_with(v.as_str()),
                    _ => stored.datasource.contains(v.as_str()),
                })
        })
    }

    fn page(
        &self,
        after: Option<&(String, String)>,
        limit: usize,
        wanted: impl Fn(&(String, String), &Stored) -> bool,
    ) -> (Vec<Value>, Option<(String, String)>) {
        let mut page = Vec::new();
        let mut last = None;
        let range = match after {
            Some(k) => self.entities.range((
                std::ops::Bound::Excluded(k.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => self.entities.range::<(String, String), _>(..),
        };
        for (key, stored) in range {
            if !wanted(key, stored) {
                continue;
            }
            if page.len() == limit {
                return (page, last);
            }
            page.push(Value::Object(stored.entity.clone()));
            last = Some(key.clone());
        }
        (page, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut s = Store::default();
        s.add_blueprint(&json!({
            "identifier": "service",
            "schema": {"properties": {
                "tier": {"type": "string", "enum": ["gold", "silver"]},
                "stars": {"type": "number"},
                "link": {"type": "string", "format": "url"}
            }},
            "relations": {"team": {"target": "group", "many": false, "required": false}}
        }))
        .unwrap();
        s.add_blueprint(&json!({"identifier": "group", "schema": {"properties": {}}}))
            .unwrap();
        s
    }

    const UPSERT: WriteFlags = WriteFlags {
        upsert: true,
        merge: true,
        create_missing_related_entities: false,
    };

    #[test]
    fn property_types_and_enums_are_enforced() {
        let mut s = store();
        let bad = [
            json!({"identifier": "a", "properties": {"stars": "many"}}),
            json!({"identifier": "a", "properties": {"tier": "bronze"}}),
            json!({"identifier": "a", "properties": {"link": "ftp://x"}}),
            json!({"identifier": "a", "properties": {"nope": 1}}),
            json!({"identifier": "a", "colour": "red"}),
            json!({"identifier": ".."}),
        ];
        for entity in bad {
            let r = s.write("service", &entity, UPSERT, "ds");
            assert_eq!(r.map_err(|e| e.status), Err(422), "{entity}");
        }
        let good = json!({"identifier": "a", "properties": {"stars": 3, "tier": null}});
        assert_eq!(
            s.write("service", &good, UPSERT, "ds"),
            Ok(("a".into(), true))
        );
    }

    #[test]
    fn a_missing_relation_target_is_refused_unless_asked_to_create_it() {
        let mut s = store();
        let e = json!({"identifier": "a", "relations": {"team": "core"}});
        assert_eq!(
            s.write("service", &e, UPSERT, "ds").map_err(|r| r.status),
            Err(404)
        );
        let create = WriteFlags {
            create_missing_related_entities: true,
            ..UPSERT
        };
        assert!(s.write("service", &e, create, "ds").is_ok());
        assert!(s.entities.contains_key(&("group".into(), "core".into())));
    }

    #[test]
    fn merge_keeps_unsent_fields_and_override_clears_them() {
        let mut s = store();
        let first = json!({"identifier": "a", "title": "A", "properties": {"stars": 1}});
        s.write("service", &first, UPSERT, "ds").unwrap();
        s.write(
            "service",
            &json!({"identifier": "a", "properties": {"tier": "gold"}}),
            UPSERT,
            "ds",
        )
        .unwrap();
        let merged = &s.entities[&("service".into(), "a".into())].entity;
        assert_eq!(merged["title"], json!("A"));
        assert_eq!(merged["properties"], json!({"stars": 1, "tier": "gold"}));
        let replace = WriteFlags {
            merge: false,
            ..UPSERT
        };
        s.write("service", &json!({"identifier": "a"}), replace, "ds")
            .unwrap();
        let replaced = &s.entities[&("service".into(), "a".into())].entity;
        assert!(replaced.get("title").is_none());
        assert_eq!(replaced["properties"], json!({}));
    }

    #[test]
    fn a_delete_with_dependents_is_refused_as_a_whole_unless_dependents_go_too() {
        let mut s = store();
        let create = WriteFlags {
            create_missing_related_entities: true,
            ..UPSERT
        };
        s.write(
            "service",
            &json!({"identifier": "a", "relations": {"team": "core"}}),
            create,
            "ds",
        )
        .unwrap();
        let ids = vec!["core".to_owned(), "ghost".to_owned()];
        assert_eq!(
            s.delete("group", &ids, false).map_err(|r| r.status),
            Err(422)
        );
        assert_eq!(s.delete("group", &ids, true), Ok(vec!["core".to_owned()]));
        assert!(s.entities.is_empty());
    }

    #[test]
    fn listing_pages_by_datasource_after_a_cursor() {
        let mut s = store();
        for (id, ds) in [
            ("a", "adoport/1/x"),
            ("b", "other"),
            ("c", "adoport/2/x"),
            ("d", "adoport/1/xy"),
        ] {
            s.write("group", &json!({"identifier": id}), UPSERT, ds)
                .unwrap();
        }
        let (page, next) = s.list("adoport/", "/x", None, 1);
        assert_eq!(page[0]["identifier"], "a");
        let (page, next) = s.list("adoport/", "/x", next.as_ref(), 1);
        assert_eq!(page[0]["identifier"], "c");
        assert_eq!(next, None);
    }
}
