//! The fast path: plain paths (`.a.b`, `.["x"]`, `.fields["System.Title"]`, `.[0]`) and
//! literals, evaluated directly on `serde_json::Value` with jq's semantics.

use serde_json::Value;

/// One step of a plain path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(i64),
}

/// A program the fast path can run without jaq.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fast {
    Path(Vec<Seg>),
    Literal(Value),
}

/// Classifies `expr` (already rewritten) as a fast-path program, if it is one.
pub(crate) fn classify(expr: &str) -> Option<Fast> {
    let e = expr.trim();
    if e.is_empty() {
        return None;
    }
    if e.starts_with('.') {
        return parse_path(e).map(Fast::Path);
    }
    // Literals: JSON scalars only; strings must not hold jq interpolation.
    let first = e.as_bytes()[0];
    let candidate = matches!(first, b'"' | b't' | b'f' | b'n' | b'0'..=b'9');
    if !candidate || (first == b'"' && e.contains("\\(")) {
        return None;
    }
    match serde_json::from_str::<Value>(e) {
        Ok(v @ (Value::Null | Value::Bool(_) | Value::String(_))) => Some(Fast::Literal(v)),
        // Integers beyond 2^53 and exponent forms print through doubles in jq: leave them
        // to the engine.
        Ok(Value::Number(n))
            if n.as_f64().is_some_and(f64::is_finite)
                && !e.contains(['e', 'E'])
                && n.as_i64().is_none_or(|i| i.unsigned_abs() <= 1 << 53)
                && (n.is_i64() || n.is_f64()) =>
        {
            Some(Fast::Literal(Value::Number(n)))
        }
        _ => None,
    }
}

fn parse_path(e: &str) -> Option<Vec<Seg>> {
    let b = e.as_bytes();
    let mut i = 0;
    let mut segs = Vec::new();
    if e == "." {
        return Some(segs);
    }
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                match b.get(i) {
                    Some(b'[') => {
                        let (seg, next) = bracket(e, i)?;
                        segs.push(seg);
                        i = next;
                    }
                    Some(b'"') => {
                        let (s, next) = string(e, i)?;
                        segs.push(Seg::Key(s));
                        i = next;
                    }
                    Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                        let start = i;
                        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                            i += 1;
                        }
                        segs.push(Seg::Key(e[start..i].to_owned()));
                    }
                    _ => return None,
                }
            }
            b'[' if !segs.is_empty() => {
                let (seg, next) = bracket(e, i)?;
                segs.push(seg);
                i = next;
            }
            _ => return None,
        }
    }
    Some(segs)
}

/// Parses `["key"]` or `[int]` starting at the `[`.
pub(crate) fn bracket(e: &str, open: usize) -> Option<(Seg, usize)> {
    let b = e.as_bytes();
    let i = open + 1;
    match b.get(i)? {
        b'"' => {
            let (s, next) = string(e, i)?;
            (b.get(next) == Some(&b']')).then(|| (Seg::Key(s), next + 1))
        }
        _ => {
            let close = i + e[i..].find(']')?;
            let text = &e[i..close];
            let ok = !text.is_empty()
                && text
                    .bytes()
                    .enumerate()
                    .all(|(k, c)| c.is_ascii_digit() || (k == 0 && c == b'-' && text.len() > 1));
            if !ok {
                return None;
            }
            Some((Seg::Index(text.parse().ok()?), close + 1))
        }
    }
}

/// Parses a JSON-compatible string literal starting at the `"`.
pub(crate) fn string(e: &str, open: usize) -> Option<(String, usize)> {
    let b = e.as_bytes();
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if b.get(i + 1) == Some(&b'(') {
                    return None;
                }
                i += 2;
            }
            b'"' => {
                let s: String = serde_json::from_str(&e[open..=i]).ok()?;
                return Some((s, i + 1));
            }
            _ => i += 1,
        }
    }
    None
}

/// Runs a plain path on a value with jq's semantics.
pub(crate) fn run_path(segs: &[Seg], v: &Value) -> Result<Value, String> {
    let mut cur = v;
    for seg in segs {
        cur = match (cur, seg) {
            (Value::Null, _) => return Ok(Value::Null),
            (Value::Object(m), Seg::Key(k)) => match m.get(k) {
                Some(x) => x,
                None => return Ok(Value::Null),
            },
            (Value::Array(a), Seg::Index(i)) => {
                let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
                let idx = if *i < 0 { len + i } else { *i };
                match usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                    Some(x) => x,
                    None => return Ok(Value::Null),
                }
            }
            (other, Seg::Key(k)) => {
                let key = serde_json::to_string(k).unwrap_or_default();
                return Err(format!(
                    "Cannot index {} with string ({key})",
                    type_name(other)
                ));
            }
            (other, Seg::Index(i)) => {
                return Err(format!(
                    "Cannot index {} with number ({i})",
                    type_name(other)
                ));
            }
        };
    }
    // Cloning recurses: a value nested past the limit is refused, as jaq's input would be.
    if super::convert::json_deeper_than(cur, super::convert::MAX_DEPTH) {
        return Err(super::convert::too_deep("output"));
    }
    Ok(cur.clone())
}

/// jq's name for a value's type.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(e: &str) -> Vec<Seg> {
        match classify(e) {
            Some(Fast::Path(p)) => p,
            other => panic!("{e}: {other:?}"),
        }
    }

    #[test]
    fn classifies_plain_paths() {
        assert_eq!(path("."), vec![]);
        assert_eq!(
            path(".a.b"),
            vec![Seg::Key("a".into()), Seg::Key("b".into())]
        );
        assert_eq!(
            path(".fields[\"System.Title\"]"),
            vec![Seg::Key("fields".into()), Seg::Key("System.Title".into())]
        );
        assert_eq!(
            path(".[\"x\"][0]"),
            vec![Seg::Key("x".into()), Seg::Index(0)]
        );
        assert_eq!(path(".a[-1]"), vec![Seg::Key("a".into()), Seg::Index(-1)]);
        assert_eq!(path(".\"a b\""), vec![Seg::Key("a b".into())]);
    }

    #[test]
    fn leaves_everything_else_to_jaq() {
        for e in [
            ".a | .b",
            ".a?",
            ".[]",
            ".a // 1",
            "\"\\(.a)\"",
            ".a[1:2]",
            "..",
            "1e1000",
            "-1",
        ] {
            assert_eq!(classify(e), None, "{e}");
        }
    }

    #[test]
    fn classifies_literals() {
        assert_eq!(classify(" \"x\" "), Some(Fast::Literal(json!("x"))));
        assert_eq!(classify("null"), Some(Fast::Literal(json!(null))));
        assert_eq!(classify("12"), Some(Fast::Literal(json!(12))));
    }

    #[test]
    fn runs_paths_with_jq_semantics() {
        let v = json!({"a": {"b": [1, 2]}, "n": 3});
        let p = |e| run_path(&path(e), &v);
        assert_eq!(p(".a.b[-1]"), Ok(json!(2)));
        assert_eq!(p(".a.b[5]"), Ok(json!(null)));
        assert_eq!(p(".x.y.z"), Ok(json!(null)));
        assert_eq!(
            p(".n.a"),
            Err("Cannot index number with string (\"a\")".into())
        );
        assert_eq!(
            p(".a[0]"),
            Err("Cannot index object with number (0)".into())
        );
        assert_eq!(
            p(".a.b.c"),
            Err("Cannot index array with string (\"c\")".into())
        );
    }
}
