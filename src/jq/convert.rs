//! Conversions between `serde_json::Value` and jaq's value, with jq's number rendering and
//! checks that every output is valid JSON; and the nesting limit every value an evaluation
//! holds stays within.
//!
//! Values nest as deep as the stack allows recursion over them: jaq compares, hashes and
//! drops its values recursively, and so do these conversions and the natives that print or
//! walk values. No value deeper than [`MAX_DEPTH`] is let in (inputs, `fromjson`) or built
//! (array and object construction, `setpath`, `to_entries`, `group_by`, …; see `natives`),
//! so every such recursion is bounded; the checks below run without recursion.

use jaq_core::ValT as _;
use jaq_json::{Num, Val};
use jaq_std::ValT as _;
use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and objects a value may have, anywhere in an evaluation: its
/// input, every value it builds, its outputs. jq itself prints at most 256 levels and parses
/// 10,000; no ADO item comes close to either (their JSON parser stops at 128).
pub(crate) const MAX_DEPTH: usize = 512;

/// The error for a value nested deeper than [`MAX_DEPTH`]: `what` names it (`input`, `value`).
pub(crate) fn too_deep(what: &str) -> String {
    format!("{what} too deeply nested (limit {MAX_DEPTH})")
}

/// Whether `v` has more than `limit` levels of arrays and objects (a scalar has none, `[]`
/// and `[1]` one), found without recursion.
pub(crate) fn deeper_than(v: &Val, limit: usize) -> bool {
    let container = |v: &Val| matches!(v, Val::Arr(_) | Val::Obj(_));
    let mut stack: Vec<(&Val, usize)> = Vec::new();
    if container(v) {
        stack.push((v, 1));
    }
    while let Some((v, level)) = stack.pop() {
        if level > limit {
            return true;
        }
        match v {
            Val::Arr(a) => stack.extend(a.iter().filter(|x| container(x)).map(|x| (x, level + 1))),
            Val::Obj(o) => {
                for (k, x) in o.iter() {
                    for y in [k, x] {
                        if container(y) {
                            stack.push((y, level + 1));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// [`deeper_than`] for a `serde_json` value.
pub(crate) fn json_deeper_than(v: &Value, limit: usize) -> bool {
    let container = |v: &Value| matches!(v, Value::Array(_) | Value::Object(_));
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    if container(v) {
        stack.push((v, 1));
    }
    while let Some((v, level)) = stack.pop() {
        if level > limit {
            return true;
        }
        match v {
            Value::Array(a) => {
                stack.extend(a.iter().filter(|x| container(x)).map(|x| (x, level + 1)))
            }
            Value::Object(o) => {
                stack.extend(o.values().filter(|x| container(x)).map(|x| (x, level + 1)))
            }
            _ => {}
        }
    }
    false
}

/// Converts an input value to jaq's representation.
pub(crate) fn to_val(v: &Value, depth: usize) -> Result<Val, String> {
    if depth >= MAX_DEPTH && matches!(v, Value::Array(_) | Value::Object(_)) {
        return Err(too_deep("input"));
    }
    Ok(match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => number_to_val(n),
        Value::String(s) => text(s),
        Value::Array(a) => a
            .iter()
            .map(|x| to_val(x, depth + 1))
            .collect::<Result<Val, String>>()?,
        Value::Object(m) => {
            let mut map = jaq_json::Map::with_capacity_and_hasher(m.len(), Default::default());
            for (k, x) in m {
                map.insert(text(k), to_val(x, depth + 1)?);
            }
            Val::obj(map)
        }
    })
}

/// [`to_val`] of the object `m` cut down to `keys` (in `m`'s order).
pub(crate) fn to_val_keys(m: &Map<String, Value>, keys: &[String]) -> Result<Val, String> {
    let mut map = jaq_json::Map::with_capacity_and_hasher(keys.len(), Default::default());
    for (k, x) in m {
        if keys.iter().any(|key| key == k) {
            map.insert(text(k), to_val(x, 1)?);
        }
    }
    Ok(Val::obj(map))
}

/// A string value holding a copy of `s`: one allocation, where `Val::from(String)` takes
/// three (the `String`, the owner that keeps it, the box).
fn text(s: &str) -> Val {
    Val::utf8_str(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// Integers stay integers; a float becomes the literal Port's jq would parse (Python's
/// `repr` of it), so `tostring` renders it as jq does (`3.0` stays `3.0`).
fn number_to_val(n: &Number) -> Val {
    if let Some(i) = n.as_i64().and_then(|i| isize::try_from(i).ok()) {
        return Val::from(i);
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if n.is_f64()
        && f.is_finite()
        && let Ok(v) = Val::from_num(&super::number::python_repr(f))
    {
        return v;
    }
    Val::from(f)
}

/// Converts an output value to JSON, charging its approximate size against `budget`.
pub(crate) fn from_val(v: &Val, depth: usize, budget: &mut usize) -> Result<Value, String> {
    if depth >= MAX_DEPTH && matches!(v, Val::Arr(_) | Val::Obj(_)) {
        return Err(too_deep("output"));
    }
    let spend = |budget: &mut usize, n: usize| -> Result<(), String> {
        *budget = budget
            .checked_sub(n)
            .ok_or_else(|| super::budget::OUTPUT.to_owned())?;
        Ok(())
    };
    Ok(match v {
        Val::Null => {
            spend(budget, 4)?;
            Value::Null
        }
        Val::Bool(b) => {
            spend(budget, 5)?;
            Value::Bool(*b)
        }
        Val::Num(n) => {
            spend(budget, 8)?;
            num_to_json(n)
        }
        Val::TStr(b) => {
            spend(budget, b.len() + 2)?;
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        Val::BStr(_) => return Err("cannot convert a byte string to JSON".into()),
        Val::Arr(a) => {
            spend(budget, 2)?;
            let mut out = Vec::with_capacity(a.len());
            for x in a.iter() {
                out.push(from_val(x, depth + 1, budget)?);
            }
            Value::Array(out)
        }
        Val::Obj(o) => {
            spend(budget, 2)?;
            let mut out = Map::new();
            for (k, x) in o.iter() {
                let key = match k {
                    Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
                    other => {
                        return Err(format!(
                            "Object keys must be strings, not {}",
                            super::natives::type_of(other)
                        ));
                    }
                };
                spend(budget, key.len() + 3)?;
                out.insert(key, from_val(x, depth + 1, budget)?);
            }
            Value::Object(out)
        }
    })
}

/// jq's JSON rendering of a number as a `serde_json` number: NaN becomes `null`, infinities
/// the largest finite doubles, integral values within 2^53 integers.
pub(crate) fn num_to_json(n: &Num) -> Value {
    match n {
        // jq prints integers beyond 2^53 through a double.
        Num::Int(i) if i.unsigned_abs() > 1 << 53 => f64_to_json(*i as f64, false),
        Num::Int(i) => Value::Number(Number::from(*i as i64)),
        Num::Dec(s) => match s.parse::<f64>() {
            // A decimal literal keeps its form in jq 1.8's output (`1.0` stays `1.0`); one
            // with an exponent prints as the double it denotes (`1e3` is `1000`).
            Ok(f) if f.is_finite() && s.contains('.') && !s.contains(['e', 'E']) => {
                f64_to_json(f, true)
            }
            Ok(f) => f64_to_json(f, false),
            Err(_) => Value::Null,
        },
        other => f64_to_json(Val::Num(other.clone()).as_f64().unwrap_or(f64::NAN), false),
    }
}

fn f64_to_json(f: f64, keep_float: bool) -> Value {
    if f.is_nan() {
        return Value::Null;
    }
    let f = f.clamp(f64::MIN, f64::MAX);
    if !keep_float && f.fract() == 0.0 && f.abs() < 1e17 {
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Drops a value without recursion, so a deeply nested result cannot overflow the stack.
pub(crate) fn drop_deep(v: Val) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Val::Arr(a) => {
                if let Ok(items) = jaq_json::Rc::try_unwrap(a) {
                    stack.extend(items);
                }
            }
            Val::Obj(o) => {
                if let Ok(map) = jaq_json::Rc::try_unwrap(o) {
                    for (k, x) in map {
                        stack.push(k);
                        stack.push(x);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json_values() {
        let v = json!({"a": [1, 2.5, "x", null, true, {"b": {}}], "big": 12345678901234u64});
        let val = to_val(&v, 0).unwrap();
        let mut budget = usize::MAX;
        assert_eq!(from_val(&val, 0, &mut budget).unwrap(), v);
    }

    #[test]
    fn renders_nan_as_null_and_infinity_as_max_double() {
        assert_eq!(num_to_json(&Num::Float(f64::NAN)), json!(null));
        assert_eq!(num_to_json(&Num::Float(f64::INFINITY)), json!(f64::MAX));
        assert_eq!(num_to_json(&Num::Float(2.0)), json!(2));
    }

    #[test]
    fn rejects_outputs_over_the_size_budget() {
        let val = to_val(&Value::Array(vec![json!("aaaaaaaaaa"); 10]), 0).unwrap();
        let mut budget = 50;
        assert!(from_val(&val, 0, &mut budget).is_err());
    }
}
