//! What Port's `Entity.parse_obj` makes of one item's mapped values: the drop rule's
//! truthiness, pydantic's coercions of `icon` and `team`, and non-string identifiers —
//! as our [`Entity`], with Port's own JSON kept only where the two differ.

use serde_json::{Map, Value};

use super::explode::type_name;
use crate::entity::Entity;

/// Python's truthiness, which Port's drop rule uses.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value shortened for a message.
pub(super) fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// The mapped values of one item, each present when its field is mapped.
pub(super) struct Fields {
    pub(super) identifier: Value,
    pub(super) title: Option<Value>,
    pub(super) icon: Option<Value>,
    pub(super) blueprint: Value,
    pub(super) team: Option<Value>,
    pub(super) properties: Option<Map<String, Value>>,
    pub(super) relations: Option<Map<String, Value>>,
}

/// An entity as our [`Entity`], with Port's JSON kept only where the two differ.
pub(super) struct Mapped {
    pub(super) entity: Option<Entity>,
    pub(super) raw: Option<Value>,
}

impl Fields {
    /// What Port's `Entity.parse_obj` makes of the mapped values, as our [`Entity`]; the
    /// second part says why Port's API would reject it (`(field, message)`).
    ///
    /// `identifier` and `blueprint` are `Any` in Port's model: a **number** is kept and sent
    /// as a JSON number (Port's API stores its text), so the JSON keeps it and the
    /// [`Entity`] holds its decimal text (`11` → `"11"`); an **object** identifier is a
    /// search query, kept in the JSON with no [`Entity`]; a truthy boolean or list is sent as
    /// is (and rejected by Port's API, an upsert failure that Port does not count as an
    /// error): kept in the JSON with no [`Entity`] and a finding. `icon` is `str | None`:
    /// numbers and booleans become Python's `str()` of them (`5` → `"5"`, `true` →
    /// `"True"`), anything else fails pydantic (and Port's whole batch): an item error.
    /// `team` is `str | None | list | dict`: numbers and booleans become their Python
    /// `str()`, the rest stays.
    #[allow(clippy::type_complexity)] // a pair named in the doc above
    pub(super) fn into_entity(
        mut self,
    ) -> Result<(Mapped, Option<(&'static str, String)>), String> {
        if let Some(icon) = &mut self.icon {
            match icon {
                Value::Null | Value::String(_) => {}
                Value::Number(_) | Value::Bool(_) => *icon = Value::String(python_str(icon)),
                other => {
                    return Err(format!(
                        "the icon is {}, not a string: Port's model refuses it and fails the batch",
                        type_name(Some(other))
                    ));
                }
            }
        }
        if let Some(team) = &mut self.team
            && matches!(team, Value::Number(_) | Value::Bool(_))
        {
            *team = Value::String(python_str(team));
        }
        let unsendable = |field: &'static str, v: &Value| {
            Some((
                field,
                format!(
                    "the {field} is {} {}: Port sends it and its API rejects the entity",
                    type_name(Some(v)),
                    short(v)
                ),
            ))
        };
        let mut why = None;
        let identifier = match &self.identifier {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) => Some(python_str(&self.identifier)),
            Value::Object(_) => None,
            other => {
                why = unsendable("identifier", other);
                None
            }
        };
        let blueprint = match &self.blueprint {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) => Some(python_str(&self.blueprint)),
            other => {
                why = why.or_else(|| unsendable("blueprint", other));
                None
            }
        };
        // Port's JSON differs from our entity's serialization only in these cases.
        let keep_raw = !(self.identifier.is_string() && self.blueprint.is_string())
            || self.properties.as_ref().is_some_and(Map::is_empty)
            || self.relations.as_ref().is_some_and(Map::is_empty)
            || identifier.is_none()
            || blueprint.is_none();
        let raw = keep_raw.then(|| self.to_json());
        let entity = identifier
            .zip(blueprint)
            .map(|(identifier, blueprint)| Entity {
                identifier,
                blueprint,
                title: self.title,
                icon: self.icon,
                team: self.team,
                properties: self.properties.unwrap_or_default(),
                relations: self.relations.unwrap_or_default(),
            });
        Ok((Mapped { entity, raw }, why))
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("identifier".into(), self.identifier.clone());
        out.insert("blueprint".into(), self.blueprint.clone());
        let optional = [
            ("title", &self.title),
            ("icon", &self.icon),
            ("team", &self.team),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                out.insert(key.into(), v.clone());
            }
        }
        if let Some(p) = &self.properties {
            out.insert("properties".into(), Value::Object(p.clone()));
        }
        if let Some(r) = &self.relations {
            out.insert("relations".into(), Value::Object(r.clone()));
        }
        Value::Object(out)
    }
}

/// Python's `str()` of a JSON scalar as Port's jq binding hands it over (integral numbers
/// arrive as `int`).
fn python_str(v: &Value) -> String {
    match v {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e16 {
                    format!("{}", f as i64)
                } else {
                    format!("{f:?}")
                }
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
