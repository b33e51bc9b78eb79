//! A [`Review`] as text for a terminal or CI log, and as markdown for a pull-request comment.
//!
//! The markdown is read in a minute: one bold summary line first, then the mapping changes,
//! then a table per view, with every detail inside a collapsible `<details>`. It stays under
//! [`LIMIT`] characters (GitHub refuses comments over 65,536; Azure DevOps threads are
//! similar): blocks are added whole while they fit, and a closing note says what was left
//! out and how to see it. Tags and fences are always closed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Review, Revision};
use crate::config::diff::{LeafChange, MappingDiff, ResourceChange};
use crate::reconcile::Plan;
use crate::reconcile::render::{
    blueprint_entries, blueprint_notes, count, created_fields, name, text, value,
};

/// The most characters a markdown rendering holds, the closing note included.
pub const LIMIT: usize = 60_000;
/// Room kept for the closing note and closing tags.
const NOTE_ROOM: usize = 2_000;
/// Table rows (blueprints) shown per view before "and N more".
const TABLE_ROWS: usize = 30;

/// Counts of a mapping diff as a phrase: `1 resource changed, 2 added`.
fn mapping_phrase(d: &MappingDiff) -> String {
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    for r in &d.resources {
        match r {
            ResourceChange::Added { .. } => added += 1,
            ResourceChange::Removed { .. } => removed += 1,
            ResourceChange::Changed { .. } => changed += 1,
        }
    }
    let mut parts = Vec::new();
    if changed > 0 {
        parts.push(format!("{} changed", count(changed, "resource")));
    }
    if added > 0 {
        parts.push(format!("{} added", count(added, "resource")));
    }
    if removed > 0 {
        parts.push(format!("{} removed", count(removed, "resource")));
    }
    if !d.flags.is_empty() {
        parts.push(count(d.flags.len(), "flag") + " changed");
    }
    if !d.blueprints.is_empty() {
        parts.push(count(d.blueprints.len(), "blueprint file") + " changed");
    }
    if parts.is_empty() {
        "no mapping changes".into()
    } else {
        parts.join(", ")
    }
}

fn plan_phrase(p: &Plan) -> String {
    let s = &p.summary;
    if p.has_changes() {
        let mut t = format!(
            "{} create, {} update, {} delete",
            s.create, s.update, s.delete
        );
        if s.blocked_delete > 0 {
            let _ = write!(t, " ({} blocked)", s.blocked_delete);
        }
        if p.blueprints.has_changes() {
            let _ = write!(
                t,
                "; blueprints {} create, {} update, {} delete",
                s.blueprint_create, s.blueprint_update, s.blueprint_delete
            );
        }
        t
    } else {
        "no changes".into()
    }
}

/// The one-line summary every rendering starts with.
pub fn summary_line(r: &Review) -> String {
    let mut line = format!(
        "Mapping: {}. Effect on entities: {}.",
        mapping_phrase(&r.mapping),
        plan_phrase(&r.effect)
    );
    if let Some(apply) = &r.apply {
        let _ = write!(line, " Applying head: {}.", plan_phrase(apply));
    }
    line
}

fn revision(r: &Revision) -> String {
    match &r.commit {
        Some(c) => format!("{} ({})", r.label, short(c)),
        None => r.label.clone(),
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn leaf_line(l: &LeafChange) -> String {
    let show = |v: &Option<String>| match v {
        Some(v) => truncate(v, 120),
        None => "(absent)".into(),
    };
    let at =
        l.at.as_ref()
            .map(|p| format!("  [{p}]"))
            .unwrap_or_default();
    format!("{}: {} → {}{at}", l.path, show(&l.before), show(&l.after))
}

fn truncate(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The mapping diff as `+`/`-`/`~` lines (shared by text and markdown).
fn mapping_lines(d: &MappingDiff) -> Vec<String> {
    let mut out = Vec::new();
    for f in &d.flags {
        out.push(format!("~ {}\n", leaf_line(f)));
    }
    for r in &d.resources {
        let mut t = String::new();
        match r {
            ResourceChange::Added { key, at } => {
                let _ = writeln!(t, "+ {key}  [{at}]");
            }
            ResourceChange::Removed { key, at } => {
                let _ = writeln!(t, "- {key}  [{at}]");
            }
            ResourceChange::Changed { key, at, leaves } => {
                let _ = writeln!(t, "~ {key}  [{at}]");
                for l in leaves {
                    let _ = writeln!(t, "~     {}", leaf_line(l));
                }
            }
        }
        out.push(t);
    }
    for b in &d.blueprints {
        let mark = match b.change {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        let mut t = format!("{mark} blueprint {}: {}\n", name(&b.identifier), b.change);
        for f in &b.fields {
            let _ = writeln!(
                t,
                "{mark}     {}: {} → {}",
                name(&f.field),
                value(&f.before),
                value(&f.after)
            );
        }
        out.push(t);
    }
    out
}

/// Renders a review for a terminal or a CI log.
pub fn text(r: &Review, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(r));
    let _ = writeln!(
        out,
        "Base {} → head {}.",
        revision(&r.base),
        revision(&r.head)
    );
    let _ = writeln!(out, "\n== Mapping changes: {}", mapping_phrase(&r.mapping));
    for l in mapping_lines(&r.mapping) {
        out.push_str(&l);
    }
    let _ = writeln!(
        out,
        "\n== Effect on entities (head against base, same source data)"
    );
    out.push_str(&text::render(&r.effect, color));
    if let Some(apply) = &r.apply {
        let _ = writeln!(
            out,
            "\n== Applying head to {}",
            r.catalog.as_deref().unwrap_or("the catalog")
        );
        out.push_str(&text::render(apply, color));
    }
    out
}

/// Writes blocks while they fit and remembers what did not.
struct Budget {
    out: String,
    limit: usize,
    left_out: Vec<String>,
}

impl Budget {
    fn fits(&self, extra: usize) -> bool {
        self.out.len() + extra <= self.limit
    }
}

/// One blueprint's changes in a plan.
#[derive(Default)]
struct Section {
    create: usize,
    update: usize,
    delete: usize,
    entries: Vec<String>,
}

fn sections(p: &Plan) -> BTreeMap<&str, Section> {
    let mut s: BTreeMap<&str, Section> = BTreeMap::new();
    for e in &p.creates {
        let sec = s.entry(&e.blueprint).or_default();
        sec.create += 1;
        let mut t = format!("+ {}\n", name(&e.identifier));
        for (field, v) in created_fields(e) {
            let _ = writeln!(t, "+     {field}: {v}");
        }
        sec.entries.push(t);
    }
    for u in &p.updates {
        let sec = s.entry(&u.entity.blueprint).or_default();
        sec.update += 1;
        let mut t = format!("! {}\n", name(&u.entity.identifier));
        for c in &u.changes {
            let _ = writeln!(
                t,
                "!     {}: {} → {}",
                c.field,
                value(&c.before),
                value(&c.after)
            );
        }
        sec.entries.push(t);
    }
    for e in &p.deletes {
        let sec = s.entry(&e.blueprint).or_default();
        sec.delete += 1;
        sec.entries.push(format!("- {}\n", name(&e.identifier)));
    }
    s
}

fn cell(s: &str) -> String {
    html(&name(s)).replace('|', "\\|")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Fenced code must not be closed early by a value holding a fence.
fn fence_safe(s: &str) -> String {
    s.replace("```", "ˋˋˋ")
}

/// One view's table and collapsible per-blueprint diffs.
fn plan_markdown(b: &mut Budget, title: &str, p: &Plan) {
    let _ = writeln!(b.out, "\n### {title}\n\n{}", text::summary_line(p));
    let secs = sections(p);
    if !secs.is_empty() {
        b.out
            .push_str("\n| blueprint | create | update | delete |\n|---|---:|---:|---:|\n");
        for (bp, s) in secs.iter().take(TABLE_ROWS) {
            let _ = writeln!(
                b.out,
                "| {} | {} | {} | {} |",
                cell(bp),
                s.create,
                s.update,
                s.delete
            );
        }
        if secs.len() > TABLE_ROWS {
            let _ = writeln!(
                b.out,
                "| … {} more blueprints | | | |",
                secs.len() - TABLE_ROWS
            );
        }
    }
    for blocked in &p.blocked {
        let _ = writeln!(
            b.out,
            "\n> ⚠️ **{} blocked:** {}",
            count(blocked.entities.len(), "delete"),
            html(&blocked.message)
        );
    }
    for note in blueprint_notes(&p.blueprints) {
        let _ = writeln!(b.out, "\n> ⚠️ {}", html(&note));
    }
    let shape = blueprint_entries(&p.blueprints, "!", true);
    if !shape.is_empty() {
        let head = format!(
            "\n<details><summary><b>Blueprints</b>: {} create, {} update, {} delete</summary>\n\n```diff\n",
            p.blueprints.creates.len(),
            p.blueprints.updates.len(),
            p.blueprints.deletes.len()
        );
        const TAIL: &str = "```\n\n</details>\n";
        if b.fits(head.len() + TAIL.len() + 200) {
            b.out.push_str(&head);
            let mut shown = 0;
            for e in &shape {
                let e = fence_safe(e);
                if !b.fits(e.len() + TAIL.len()) {
                    break;
                }
                b.out.push_str(&e);
                shown += 1;
            }
            b.out.push_str(TAIL);
            if shown < shape.len() {
                b.left_out.push(format!(
                    "{title}: blueprints ({} of {})",
                    shape.len() - shown,
                    shape.len()
                ));
            }
        } else {
            b.left_out
                .push(format!("{title}: blueprints ({})", shape.len()));
        }
    }
    for (bp, s) in &secs {
        let head = format!(
            "\n<details><summary><b>{}</b>: {} create, {} update, {} delete</summary>\n\n```diff\n",
            html(&name(bp)),
            s.create,
            s.update,
            s.delete
        );
        const TAIL: &str = "```\n\n</details>\n";
        let total = s.entries.len();
        if !b.fits(head.len() + TAIL.len() + 200) {
            b.left_out.push(format!(
                "{title}: `{}` ({total})",
                name(bp).replace('`', "'")
            ));
            continue;
        }
        b.out.push_str(&head);
        let mut shown = 0;
        for e in &s.entries {
            let e = fence_safe(e);
            if !b.fits(e.len() + TAIL.len()) {
                break;
            }
            b.out.push_str(&e);
            shown += 1;
        }
        b.out.push_str(TAIL);
        if shown < total {
            b.left_out.push(format!(
                "{title}: `{}` ({} of {total})",
                name(bp).replace('`', "'"),
                total - shown
            ));
        }
    }
}

/// Renders a review as a pull-request comment, under [`LIMIT`] characters.
pub fn markdown(r: &Review) -> String {
    let mut b = Budget {
        out: String::new(),
        limit: LIMIT - NOTE_ROOM,
        left_out: Vec::new(),
    };
    let _ = writeln!(b.out, "**{}**", summary_line(r));
    let _ = writeln!(
        b.out,
        "\nBase `{}` → head `{}`.",
        revision(&r.base).replace('`', "'"),
        revision(&r.head).replace('`', "'")
    );

    let _ = writeln!(
        b.out,
        "\n### Mapping changes\n\n{}.",
        mapping_phrase(&r.mapping)
    );
    let lines = mapping_lines(&r.mapping);
    if !lines.is_empty() {
        let head = "\n<details><summary>Resources, leaf by leaf</summary>\n\n```diff\n";
        const TAIL: &str = "```\n\n</details>\n";
        b.out.push_str(head);
        let mut shown = 0;
        for l in &lines {
            let l = fence_safe(l);
            if !b.fits(l.len() + TAIL.len()) {
                break;
            }
            b.out.push_str(&l);
            shown += 1;
        }
        b.out.push_str(TAIL);
        if shown < lines.len() {
            b.left_out
                .push(format!("mapping changes ({})", lines.len() - shown));
        }
    }

    plan_markdown(
        &mut b,
        "Effect on entities (head against base, same source data)",
        &r.effect,
    );
    if let Some(apply) = &r.apply {
        let title = format!(
            "Applying head to {}",
            r.catalog.as_deref().unwrap_or("the catalog")
        );
        plan_markdown(&mut b, &html(&title), apply);
    }

    let mut out = b.out;
    if !b.left_out.is_empty() {
        let mut listed: Vec<String> = b.left_out.iter().take(10).cloned().collect();
        if b.left_out.len() > 10 {
            listed.push(format!("and {} more sections", b.left_out.len() - 10));
        }
        let note = format!(
            "\n_Truncated to stay under {LIMIT} characters; left out: {}. The counts above are \
             complete; run `adoport plan --base … --format json` for every change._\n",
            listed.join(", ")
        );
        // The note is bounded by the listing cap above; never let it pass the limit.
        let room = LIMIT.saturating_sub(out.len());
        if note.len() <= room {
            out.push_str(&note);
        } else {
            out.push_str(&truncate_bytes(&note, room));
        }
    }
    out
}

fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = max.min(s.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A pull-request comment for a config the lint gate refused: the headline, then the
/// findings as `adoport lint` prints them (no colour), in a fenced block.
pub fn refused_markdown(
    headline: &str,
    diagnostics: &[crate::config::Diagnostic],
    sources: &[std::sync::Arc<crate::config::source::SourceFile>],
) -> String {
    let findings = crate::config::render::text(diagnostics, sources, false);
    let mut text = format!("### adoport: {headline}\n\n");
    let fence = fence_for(&findings);
    let _ = write!(
        text,
        "Fix these and push again (`adoport lint` shows the same):\n\n{fence}text\n{}{}{fence}\n",
        findings,
        if findings.ends_with('\n') { "" } else { "\n" }
    );
    if text.len() > LIMIT {
        let mut cut = LIMIT - NOTE_ROOM;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        let _ = write!(
            text,
            "\n{fence}\n\n… cut: run `adoport lint` to see every finding.\n"
        );
    }
    text
}

/// A code fence longer than any run of backticks in `text`, so the block always closes.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}
