//! Search-query identifiers: an entity whose mapped identifier is Port's search query object
//! (`{combinator, rules}`) rather than a string names an *existing* entity of its blueprint,
//! the one the query matches. It sits on the ground floor: the mapping's results carry such
//! entities ([`SearchedEntity`]), the reconciler plans them, and catalogs resolve them.
//!
//! On the `port` target the entity is sent as Port's integration sends it, the query in
//! place of the identifier, and Port resolves it on write. On the SQLite target the query is
//! resolved against the catalog here ([`matches`]) before planning: one match is planned like
//! any entity under the matched identifier; none or several is an item error.
//!
//! Supported, as Port's search rules document them: combinators `and` and `or` (nested
//! freely); operators `=`, `!=`, `in`, `notIn`, `contains`, `doesNotContains`,
//! `containsAny`, `beginsWith`, `doesNotBeginsWith`, `endsWith`, `doesNotEndsWith`,
//! `isEmpty`, `isNotEmpty`; the meta-properties `$identifier`, `$title`, `$team`, `$icon`,
//! `$blueprint`, and any property by its key. Anything else (`relatedTo`, dates, numeric
//! comparisons) is refused with a message naming it, never guessed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::Entity;

/// An entity whose identifier is a search query, as the mapping produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchedEntity {
    /// The ADO kind of the resource that mapped it.
    pub kind: String,
    /// The item it came from, for messages.
    pub item: String,
    /// The entity as Port's integration sends it: `identifier` holds the query object.
    pub document: Value,
}

impl SearchedEntity {
    /// The mapped entity `document` (Port's JSON) when its identifier is a search query and
    /// its blueprint a name (a number is taken as its text, as Port's integration sends it).
    pub fn from_mapped(kind: &str, item: String, mut document: Value) -> Option<Self> {
        if !document.get("identifier").is_some_and(is_query) {
            return None;
        }
        let blueprint = match document.get("blueprint")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        document["blueprint"] = Value::String(blueprint);
        Some(SearchedEntity {
            kind: kind.to_owned(),
            item,
            document,
        })
    }

    /// The entity's blueprint.
    pub fn blueprint(&self) -> &str {
        self.document
            .get("blueprint")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The search query (the document's identifier).
    pub fn query(&self) -> &Value {
        self.document.get("identifier").unwrap_or(&Value::Null)
    }

    /// The entity to write once the query resolved to `identifier`.
    pub fn resolved(&self, identifier: &str) -> Result<Entity, String> {
        let mut doc = self.document.clone();
        if let Some(map) = doc.as_object_mut() {
            map.insert("identifier".into(), Value::String(identifier.to_owned()));
        }
        serde_json::from_value(doc).map_err(|e| format!("the mapped entity cannot be read: {e}"))
    }
}

/// Whether `v` is a search query object (`{combinator, rules}`).
pub fn is_query(v: &Value) -> bool {
    v.get("combinator").is_some() && v.get("rules").is_some()
}

/// Whether `entity` matches `query`; `Err` names what the query uses that is not supported.
pub fn matches(query: &Value, entity: &Entity) -> Result<bool, String> {
    let combinator = query
        .get("combinator")
        .and_then(Value::as_str)
        .ok_or("a search query needs a combinator, \"and\" or \"or\"")?;
    let rules = query
        .get("rules")
        .and_then(Value::as_array)
        .ok_or("a search query needs a list of rules")?;
    let mut results = rules.iter().map(|r| {
        if is_query(r) {
            matches(r, entity)
        } else {
            rule(r, entity)
        }
    });
    match combinator {
        // Every rule is checked (an unsupported one is an error wherever it stands).
        "and" => results.try_fold(true, |all, r| Ok(r? && all)),
        "or" => results.try_fold(false, |any, r| Ok(r? || any)),
        other => Err(format!(
            "search query combinator {other:?} is not \"and\" or \"or\""
        )),
    }
}

/// One `{property, operator, value}` rule.
fn rule(r: &Value, entity: &Entity) -> Result<bool, String> {
    let property = r
        .get("property")
        .and_then(Value::as_str)
        .ok_or("a search rule needs a property (relation rules are not supported here)")?;
    let operator = r
        .get("operator")
        .and_then(Value::as_str)
        .ok_or("a search rule needs an operator")?;
    let value = r.get("value").unwrap_or(&Value::Null);
    let actual = field(entity, property);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let list = || -> Result<&Vec<Value>, String> {
        value
            .as_array()
            .ok_or_else(|| format!("operator {operator:?} needs a list value, got {value}"))
    };
    let strings = |f: &dyn Fn(&str, &str) -> bool| -> Result<bool, String> {
        let want = text(value)
            .ok_or_else(|| format!("operator {operator:?} needs a string value, got {value}"))?;
        Ok(match &actual {
            Value::String(s) => f(s, &want),
            Value::Array(items) => items.iter().filter_map(Value::as_str).any(|s| f(s, &want)),
            _ => false,
        })
    };
    match operator {
        "=" => Ok(equal(&actual, value)),
        "!=" => Ok(!equal(&actual, value)),
        "in" => Ok(list()?.iter().any(|v| equal(&actual, v))),
        "notIn" => Ok(!list()?.iter().any(|v| equal(&actual, v))),
        "contains" => match &actual {
            Value::Array(items) => Ok(items.iter().any(|i| equal(i, value))),
            _ => strings(&|s, w| s.contains(w)),
        },
        "doesNotContains" => match &actual {
            Value::Array(items) => Ok(!items.iter().any(|i| equal(i, value))),
            _ => strings(&|s, w| s.contains(w)).map(|b| !b),
        },
        "containsAny" => {
            let wanted = list()?;
            Ok(match &actual {
                Value::Array(items) => items.iter().any(|i| wanted.iter().any(|w| equal(i, w))),
                Value::String(s) => wanted
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|w| s.contains(w)),
                _ => false,
            })
        }
        "beginsWith" => strings(&|s, w| s.starts_with(w)),
        "doesNotBeginsWith" => strings(&|s, w| s.starts_with(w)).map(|b| !b),
        "endsWith" => strings(&|s, w| s.ends_with(w)),
        "doesNotEndsWith" => strings(&|s, w| s.ends_with(w)).map(|b| !b),
        "isEmpty" => Ok(empty(&actual)),
        "isNotEmpty" => Ok(!empty(&actual)),
        other => Err(format!(
            "search operator {other:?} is not supported when the catalog resolves search \
             identifiers (supported: =, !=, in, notIn, contains, doesNotContains, containsAny, \
             beginsWith, doesNotBeginsWith, endsWith, doesNotEndsWith, isEmpty, isNotEmpty)"
        )),
    }
}

/// The value a rule's property names on `entity` (`null` when absent).
fn field(entity: &Entity, property: &str) -> Value {
    let or_null = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
    match property {
        "$identifier" => Value::String(entity.identifier.clone()),
        "$blueprint" => Value::String(entity.blueprint.clone()),
        "$title" => or_null(&entity.title),
        "$icon" => or_null(&entity.icon),
        "$team" => or_null(&entity.team),
        key => entity.properties.get(key).cloned().unwrap_or(Value::Null),
    }
}

/// Equality with numbers compared by value (`1` equals `1.0`).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Port's "empty": absent, null, `""`, `[]` or `{}`.
fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repo() -> Entity {
        serde_json::from_value(json!({
            "identifier": "r-1", "blueprint": "repo", "title": "checkout-api",
            "team": ["payments"],
            "properties": {"language": "rust", "size": 12, "topics": ["web", "api"], "empty": ""}
        }))
        .unwrap()
    }

    fn rule(property: &str, operator: &str, value: Value) -> Value {
        json!({"combinator": "and", "rules": [{"property": property, "operator": operator, "value": value}]})
    }

    /// Asserts what `operator` makes of each `(property, value)`: matches or not.
    #[track_caller]
    fn check(operator: &str, cases: &[(&str, Value, bool)]) {
        let e = repo();
        for (property, value, expected) in cases {
            let q = rule(property, operator, value.clone());
            assert_eq!(matches(&q, &e), Ok(*expected), "{q}");
        }
    }

    #[test]
    fn equals_compares_whole_values_and_numbers_by_value() {
        check(
            "=",
            &[
                ("$identifier", json!("r-1"), true),
                ("$identifier", json!("r-2"), false),
                ("$title", json!("checkout-api"), true),
                ("$blueprint", json!("repo"), true),
                ("size", json!(12.0), true),
                ("size", json!("12"), false),
                ("missing", Value::Null, true),
            ],
        );
    }

    #[test]
    fn not_equals_is_the_opposite_of_equals() {
        check(
            "!=",
            &[
                ("$title", json!("other"), true),
                ("$title", json!("checkout-api"), false),
                ("size", json!(12), false),
            ],
        );
    }

    #[test]
    fn in_and_not_in_look_the_value_up_in_a_list() {
        check(
            "in",
            &[
                ("language", json!(["go", "rust"]), true),
                ("language", json!(["go"]), false),
                ("$identifier", json!([]), false),
            ],
        );
        check(
            "notIn",
            &[
                ("language", json!(["go"]), true),
                ("language", json!(["rust"]), false),
            ],
        );
        let err = matches(&rule("language", "in", json!("rust")), &repo()).unwrap_err();
        assert!(err.contains("needs a list value"), "{err}");
    }

    #[test]
    fn contains_finds_a_substring_of_text_or_an_element_of_a_list() {
        check(
            "contains",
            &[
                ("$title", json!("out-a"), true),
                ("$title", json!("zzz"), false),
                ("topics", json!("api"), true),
                ("topics", json!("ap"), false),
                ("$team", json!("payments"), true),
                ("size", json!("1"), false),
            ],
        );
        check(
            "doesNotContains",
            &[
                ("$title", json!("zzz"), true),
                ("$title", json!("check"), false),
                ("topics", json!("web"), false),
            ],
        );
    }

    #[test]
    fn contains_any_matches_when_any_listed_value_is_contained() {
        check(
            "containsAny",
            &[
                ("topics", json!(["cli", "web"]), true),
                ("topics", json!(["cli"]), false),
                ("$title", json!(["zzz", "api"]), true),
                ("$title", json!(["zzz"]), false),
                ("size", json!([12]), false),
            ],
        );
    }

    #[test]
    fn begins_with_and_ends_with_compare_the_start_and_end_of_text() {
        check(
            "beginsWith",
            &[
                ("$title", json!("check"), true),
                ("$title", json!("api"), false),
                ("topics", json!("we"), true),
            ],
        );
        check(
            "doesNotBeginsWith",
            &[
                ("$title", json!("zzz"), true),
                ("$title", json!("check"), false),
            ],
        );
        check(
            "endsWith",
            &[
                ("$title", json!("-api"), true),
                ("$title", json!("check"), false),
            ],
        );
        check(
            "doesNotEndsWith",
            &[
                ("$title", json!("zzz"), true),
                ("$title", json!("api"), false),
            ],
        );
        let err = matches(&rule("$title", "beginsWith", json!(1)), &repo()).unwrap_err();
        assert!(err.contains("needs a string value"), "{err}");
    }

    #[test]
    fn is_empty_holds_for_absent_null_and_empty_values() {
        check(
            "isEmpty",
            &[
                ("empty", Value::Null, true),
                ("missing", Value::Null, true),
                ("$icon", Value::Null, true),
                ("language", Value::Null, false),
                ("topics", Value::Null, false),
            ],
        );
        check(
            "isNotEmpty",
            &[
                ("language", Value::Null, true),
                ("size", Value::Null, true),
                ("empty", Value::Null, false),
            ],
        );
    }

    #[test]
    fn combinators_nest() {
        let e = repo();
        let q = json!({"combinator": "or", "rules": [
            {"property": "$title", "operator": "=", "value": "nope"},
            {"combinator": "and", "rules": [
                {"property": "$blueprint", "operator": "=", "value": "repo"},
                {"property": "language", "operator": "=", "value": "rust"}
            ]}
        ]});
        assert_eq!(matches(&q, &e), Ok(true));
        let q = json!({"combinator": "and", "rules": [
            {"property": "$blueprint", "operator": "=", "value": "repo"},
            {"property": "language", "operator": "=", "value": "go"}
        ]});
        assert_eq!(matches(&q, &e), Ok(false));
    }

    #[test]
    fn what_is_not_supported_is_refused_by_name_even_where_it_cannot_decide() {
        let e = repo();
        let err = matches(&rule("size", ">", json!(3)), &e).unwrap_err();
        assert!(err.contains("\">\""), "{err}");
        // An `or` already true still checks its other rules.
        let q = json!({"combinator": "or", "rules": [
            {"property": "$identifier", "operator": "=", "value": "r-1"},
            {"property": "$createdAt", "operator": "between", "value": {"preset": "lastWeek"}}
        ]});
        assert!(matches(&q, &e).unwrap_err().contains("between"));
        let err = matches(&json!({"combinator": "xor", "rules": []}), &e).unwrap_err();
        assert!(err.contains("xor"), "{err}");
        let relation = json!({"combinator": "and", "rules": [{"relation": "project", "operator": "relatedTo", "value": "p"}]});
        assert!(matches(&relation, &e).is_err());
    }

    #[test]
    fn a_mapped_entity_is_searched_only_with_a_query_identifier_and_a_blueprint() {
        let query = json!({"combinator": "and", "rules": []});
        let doc = json!({"identifier": query, "blueprint": 7, "properties": {"a": 1}});
        let s = SearchedEntity::from_mapped("repository", "r1".into(), doc).unwrap();
        assert_eq!(s.blueprint(), "7");
        assert_eq!(s.query(), &query);
        let e = s.resolved("found").unwrap();
        assert_eq!(
            (e.identifier.as_str(), e.blueprint.as_str()),
            ("found", "7")
        );
        assert_eq!(e.properties["a"], 1);

        let plain = json!({"identifier": "x", "blueprint": "b"});
        assert!(SearchedEntity::from_mapped("k", "i".into(), plain).is_none());
        let no_blueprint = json!({"identifier": query, "blueprint": [1]});
        assert!(SearchedEntity::from_mapped("k", "i".into(), no_blueprint).is_none());
    }
}
