//! `to_entries`, `from_entries`, `keys` and `keys_unsorted` as natives with jq 1.8.1's
//! semantics (its `builtin.jq` defines the first two in jq, which costs a definition call,
//! an object construction and an index per key here); `with_entries(f)` stays
//! `to_entries | map(f) | from_entries` in the prelude, over these.
//!
//! jq 1.8.1's definitions, which these follow case by case:
//!
//! ```text
//! def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
//! def from_entries: map({(.key // .Key // .name // .Name):
//!                        (if has("value") then .value else .Value end)}) | add | .//={};
//! ```
//!
//! So `from_entries` takes the first of `key`, `Key`, `name`, `Name` that is neither `null`
//! nor `false` (else `Name`'s value), refuses a key that is not a string (`null`, booleans,
//! numbers: "Cannot use number (1) as object key"), takes `value` when present (even
//! `null`) else `Value`, and lets a later entry overwrite an earlier one in place.

use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Native, ValXs};
use jaq_json::{Rc, Val};

use super::budget;
use super::compat::{describe, fail, ok};
use super::convert::{MAX_DEPTH, deeper_than, too_deep};
use super::natives::{D, type_of};

thread_local! {
    /// The field names of an entry, shared by every entry built on this thread.
    static NAMES: [Val; 6] = ["key", "value", "Key", "name", "Name", "Value"]
        .map(|n| Val::from(n.to_owned()));
}

const KEY: usize = 0;
const VALUE: usize = 1;

/// Bytes an entry is counted as against the evaluation's size allowance (its JSON
/// punctuation and field names; the key and value are shared, not copied).
const ENTRY_BYTES: usize = 24;

fn no_keys(v: &Val) -> String {
    format!("{} has no keys", describe(v))
}

/// `keys_unsorted`: an object's keys in order, an array's indices.
fn keys_unsorted(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match &cv.1 {
        Val::Obj(o) => ok(o.keys().cloned().collect()),
        Val::Arr(a) => ok((0..a.len()).map(Val::from).collect()),
        other => fail(no_keys(other)),
    }
}

/// `keys`: an object's keys sorted (by code point, as jq does), an array's indices.
fn keys(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match &cv.1 {
        Val::Obj(o) => {
            let mut keys: Vec<Val> = o.keys().cloned().collect();
            keys.sort();
            ok(keys.into_iter().collect())
        }
        Val::Arr(a) => ok((0..a.len()).map(Val::from).collect()),
        other => fail(no_keys(other)),
    }
}

/// `{key: k, value: v}`.
fn entry(names: &[Val; 6], k: Val, v: Val) -> Val {
    let pairs = [(names[KEY].clone(), k), (names[VALUE].clone(), v)];
    Val::Obj(Rc::new(pairs.into_iter().collect()))
}

/// `to_entries`: `[{key, value}]` per key of an object, per index of an array.
fn to_entries(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let len = match &cv.1 {
        Val::Obj(o) => o.len(),
        Val::Arr(a) => a.len(),
        other => return fail(no_keys(other)),
    };
    // Each entry wraps its value one level deeper than the input held it.
    if len > 0 && deeper_than(&cv.1, MAX_DEPTH - 1) {
        return fail(too_deep("value"));
    }
    if let Err(why) = budget::charge_bytes(len.saturating_mul(ENTRY_BYTES)) {
        return fail(why);
    }
    NAMES.with(|names| {
        let entries: Val = match &cv.1 {
            Val::Obj(o) => o
                .iter()
                .map(|(k, v)| entry(names, k.clone(), v.clone()))
                .collect(),
            Val::Arr(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| entry(names, Val::from(i), v.clone()))
                .collect(),
            _ => Val::Null,
        };
        ok(entries)
    })
}

/// Whether jq's `//` takes the value (neither `null` nor `false`).
fn truthy(v: &Val) -> bool {
    !matches!(v, Val::Null | Val::Bool(false))
}

/// The key and value one entry contributes, or jq's error for it.
fn key_value(names: &[Val; 6], e: &Val) -> Result<(Val, Val), String> {
    let o = match e {
        Val::Obj(o) => o,
        // `null | .key` is null all along: the key is null.
        Val::Null => return Err(format!("Cannot use {} as object key", describe(e))),
        // Port's jq reports the first lookup that fails, `.key`.
        other => {
            return Err(format!(
                "Cannot index {} with string (\"key\")",
                type_of(other)
            ));
        }
    };
    let get = |i: usize| o.get(&names[i]);
    let key = [KEY, 2, 3]
        .into_iter()
        .filter_map(get)
        .find(|v| truthy(v))
        .or_else(|| get(4))
        .cloned()
        .unwrap_or(Val::Null);
    if !matches!(key, Val::TStr(_)) {
        return Err(format!("Cannot use {} as object key", describe(&key)));
    }
    let value = match get(VALUE) {
        Some(v) => v.clone(),
        None => get(5).cloned().unwrap_or(Val::Null),
    };
    Ok((key, value))
}

/// `from_entries`: an object from `{key, value}`-like entries (array elements or object
/// values), later keys overwriting earlier ones.
fn from_entries(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let items: Box<dyn Iterator<Item = &Val>> = match &cv.1 {
        Val::Arr(a) => Box::new(a.iter()),
        Val::Obj(o) => Box::new(o.values()),
        other => return fail(format!("Cannot iterate over {}", describe(other))),
    };
    let result = NAMES.with(|names| {
        let mut map = jaq_json::Map::default();
        for e in items {
            let (k, v) = key_value(names, e)?;
            map.insert(k, v);
        }
        Ok::<_, String>(map)
    });
    match result {
        Ok(map) => ok(Val::Obj(Rc::new(map))),
        Err(e) => fail(e),
    }
}

/// The entry natives (the prelude binds jq's names to them).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__to_entries", v(0), Native::<D>::new(to_entries)),
        ("__from_entries", v(0), Native::<D>::new(from_entries)),
        ("__keys", v(0), Native::<D>::new(keys)),
        ("__keys_unsorted", v(0), Native::<D>::new(keys_unsorted)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, fails, one};
    use serde_json::json;

    #[test]
    fn to_entries_lists_object_keys_in_order_and_array_indices() {
        assert_eq!(
            one("to_entries", json!({"b": 1, "a": null})),
            json!([{"key": "b", "value": 1}, {"key": "a", "value": null}])
        );
        assert_eq!(
            one("to_entries", json!(["x"])),
            json!([{"key": 0, "value": "x"}])
        );
        assert_eq!(fails("to_entries", json!(1)), "number (1) has no keys");
    }

    #[test]
    fn from_entries_follows_jq_1_8_key_and_value_names() {
        let entries = json!([
            {"key": "a", "value": 1},
            {"Key": "b", "Value": 2},
            {"name": "c", "value": 3},
            {"Name": "d", "Value": 4},
            {"key": false, "Key": "e", "value": null, "Value": 5},
            {"key": null, "k": "ignored", "name": "f"},
            {"key": "a", "value": 6}
        ]);
        assert_eq!(
            one("from_entries", entries),
            json!({"a": 6, "b": 2, "c": 3, "d": 4, "e": null, "f": null})
        );
        assert_eq!(one("from_entries", json!([])), json!({}));
        assert_eq!(
            one("from_entries", json!({"x": {"key": "k", "value": 1}})),
            json!({"k": 1})
        );
    }

    #[test]
    fn from_entries_refuses_keys_that_are_not_strings_as_jq_does() {
        for (entry, message) in [
            (json!({"key": 1}), "Cannot use number (1) as object key"),
            (
                json!({"key": true}),
                "Cannot use boolean (true) as object key",
            ),
            (
                json!({"key": false}),
                "Cannot use null (null) as object key",
            ),
            (
                json!({"Name": false}),
                "Cannot use boolean (false) as object key",
            ),
            (
                json!({"k": "a", "v": 1}),
                "Cannot use null (null) as object key",
            ),
            (json!(null), "Cannot use null (null) as object key"),
            (json!([1]), "Cannot index array with string (\"key\")"),
            (json!("s"), "Cannot index string with string (\"key\")"),
        ] {
            assert_eq!(fails("from_entries", json!([entry])), message, "{entry}");
        }
        assert_eq!(
            fails("from_entries", json!(null)),
            "Cannot iterate over null (null)"
        );
    }

    #[test]
    fn keys_sort_and_keys_unsorted_keep_order() {
        assert_eq!(
            one("keys", json!({"b": 1, "a": 2, "A": 3})),
            json!(["A", "a", "b"])
        );
        assert_eq!(
            one("keys_unsorted", json!({"b": 1, "a": 2})),
            json!(["b", "a"])
        );
        assert_eq!(one("keys", json!([5, 6])), json!([0, 1]));
        assert_eq!(fails("keys", json!("ab")), "string (\"ab\") has no keys");
    }

    #[test]
    fn with_entries_round_trips_through_the_natives() {
        assert_eq!(
            all(
                "with_entries(.key |= \"KEY_\" + .)",
                json!({"a": 1, "b": 2})
            )
            .ok(),
            Some(vec![json!({"KEY_a": 1, "KEY_b": 2})])
        );
    }
}
