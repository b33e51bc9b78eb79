//! Selector options as Port's pydantic models read them: leniently typed (a boolean may be
//! written `'true'` or `yes`, a number as a string), with each kind's defaults applied by
//! the kind. Shared by every kind module.

use serde_json::{Map, Value};

/// A boolean as Port's pydantic models read one (the selector schemas' `boolish`): a
/// boolean, the integers 0 and 1, or one of the strings `true`, `false`, `yes`, `no`, `on`,
/// `off`, `t`, `f`, `y`, `n`, `1`, `0` in any case. Anything else is no boolean.
pub(crate) fn boolish(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "t" | "y" | "1" => Some(true),
            "false" | "no" | "off" | "f" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A boolean selector option (see [`boolish`]), `false` when absent.
pub(crate) fn opt_bool(selector: &Map<String, Value>, key: &str) -> bool {
    opt_bool_or(selector, key, false)
}

/// A boolean selector option (see [`boolish`]), `default` when absent or not a boolean.
pub(crate) fn opt_bool_or(selector: &Map<String, Value>, key: &str, default: bool) -> bool {
    selector.get(key).and_then(boolish).unwrap_or(default)
}

/// A string option.
pub(crate) fn opt_str<'a>(selector: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    selector.get(key).and_then(Value::as_str)
}

/// A non-negative integer option (numbers or numeric strings).
pub(crate) fn opt_u64(selector: &Map<String, Value>, key: &str) -> Option<u64> {
    match selector.get(key) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// A list-of-strings option (a single string counts as a list of one).
pub(crate) fn opt_strs(selector: &Map<String, Value>, key: &str) -> Vec<String> {
    match selector.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_read_as_ports_pydantic_reads_them() {
        for yes in [
            json!(true),
            json!(1),
            json!("TRUE"),
            json!("yes"),
            json!("On"),
            json!("t"),
            json!("Y"),
            json!("1"),
        ] {
            assert_eq!(boolish(&yes), Some(true), "{yes}");
        }
        for no in [
            json!(false),
            json!(0),
            json!("False"),
            json!("NO"),
            json!("off"),
            json!("f"),
            json!("n"),
            json!("0"),
        ] {
            assert_eq!(boolish(&no), Some(false), "{no}");
        }
        for neither in [
            json!(2),
            json!("maybe"),
            json!(null),
            json!([]),
            json!(""),
            json!(1.5),
        ] {
            assert_eq!(boolish(&neither), None, "{neither}");
        }
        let selector = json!({"a": "yes", "b": "junk"});
        let selector = selector.as_object().cloned().unwrap_or_default();
        assert!(opt_bool(&selector, "a"));
        assert!(
            opt_bool_or(&selector, "b", true),
            "not a boolean: the default"
        );
        assert!(opt_bool_or(&selector, "missing", true));
        assert!(!opt_bool(&selector, "missing"));
    }
}
