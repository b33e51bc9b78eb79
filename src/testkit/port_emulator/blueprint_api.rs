//! The emulator's blueprint API: `GET /v1/blueprints`, `POST /v1/blueprints`, and
//! `GET`/`PUT`/`PATCH`/`DELETE /v1/blueprints/{identifier}`, over the store's blueprints.
//!
//! What it enforces, as Port documents it: the blueprint identifier pattern (at most 100
//! characters), a string `title`, a `schema` object with a `properties` object, property
//! types (`blueprint`), `schema.required` naming declared properties; 409 `identifier_taken`
//! for a create of an identifier in use; 404 `not_found` for an unknown blueprint, and for a
//! relation (or aggregation property) whose target blueprint does not exist; 422 for a body
//! that breaks the route's schema. A delete is refused (422) while entities of the blueprint
//! remain or another blueprint relates to it; removing entities is the entity routes' job.
//! Every blueprint handed back carries Port's own fields (`createdAt`, `updatedAt`,
//! `createdBy`, `updatedBy`), which a client must not take for declared ones.

use serde_json::{Map, Value, json};

use super::blueprint::Blueprint;
use super::store::{Refusal, Store, now_iso};

/// Port's blueprint identifier pattern: `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/-]+$`, at most 100.
fn is_valid_blueprint_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 100
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/-".contains(c))
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal {
        status: 422,
        error: "invalid_request",
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> Refusal {
    Refusal {
        status: 404,
        error: "not_found",
        message: message.into(),
    }
}

impl Store {
    /// Every blueprint document, by identifier.
    pub(super) fn blueprint_docs(&self) -> Vec<Value> {
        self.docs.values().cloned().collect()
    }

    /// One blueprint document.
    pub(super) fn blueprint_doc(&self, id: &str) -> Result<Value, Refusal> {
        self.docs
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(format!("blueprint {id:?} not found")))
    }

    /// Checks a blueprint body as the create and replace routes do; the parsed blueprint.
    fn check(&self, body: &Value, id: &str) -> Result<Blueprint, Refusal> {
        let doc = body
            .as_object()
            .ok_or_else(|| invalid("body must be an object"))?;
        if !is_valid_blueprint_id(id) {
            return Err(invalid(format!(
                "body/identifier {id:?} does not match the blueprint identifier pattern"
            )));
        }
        if !doc.get("title").is_some_and(Value::is_string) {
            return Err(invalid("body must have required property 'title'"));
        }
        let schema = doc
            .get("schema")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("body must have required property 'schema'"))?;
        if !schema.get("properties").is_some_and(Value::is_object) {
            return Err(invalid(
                "body/schema must have required property 'properties'",
            ));
        }
        let (_, parsed) = Blueprint::parse(body).map_err(invalid)?;
        if let Some(required) = schema.get("required") {
            let names = required
                .as_array()
                .ok_or_else(|| invalid("body/schema/required must be an array"))?;
            for name in names {
                let known = name
                    .as_str()
                    .is_some_and(|n| parsed.properties.contains_key(n));
                if !known {
                    return Err(invalid(format!(
                        "body/schema/required names {name}, which is not a property"
                    )));
                }
            }
        }
        for (name, relation) in &parsed.relations {
            if relation.target != id && !self.blueprints.contains_key(&relation.target) {
                return Err(not_found(format!(
                    "relation {name:?} targets blueprint {:?}, which does not exist",
                    relation.target
                )));
            }
        }
        if let Some(aggregations) = doc.get("aggregationProperties").and_then(Value::as_object) {
            for (name, spec) in aggregations {
                let target = spec.get("target").and_then(Value::as_str).unwrap_or("");
                if target != id && !self.blueprints.contains_key(target) {
                    return Err(not_found(format!(
                        "aggregation property {name:?} targets blueprint {target:?}, which does not exist"
                    )));
                }
            }
        }
        Ok(parsed)
    }

    /// Stores a checked document with Port's own fields set.
    fn put(&mut self, id: &str, body: &Value, parsed: Blueprint, writer: &str) -> Value {
        let now = now_iso();
        let created = self
            .docs
            .get(id)
            .and_then(|d| Some((d.get("createdAt")?.clone(), d.get("createdBy")?.clone())));
        let mut doc: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
        doc.insert("identifier".into(), json!(id));
        let (created_at, created_by) = created.unwrap_or_else(|| (json!(now), json!(writer)));
        doc.insert("createdAt".into(), created_at);
        doc.insert("createdBy".into(), created_by);
        doc.insert("updatedAt".into(), json!(now));
        doc.insert("updatedBy".into(), json!(writer));
        let doc = Value::Object(doc);
        self.blueprints.insert(id.to_owned(), parsed);
        self.docs.insert(id.to_owned(), doc.clone());
        doc
    }

    /// `POST /v1/blueprints`.
    pub(super) fn create_blueprint(
        &mut self,
        body: &Value,
        writer: &str,
    ) -> Result<Value, Refusal> {
        let id = body
            .get("identifier")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("body must have required property 'identifier'"))?
            .to_owned();
        if self.docs.contains_key(&id) {
            return Err(Refusal {
                status: 409,
                error: "identifier_taken",
                message: format!("a blueprint with identifier {id:?} already exists"),
            });
        }
        let parsed = self.check(body, &id)?;
        Ok(self.put(&id, body, parsed, writer))
    }

    /// `PUT /v1/blueprints/{id}`: the body replaces the blueprint whole.
    pub(super) fn replace_blueprint(
        &mut self,
        id: &str,
        body: &Value,
        writer: &str,
    ) -> Result<Value, Refusal> {
        if !self.docs.contains_key(id) {
            return Err(not_found(format!("blueprint {id:?} not found")));
        }
        match body.get("identifier") {
            None => {}
            Some(Value::String(given)) if given == id => {}
            Some(other) => {
                return Err(invalid(format!(
                    "body/identifier {other} differs from the route's {id:?}"
                )));
            }
        }
        let parsed = self.check(body, id)?;
        Ok(self.put(id, body, parsed, writer))
    }

    /// `PATCH /v1/blueprints/{id}`: the body's top-level keys replace the blueprint's.
    pub(super) fn patch_blueprint(
        &mut self,
        id: &str,
        patch: &Value,
        writer: &str,
    ) -> Result<Value, Refusal> {
        let mut doc = self.blueprint_doc(id)?;
        let patch = patch
            .as_object()
            .ok_or_else(|| invalid("body must be an object"))?;
        if let Some(map) = doc.as_object_mut() {
            for (k, v) in patch {
                map.insert(k.clone(), v.clone());
            }
        }
        let parsed = self.check(&doc, id)?;
        Ok(self.put(id, &doc, parsed, writer))
    }

    /// `DELETE /v1/blueprints/{id}`: refused while entities of it remain or another
    /// blueprint relates to it.
    pub(super) fn delete_blueprint(&mut self, id: &str) -> Result<(), Refusal> {
        if !self.docs.contains_key(id) {
            return Err(not_found(format!("blueprint {id:?} not found")));
        }
        let entities = self.entities.keys().filter(|(bp, _)| bp == id).count();
        if entities > 0 {
            return Err(Refusal {
                status: 422,
                error: "has_entities",
                message: format!(
                    "blueprint {id:?} has {entities} entities; delete them before the blueprint"
                ),
            });
        }
        let related = self.blueprints.iter().find(|(other, bp)| {
            other.as_str() != id && bp.relations.values().any(|r| r.target == id)
        });
        if let Some((other, _)) = related {
            return Err(Refusal {
                status: 422,
                error: "has_dependents",
                message: format!("blueprint {other:?} has a relation to {id:?}"),
            });
        }
        self.docs.remove(id);
        self.blueprints.remove(id);
        Ok(())
    }
}
