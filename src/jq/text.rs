//! jq's text of values: `tostring` and `tojson` (jq 1.8's number rendering, a size cap, the
//! nesting limit) and the `type (value)` form error messages show values in.

use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Native, ValXs};
use jaq_json::Val;

use super::budget;
use super::compat::{fail, ok};
use super::convert::{MAX_DEPTH, too_deep};
use super::natives::{D, type_of};
use super::number;

/// `type (value)` as jq's error messages show a value, truncated like jq 1.8.
pub(crate) fn describe(v: &Val) -> String {
    let dump = to_json_capped(v, 64).unwrap_or_else(|| "...".to_owned());
    let shown = if dump.len() > 29 {
        let mut cut = 25;
        while !dump.is_char_boundary(cut) {
            cut -= 1;
        }
        let close = match dump.as_bytes()[0] {
            b'{' => "}",
            b'[' => "]",
            b'"' => "\"",
            _ => "",
        };
        format!("{}...{close}", &dump[..cut])
    } else {
        dump
    };
    format!("{} ({shown})", type_of(v))
}

/// jq's compact JSON text of a value (for messages: a value nested too deeply shows as
/// `<too deep>`).
pub(crate) fn to_json(v: &Val) -> String {
    to_json_capped(v, usize::MAX).unwrap_or_else(|| "<too deep>".to_owned())
}

/// Like [`to_json`], but stops soon after `cap` bytes; `None` when the value nests deeper
/// than [`MAX_DEPTH`] within those bytes.
fn to_json_capped(v: &Val, cap: usize) -> Option<String> {
    let mut out = String::new();
    write_json(v, &mut out, 0, cap).then_some(out)
}

/// Writes `v` at nesting `depth`; false when it nests too deeply. The recursion is bounded
/// by [`MAX_DEPTH`], and by `cap`, past which nothing more is written.
fn write_json(v: &Val, out: &mut String, depth: usize, cap: usize) -> bool {
    if out.len() > cap {
        return true;
    }
    let container = matches!(v, Val::Arr(_) | Val::Obj(_));
    if container && depth >= MAX_DEPTH {
        return false;
    }
    let depth = depth + 1;
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => out.push_str(&number::format(n)),
        Val::TStr(s) | Val::BStr(s) => write_str(&String::from_utf8_lossy(s), out),
        Val::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_json(x, out, depth, cap) {
                    return false;
                }
            }
            out.push(']');
        }
        Val::Obj(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Val::TStr(s) | Val::BStr(s) => write_str(&String::from_utf8_lossy(s), out),
                    other => write_str(&to_json(other), out),
                }
                out.push(':');
                if !write_json(x, out, depth, cap) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// jq's `tostring`: strings unchanged, everything else as JSON text (cut short past the
/// size limit; callers check the size).
pub(crate) fn to_string(v: Val) -> Result<Val, String> {
    match v {
        Val::TStr(_) => Ok(v),
        other => to_json_capped(&other, budget::max_bytes())
            .map(Val::from)
            .ok_or_else(|| too_deep("value")),
    }
}

fn tostring(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match to_string(cv.1) {
        Ok(Val::TStr(s)) if s.len() > budget::max_bytes() => fail(budget::OUTPUT),
        Ok(v) => ok(v),
        Err(e) => fail(e),
    }
}

fn tojson(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match to_json_capped(&cv.1, budget::max_bytes()) {
        None => fail(too_deep("value")),
        Some(text) if text.len() > budget::max_bytes() => fail(budget::OUTPUT),
        Some(text) => ok(Val::from(text)),
    }
}

/// The text natives (the prelude binds `tostring`, `tojson`, `@text` and `@json`).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__tostring", v(0), Native::<D>::new(tostring)),
        ("__tojson", v(0), Native::<D>::new(tojson)),
    ]
}
