//! `itemsToParse`: one raw item becomes one item per element of a jq-selected array, exactly
//! as Port's `handle_items_to_parse` does it (`port_ocean/core/integrations/mixins/utils.py`).
//!
//! For each raw item: the array is `first(itemsToParse)` (an error gives null); with
//! `itemsToParseTopLevelTransform` the parent becomes `. | del(<path>)`, where `<path>` is the
//! first simple path Port's `extract_jq_deletion_path_revised` finds in the expression, or
//! `.` when it finds none (so the parent, now null, is skipped); a value that is not an array
//! skips the item; each element yields `{...parent, <itemsToParseName>: element}`.

use serde_json::Value;

use crate::jq::{Engine, Input, Program};

/// The compiled `itemsToParse` of a resource.
pub(crate) struct Exploder {
    /// The expression, as written.
    pub(crate) expr: String,
    items: Result<std::sync::Arc<Program>, String>,
    /// `None`: no transform; `Some(None)`: the path is `.`, the parent is always dropped;
    /// `Some(Some(program))`: `. | del(<path>)`.
    transform: Option<Option<Result<std::sync::Arc<Program>, String>>>,
    name: String,
}

/// Why an item yielded nothing.
pub(crate) enum Skip {
    /// Port logs a warning and skips the item.
    Warn(String),
    /// Port fails the whole batch (the parent is not an object): an item error here.
    Fail(String),
}

impl Exploder {
    /// Compiles the expression and its deletion transform once.
    pub(crate) fn new(engine: &Engine, expr: &str, name: &str, transform: bool) -> Exploder {
        let compile = |e: &str| engine.compile(e).map_err(|err| err.message);
        let transform = transform.then(|| {
            let path = deletion_path(expr).unwrap_or(".");
            (path != ".").then(|| compile(&format!(". | del({path})")))
        });
        Exploder {
            expr: expr.to_owned(),
            items: compile(expr),
            transform,
            name: name.to_owned(),
        }
    }

    /// The items one raw item becomes, in order, or why it becomes none.
    pub(crate) fn explode(&self, item: &Value) -> Result<Vec<Value>, Skip> {
        let input = Input::new(item);
        // Port's `_search`: an error gives null (we keep jq's message for the finding).
        let array = match &self.items {
            Ok(p) => p.first(&input).map_err(|e| e.message),
            Err(message) => Err(format!("does not compile: {message}")),
        };
        let parent = match &self.transform {
            None => item.clone(),
            Some(None) => {
                return Err(Skip::Warn(format!(
                    "no path to delete found in `{}`: the top-level transform `del(.)` gives null \
                     and the item is skipped (set itemsToParseTopLevelTransform: false)",
                    self.expr
                )));
            }
            Some(Some(Err(message))) => {
                return Err(Skip::Warn(format!(
                    "the top-level transform does not compile: {message}"
                )));
            }
            Some(Some(Ok(p))) => match p.first(&input) {
                Ok(Some(v)) if !v.is_null() => v,
                Ok(_) => return Err(Skip::Warn("the top-level transform gave null".into())),
                Err(e) => {
                    return Err(Skip::Warn(format!(
                        "the top-level transform failed: {}",
                        e.message
                    )));
                }
            },
        };
        let elements = match array {
            Ok(Some(Value::Array(a))) => a,
            Ok(other) => {
                return Err(Skip::Warn(format!(
                    "itemsToParse gave {}, not an array",
                    type_name(other.as_ref())
                )));
            }
            Err(why) => return Err(Skip::Warn(format!("itemsToParse failed: {why}"))),
        };
        let Value::Object(parent) = parent else {
            return Err(Skip::Fail(format!(
                "the item is {}, not an object: its elements cannot be merged into it",
                type_name(Some(&parent))
            )));
        };
        Ok(elements
            .into_iter()
            .map(|element| {
                let mut merged = parent.clone();
                merged.insert(self.name.clone(), element);
                Value::Object(merged)
            })
            .collect())
    }
}

/// jq's name of a value's type (`null` for no value).
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// Port's `extract_jq_deletion_path_revised`: the first simple path (`.a.b`, `.a[0]`,
/// `.["x"]`) that starts a `|`-separated segment of the expression (of the first
/// parenthesised group when it starts with `(`), skipping `. as $x` and `$x` segments.
pub(crate) fn deletion_path(expr: &str) -> Option<&str> {
    let expr = expr.trim();
    let chain = match expr.strip_prefix('(') {
        // `re.match(r"\((.*?)\)")`: up to the first closing parenthesis.
        Some(rest) => rest[..rest.find(')')?].trim(),
        None => expr,
    };
    for segment in chain.split('|') {
        let segment = segment.trim();
        if is_as_binding(segment) || segment == "." || segment.starts_with('$') {
            continue;
        }
        if let Some(len) = simple_path_len(segment) {
            return Some(segment[..len].trim());
        }
    }
    None
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `^\.\s+as\s+\$\w+`
fn is_as_binding(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('.') else {
        return false;
    };
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return false;
    }
    let Some(rest) = trimmed.strip_prefix("as") else {
        return false;
    };
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return false;
    }
    trimmed
        .strip_prefix('$')
        .and_then(|r| r.chars().next())
        .is_some_and(is_word)
}

/// Length of the match of `(\.\w+|\.\[[^\]]+\])(\.\w+|\[[^\]]+\]|\.\[[^\]]+\])*` at the start.
fn simple_path_len(s: &str) -> Option<usize> {
    let step = |at: usize, first: bool| -> Option<usize> {
        let rest = &s[at..];
        if let Some(after_dot) = rest.strip_prefix('.') {
            if let Some(inner) = after_dot.strip_prefix('[') {
                return bracket_len(inner).map(|n| 2 + n);
            }
            let words: usize = after_dot
                .chars()
                .take_while(|c| is_word(*c))
                .map(char::len_utf8)
                .sum();
            return (words > 0).then_some(1 + words);
        }
        if !first && let Some(inner) = rest.strip_prefix('[') {
            return bracket_len(inner).map(|n| 1 + n);
        }
        None
    };
    let mut at = step(0, true)?;
    while let Some(n) = step(at, false) {
        at += n;
    }
    Some(at)
}

/// `[^\]]+\]` after an opening bracket: its length including the closing bracket.
fn bracket_len(inner: &str) -> Option<usize> {
    let close = inner.find(']')?;
    (close > 0).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_paths_are_found_as_port_finds_them() {
        let cases = [
            (".columns", Some(".columns")),
            (".columns // []", Some(".columns")),
            (".a.b[0].c | map(.x)", Some(".a.b[0].c")),
            (".columns[]", Some(".columns")),
            (".[\"x y\"].z", Some(".[\"x y\"].z")),
            ("(.columns | map(select(.x)))", Some(".columns")),
            (". as $root | .items", Some(".items")),
            ("$x | .items", Some(".items")),
            ("[.columns[] | select(.itemLimit > 0)]", None),
            ("map(.x)", None),
            (".", None),
            (".fields.\"System.Tags\"", Some(".fields")),
            (".élan.x", Some(".élan.x")),
            ("(.a", None),
        ];
        for (expr, want) in cases {
            assert_eq!(deletion_path(expr), want, "{expr}");
        }
    }
}
