//! The entity: what a mapping produces, what a catalog stores, what a plan compares. It sits
//! on the ground floor: mapping, reconcile, both catalogs and the Port client use it, and it
//! uses none of them.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A Port entity, holding only the fields its mapping sets.
///
/// `None` means "not mapped": the field is neither sent nor compared, so Port keeps
/// whatever it has (Port's integration sends `exclude_unset`). `Some(Value::Null)` means
/// "mapped, and it evaluated to null": it is sent as `null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Unique within its blueprint.
    pub identifier: String,
    /// The blueprint's identifier.
    pub blueprint: String,
    /// Display title.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub title: Option<Value>,
    /// Icon name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub icon: Option<Value>,
    /// Owning team(s): a string, a list, or a search query object.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub team: Option<Value>,
    /// Mapped properties; keys absent here are not managed by the mapping.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    /// Mapped relations: a target identifier, a list of them, or a search query object.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub relations: Map<String, Value>,
}

impl Entity {
    /// A new entity with only identifier and blueprint set.
    pub fn new(identifier: impl Into<String>, blueprint: impl Into<String>) -> Self {
        Entity {
            identifier: identifier.into(),
            blueprint: blueprint.into(),
            title: None,
            icon: None,
            team: None,
            properties: Map::new(),
            relations: Map::new(),
        }
    }

    /// The key a catalog and a plan identify the entity by.
    pub fn key(&self) -> EntityKey {
        EntityKey {
            blueprint: self.blueprint.clone(),
            identifier: self.identifier.clone(),
        }
    }
}

/// Port's `merge=true` upsert: fields the write sets replace the stored ones, property and
/// relation keys are merged one by one, and whatever the write leaves out is kept.
///
/// Shared by the SQLite catalog (to store what Port would) and the planner (to fold an entity
/// that several resources map, as Port's successive upserts would).
pub fn merge_entity(mut stored: Entity, write: &Entity) -> Entity {
    if write.title.is_some() {
        stored.title.clone_from(&write.title);
    }
    if write.icon.is_some() {
        stored.icon.clone_from(&write.icon);
    }
    if write.team.is_some() {
        stored.team.clone_from(&write.team);
    }
    for (k, v) in &write.properties {
        stored.properties.insert(k.clone(), v.clone());
    }
    for (k, v) in &write.relations {
        stored.relations.insert(k.clone(), v.clone());
    }
    stored
}

/// Identifies an entity across catalogs: blueprint first, so sorting groups by blueprint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityKey {
    /// The blueprint's identifier.
    pub blueprint: String,
    /// The entity's identifier within the blueprint.
    pub identifier: String,
}

impl std::fmt::Display for EntityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.blueprint, self.identifier)
    }
}

/// Keeps a key that is present with `null` as `Some(Value::Null)`, unlike plain `Option`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mapped_null_survives_a_round_trip_and_an_unmapped_field_stays_absent() {
        let e: Entity =
            serde_json::from_value(json!({"identifier": "a", "blueprint": "b", "title": null}))
                .unwrap();
        assert_eq!(e.title, Some(Value::Null));
        assert_eq!(e.icon, None);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"identifier": "a", "blueprint": "b", "title": null})
        );
    }
}
