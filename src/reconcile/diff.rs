//! Field comparison: which fields of a stored entity writing a desired one would change.
//!
//! Comparison rules, chosen so that a converged catalog plans empty against Port as well as
//! against SQLite:
//! - only fields the desired entity maps are compared (`None` = not managed), except that
//!   with `enableMergeEntity: false` a write replaces the entity, so stored non-null values
//!   the mapping no longer sets show as removals;
//! - `null` and absent are the same value (Port drops null keys on read, and so does its
//!   own diff in `_map_entities_compared_with_port`);
//! - numbers compare by value (`1` equals `1.0`);
//! - `team` compares as a set: `"a"`, `["a"]` and `null`/`[]` are normalised first;
//! - a relation or team given as a search query (`{combinator, rules}`) is not compared:
//!   Port resolves it when writing and stores the identifiers it found, never the query, so
//!   comparing would plan an update on every run. It is still sent whenever the entity is.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::plan::{Field, FieldChange};
use crate::entity::Entity;

/// The fields of `stored` that writing `desired` would change.
pub(crate) fn diff(desired: &Entity, stored: &Entity, merge: bool) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut scalar = |field: Field, want: &Option<Value>, have: &Option<Value>, team: bool| {
        let same = |a: Option<&Value>, b: Option<&Value>| {
            if team {
                team_set(a) == team_set(b)
            } else {
                same_value(a, b)
            }
        };
        match want {
            Some(w) if is_search_query(w) => {}
            Some(w) if !same(Some(w), have.as_ref()) => changes.push(FieldChange {
                field,
                before: have.clone().unwrap_or(Value::Null),
                after: w.clone(),
            }),
            None if !merge && !same(None, have.as_ref()) => changes.push(FieldChange {
                field,
                before: have.clone().unwrap_or(Value::Null),
                after: Value::Null,
            }),
            _ => {}
        }
    };
    scalar(Field::Title, &desired.title, &stored.title, false);
    scalar(Field::Icon, &desired.icon, &stored.icon, false);
    scalar(Field::Team, &desired.team, &stored.team, true);
    diff_map(
        &desired.properties,
        &stored.properties,
        merge,
        Field::Property,
        &mut changes,
    );
    diff_map(
        &desired.relations,
        &stored.relations,
        merge,
        Field::Relation,
        &mut changes,
    );
    changes
}

fn diff_map(
    want: &Map<String, Value>,
    have: &Map<String, Value>,
    merge: bool,
    field: fn(String) -> Field,
    changes: &mut Vec<FieldChange>,
) {
    // Merge mode compares the mapped keys only; replace mode, the union. Maps keep insertion
    // order, so keys are sorted here for a stable diff.
    let keys: BTreeSet<&String> = if merge {
        want.keys().collect()
    } else {
        want.keys().chain(have.keys()).collect()
    };
    for k in keys {
        let (w, h) = (want.get(k), have.get(k));
        if !w.is_some_and(is_search_query) && !same_value(w, h) {
            changes.push(FieldChange {
                field: field(k.clone()),
                before: h.cloned().unwrap_or(Value::Null),
                after: w.cloned().unwrap_or(Value::Null),
            });
        }
    }
}

/// Port's search query object, which Port resolves server-side on write.
fn is_search_query(v: &Value) -> bool {
    v.get("combinator").is_some() && v.get("rules").is_some_and(Value::is_array)
}

/// Equality where `null` equals absent and numbers compare by value.
fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        (Some(a), Some(b)) => json_eq(a, b),
        _ => false,
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `team` as a sorted list: `null`/absent → `[]`, `"a"` → `["a"]`.
fn team_set(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        Some(other) => vec![other.to_string()],
    };
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_search_query_relation_is_not_compared_with_what_port_resolved_it_to() {
        let mut desired = Entity::new("svc", "service");
        let query = json!({"combinator": "and", "rules": [{"property": "$title", "operator": "=", "value": "x"}]});
        desired.relations.insert("owner".into(), query.clone());
        desired.relations.insert("project".into(), json!("p1"));
        desired.team = Some(query);
        let mut stored = Entity::new("svc", "service");
        stored
            .relations
            .insert("owner".into(), json!("resolved-id"));
        stored.relations.insert("project".into(), json!("p0"));
        stored.team = Some(json!(["team-a"]));
        let changes = diff(&desired, &stored, true);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, Field::Relation("project".into()));
    }
}
