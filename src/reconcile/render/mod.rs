//! Turning a [`Plan`](super::Plan) and an [`ApplyReport`](super::ApplyReport) into text:
//! `text` for terminals, `markdown` for pull-request comments, `json` for machines.
//!
//! Renderers are pure functions from data to `String`; the CLI decides where it goes.

pub mod json;
pub mod markdown;
pub mod text;

use serde_json::Value;

use crate::entity::Entity;

/// Longest rendering of one value before it is cut (values can be whole documents).
const MAX_VALUE_CHARS: usize = 200;

/// A value as compact JSON, cut to [`MAX_VALUE_CHARS`] characters with `…` when longer.
pub(crate) fn value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_VALUE_CHARS {
        s
    } else {
        let mut cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// An identifier or blueprint, with control characters escaped so it stays on one line.
pub(crate) fn name(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.escape_debug().to_string()
    } else {
        s.to_owned()
    }
}

/// The fields a create writes, as `(field, value)` lines in diff order.
pub(crate) fn created_fields(e: &Entity) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, v) in [("title", &e.title), ("icon", &e.icon), ("team", &e.team)] {
        if let Some(v) = v {
            out.push((field.to_owned(), value(v)));
        }
    }
    for (k, v) in sorted(&e.properties) {
        out.push((format!("properties.{}", name(k)), value(v)));
    }
    for (k, v) in sorted(&e.relations) {
        out.push((format!("relations.{}", name(k)), value(v)));
    }
    out
}

/// `n word` with an `s` when `n` is not 1 (`1 delete`, `2 deletes`).
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        return format!("{n} {word}");
    }
    // English plurals of the nouns output uses: `entity` → `entities`, `key` → `keys`.
    let mut chars = word.chars().rev();
    match (chars.next(), chars.next()) {
        (Some('y'), Some(c)) if !"aeiou".contains(c) => {
            format!("{n} {}ies", &word[..word.len() - 1])
        }
        (Some('s' | 'x'), _) => format!("{n} {word}es"),
        _ => format!("{n} {word}s"),
    }
}

/// A map's entries sorted by key (maps keep insertion order; output shows keys sorted, as
/// update diffs do).
fn sorted(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut kv: Vec<(&String, &Value)> = m.iter().collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv
}
