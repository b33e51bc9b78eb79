//! Turning a [`Plan`](super::Plan) and an [`ApplyReport`](super::ApplyReport) into text:
//! `text` for terminals, `markdown` for pull-request comments, `json` for machines.
//!
//! Renderers are pure functions from data to `String`; the CLI decides where it goes.

pub mod json;
pub mod markdown;
pub mod text;

use serde_json::Value;

use crate::entity::Entity;
use crate::reconcile::blueprints::BlueprintPlan;

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

/// The blueprint part of a plan as entries, one string per blueprint, in the order apply
/// runs them: creates, updates field by field (marked `update_mark`), deletes. `detailed`
/// (a `diff` block) lists a create's fields and marks every line; otherwise a create is one
/// line and an update's fields are indented under it.
pub(crate) fn blueprint_entries(
    b: &BlueprintPlan,
    update_mark: &str,
    detailed: bool,
) -> Vec<String> {
    use std::fmt::Write;
    let mut out = Vec::new();
    for c in &b.creates {
        let mut t = format!("+ blueprint {}", name(&c.identifier));
        if c.relations_after {
            t.push_str(
                "  (created without its relations, which are set once its relation cycle exists)",
            );
        }
        t.push('\n');
        if detailed {
            for f in crate::blueprint::diff(None, Some(&c.document)) {
                let _ = writeln!(t, "+     {}: {}", name(&f.field), value(&f.after));
            }
        }
        out.push(t);
    }
    for u in &b.updates {
        let mut t = format!("{update_mark} blueprint {}\n", name(&u.identifier));
        // A diff block marks every line; a terminal indents the fields under their header.
        let lead = if detailed { update_mark } else { " " };
        for f in &u.changes {
            let _ = writeln!(
                t,
                "{lead}     {}: {} → {}",
                name(&f.field),
                value(&f.before),
                value(&f.after)
            );
        }
        out.push(t);
    }
    for id in &b.deletes {
        out.push(format!("- blueprint {}\n", name(id)));
    }
    out
}

/// The blueprint part's notes, one sentence each: deletes held back, entries kept, warnings.
pub(crate) fn blueprint_notes(b: &BlueprintPlan) -> Vec<String> {
    let mut out = Vec::new();
    for blocked in &b.blocked {
        out.push(format!(
            "blueprint {} is not deleted: {}",
            name(&blocked.identifier),
            blocked.message
        ));
    }
    for kept in &b.kept {
        let fields: Vec<String> = kept.fields.iter().map(|f| name(f)).collect();
        out.push(format!(
            "blueprint {} keeps {} the config no longer declares: {} (--prune-blueprints removes them)",
            name(&kept.identifier),
            count(kept.fields.len(), "entry"),
            fields.join(", ")
        ));
    }
    out.extend(b.warnings.iter().cloned());
    out
}

/// The entities sent with a search identifier, one entry each (`~ blueprint {query}`), with
/// the fields written when `detailed`.
pub(crate) fn searched_entries(plan: &crate::reconcile::Plan, detailed: bool) -> Vec<String> {
    use std::fmt::Write;
    plan.searched
        .iter()
        .map(|s| {
            let mut t = format!(
                "~ {} {}  (search identifier: the catalog resolves it on write, and the \
                 entity it resolves to is not deleted in this run)\n",
                name(s.blueprint()),
                value(s.query())
            );
            if detailed && let Ok(e) = s.resolved("") {
                for (field, v) in created_fields(&e) {
                    let _ = writeln!(t, "~     {field}: {v}");
                }
            }
            t
        })
        .collect()
}

/// The search identifiers that did not resolve, one sentence each.
pub(crate) fn search_error_lines(plan: &crate::reconcile::Plan) -> Vec<String> {
    plan.search_errors
        .iter()
        .map(|e| {
            format!(
                "{} {} (kind {}, item {}): {}",
                name(&e.blueprint),
                value(&e.query),
                name(&e.kind),
                name(&e.item),
                e.message
            )
        })
        .collect()
}

/// Orders identifiers as people count: runs of digits by their value (`2` before `10`),
/// the rest as text.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a, b);
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let dx = x.len() - x.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let dy = y.len() - y.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let ord = if dx > 0 && dy > 0 {
            let (nx, ny) = (
                x[..dx].trim_start_matches('0'),
                y[..dy].trim_start_matches('0'),
            );
            nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
        } else {
            let (cx, cy) = (x.chars().next(), y.chars().next());
            cx.cmp(&cy)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        let (sx, sy) = if dx > 0 && dy > 0 {
            (dx, dy)
        } else {
            let n = x.chars().next().map_or(0, char::len_utf8);
            (n, n)
        };
        x = &x[sx..];
        y = &y[sy..];
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_sort_as_people_count() {
        let mut ids = vec!["100", "11", "10", "1", "a2", "a10", "b", "a1b"];
        ids.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(ids, ["1", "10", "11", "100", "a1b", "a2", "a10", "b"]);
    }
}
