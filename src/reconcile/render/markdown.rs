//! The plan as a pull-request comment: a one-line summary, a table per blueprint, warnings
//! for held-back deletes, then one collapsible `<details>` section per blueprint holding a
//! `diff` block of its changes (`+` create, `!` update, `-` delete).
//!
//! PR comments have a size limit (GitHub: 65,536 characters; Azure DevOps is similar), so the
//! output stays under [`LIMIT`] bytes (hence characters): sections are added whole while they
//! fit, the one that does not is cut between entities, and a closing note says how many
//! changes in which blueprints were left out. Tags and fences are always closed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{count, created_fields, name, natural_cmp, value};
use crate::entity::Entity;
use crate::reconcile::apply::ApplyReport;
use crate::reconcile::plan::{Plan, Update};

/// The most bytes a rendering holds, the closing note included.
pub const LIMIT: usize = 60_000;
/// Room kept for the closing note.
const NOTE_ROOM: usize = 1_500;
/// Blueprint names listed in the truncation note before "and N more".
const NOTE_BLUEPRINTS: usize = 10;
/// Held-back deletes listed per guard (the rest are counted).
const BLOCKED_LISTED: usize = 50;

/// One blueprint's share of the plan.
#[derive(Default)]
struct Section<'a> {
    creates: Vec<&'a Entity>,
    updates: Vec<&'a Update>,
    deletes: Vec<&'a Entity>,
    blocked: usize,
}

impl Section<'_> {
    fn changes(&self) -> usize {
        self.creates.len() + self.updates.len() + self.deletes.len()
    }
}

/// Renders a plan as markdown for a PR comment, under [`LIMIT`] bytes.
pub fn render(plan: &Plan) -> String {
    let mut sections: BTreeMap<&str, Section<'_>> = BTreeMap::new();
    for e in &plan.creates {
        sections.entry(&e.blueprint).or_default().creates.push(e);
    }
    for u in &plan.updates {
        sections
            .entry(&u.entity.blueprint)
            .or_default()
            .updates
            .push(u);
    }
    for e in &plan.deletes {
        sections.entry(&e.blueprint).or_default().deletes.push(e);
    }
    for b in &plan.blocked {
        for k in &b.entities {
            sections.entry(&k.blueprint).or_default().blocked += 1;
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "**{}**", super::text::summary_line(plan));
    if let Some(rev) = &plan.mapping_revision {
        let _ = writeln!(out, "\nMapping revision `{}`.", rev.replace('`', "'"));
    }
    if !sections.is_empty() {
        out.push_str(
            "\n| blueprint | create | update | delete | blocked |\n|---|---:|---:|---:|---:|\n",
        );
        for (bp, s) in &sections {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(bp),
                s.creates.len(),
                s.updates.len(),
                s.deletes.len(),
                s.blocked
            );
        }
        let sum = &plan.summary;
        let _ = writeln!(
            out,
            "| **total** | **{}** | **{}** | **{}** | **{}** |",
            sum.create, sum.update, sum.delete, sum.blocked_delete
        );
    }
    for b in &plan.blocked {
        let _ = writeln!(
            out,
            "\n> ⚠️ **{} blocked:** {}",
            count(b.entities.len(), "delete"),
            html(&b.message)
        );
        let mut keys: Vec<&crate::entity::EntityKey> = b.entities.iter().collect();
        keys.sort_by(|a, b| {
            a.blueprint
                .cmp(&b.blueprint)
                .then_with(|| natural_cmp(&a.identifier, &b.identifier))
        });
        let mut list = String::new();
        for k in keys.iter().take(BLOCKED_LISTED) {
            let _ = writeln!(
                list,
                "- `{}`",
                format!("{}/{}", name(&k.blueprint), name(&k.identifier)).replace('`', "'")
            );
        }
        if keys.len() > BLOCKED_LISTED {
            let _ = writeln!(list, "- … and {} more", keys.len() - BLOCKED_LISTED);
        }
        if out.len() + list.len() < LIMIT - NOTE_ROOM {
            let _ = write!(
                out,
                "\n<details><summary>held back</summary>\n\n{list}\n</details>\n"
            );
        }
    }
    if plan.summary.foreign_held > 0 {
        let _ = writeln!(
            out,
            "\n> ⚠️ {} of another datasource under keys the mapping produces: left alone \
             (`--adopt` takes them over).",
            count(plan.summary.foreign_held, "entity")
        );
    }
    if plan.summary.adopt > 0 {
        let _ = writeln!(
            out,
            "\n> ⚠️ {} of another datasource taken over (`--adopt`).",
            count(plan.summary.adopt, "entity")
        );
    }
    if !plan.duplicates.is_empty() {
        let _ = writeln!(
            out,
            "\n> ⚠️ {} mapped more than once (folded in resource order, the last winning).",
            count(plan.duplicates.len(), "identifier")
        );
    }

    let budget = LIMIT - NOTE_ROOM;
    let mut left_out: Vec<(&str, usize)> = Vec::new();
    let mut truncated = false;
    let shape = &plan.blueprints;
    for note in super::blueprint_notes(shape) {
        let _ = writeln!(out, "\n> ⚠️ {}", html(&note));
    }
    if !plan.search_errors.is_empty() {
        let _ = writeln!(
            out,
            "\n> ⚠️ **{} did not resolve** to exactly one entity (item errors: their kinds \
             are incomplete):",
            count(plan.search_errors.len(), "search identifier")
        );
        for line in super::search_error_lines(plan).iter().take(BLOCKED_LISTED) {
            let _ = writeln!(out, "> - {}", html(line));
        }
    }
    let searched = super::searched_entries(plan, true);
    if !searched.is_empty() && out.len() < budget {
        let _ = write!(
            out,
            "\n<details><summary><b>Search identifiers</b>: {} to send</summary>\n\n```diff\n",
            searched.len()
        );
        const TAIL: &str = "```\n\n</details>\n";
        let mut shown = 0;
        for entry in &searched {
            let entry = entry.replace("```", "ˋˋˋ");
            if out.len() + entry.len() + TAIL.len() > budget {
                truncated = true;
                break;
            }
            out.push_str(&entry);
            shown += 1;
        }
        out.push_str(TAIL);
        if shown < searched.len() {
            left_out.push(("search identifiers", searched.len() - shown));
        }
    }
    let shape_entries = super::blueprint_entries(shape, "!", true);
    if !shape_entries.is_empty() {
        let head = format!(
            "\n<details><summary><b>Blueprints</b>: {} create, {} update, {} delete</summary>\n\n```diff\n",
            shape.creates.len(),
            shape.updates.len(),
            shape.deletes.len()
        );
        const TAIL: &str = "```\n\n</details>\n";
        out.push_str(&head);
        let mut shown = 0;
        for entry in &shape_entries {
            let entry = entry.replace("```", "ˋˋˋ");
            if out.len() + entry.len() + TAIL.len() > budget {
                truncated = true;
                break;
            }
            out.push_str(&entry);
            shown += 1;
        }
        out.push_str(TAIL);
        if shown < shape_entries.len() {
            left_out.push(("blueprints", shape_entries.len() - shown));
        }
    }
    for (bp, s) in &sections {
        if s.changes() == 0 {
            continue;
        }
        if truncated {
            left_out.push((bp, s.changes()));
            continue;
        }
        let head = format!(
            "\n<details><summary><b>{}</b>: {} create, {} update, {} delete</summary>\n\n```diff\n",
            html(bp),
            s.creates.len(),
            s.updates.len(),
            s.deletes.len()
        );
        const TAIL: &str = "```\n\n</details>\n";
        if out.len() + head.len() + TAIL.len() > budget {
            truncated = true;
            left_out.push((bp, s.changes()));
            continue;
        }
        out.push_str(&head);
        let mut shown = 0;
        for entry in entries(s) {
            if out.len() + entry.len() + TAIL.len() > budget {
                truncated = true;
                break;
            }
            out.push_str(&entry);
            shown += 1;
        }
        out.push_str(TAIL);
        if shown < s.changes() {
            left_out.push((bp, s.changes() - shown));
        }
    }
    if !left_out.is_empty() {
        let n: usize = left_out.iter().map(|(_, n)| n).sum();
        let mut names: Vec<String> = left_out
            .iter()
            .take(NOTE_BLUEPRINTS)
            .map(|(bp, n)| format!("`{}` ({n})", name(bp).replace('`', "'")))
            .collect();
        if left_out.len() > NOTE_BLUEPRINTS {
            names.push(format!(
                "and {} more blueprints",
                left_out.len() - NOTE_BLUEPRINTS
            ));
        }
        let _ = writeln!(
            out,
            "\n_Truncated to stay under {LIMIT} characters: {n} more changes not shown in {}. \
             The counts above are complete; run `adoport plan --format json` for every change._",
            names.join(", ")
        );
    }
    out
}

/// The `diff` lines of one section, one string per entity, identifiers in natural order
/// (`2` before `10`).
fn entries(s: &Section<'_>) -> Vec<String> {
    let mut out = Vec::with_capacity(s.changes());
    let mut creates = s.creates.clone();
    creates.sort_by(|a, b| natural_cmp(&a.identifier, &b.identifier));
    let mut updates = s.updates.clone();
    updates.sort_by(|a, b| natural_cmp(&a.entity.identifier, &b.entity.identifier));
    let mut deletes = s.deletes.clone();
    deletes.sort_by(|a, b| natural_cmp(&a.identifier, &b.identifier));
    for e in &creates {
        let mut t = format!("+ {}\n", name(&e.identifier));
        for (field, v) in created_fields(e) {
            let _ = writeln!(t, "+     {field}: {v}");
        }
        out.push(t);
    }
    for u in &updates {
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
        out.push(t);
    }
    for e in &deletes {
        out.push(format!("- {}\n", name(&e.identifier)));
    }
    out
}

/// Renders an apply report for a PR comment: the plan's summary line, counts, first failures.
pub fn render_report(report: &ApplyReport) -> String {
    let mut out = format!(
        "**Applied:** {} created, {} updated, {} deleted, {} failed ({} unchanged, {} deletes blocked).\n",
        report.created,
        report.updated,
        report.deleted,
        report.failed,
        report.unchanged,
        report.blocked_deletes
    );
    if report.blueprints_created + report.blueprints_updated + report.blueprints_deleted > 0
        || !report.blueprint_failures.is_empty()
    {
        let _ = writeln!(
            out,
            "\n**Blueprints:** {} created, {} updated, {} deleted, {} failed.",
            report.blueprints_created,
            report.blueprints_updated,
            report.blueprints_deleted,
            report.blueprint_failures.len()
        );
        for f in &report.blueprint_failures {
            let _ = writeln!(
                out,
                "- {:?} `{}`: {}",
                f.operation,
                name(&f.identifier).replace('`', "'"),
                html(&f.message)
            );
        }
    }
    if report.skipped_deletes > 0 {
        let _ = writeln!(
            out,
            "\n> ⚠️ {} skipped: writes failed, and a run that could not write deletes nothing.",
            count(report.skipped_deletes, "delete")
        );
    }
    if report.kept_by_search > 0 {
        let _ = writeln!(
            out,
            "\n{} not made: a search identifier of this run resolved to the entity.",
            count(report.kept_by_search, "delete")
        );
    }
    if !report.failures.is_empty() {
        out.push_str("\n| operation | entity | error |\n|---|---|---|\n");
        for f in report.failures.iter().take(20) {
            let _ = writeln!(
                out,
                "| {:?} | {} | {} |",
                f.operation,
                cell(&format!("{}/{}", f.key.blueprint, f.key.identifier)),
                cell(&f.message)
            );
        }
        if report.failures.len() > 20 {
            let _ = writeln!(
                out,
                "\n_… and {} more failures._",
                report.failures.len() - 20
            );
        }
    }
    out
}

/// Escapes text for HTML and markdown inline contexts.
fn html(s: &str) -> String {
    name(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes text for a table cell.
fn cell(s: &str) -> String {
    html(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::plan::{Desired, Guards, plan};
    use crate::reconcile::render::json::tests::{sample_plan, sample_report};
    use serde_json::json;

    #[test]
    fn a_plan_renders_as_markdown() {
        insta::assert_snapshot!(render(&sample_plan()));
    }

    #[test]
    fn an_apply_report_renders_as_markdown() {
        insta::assert_snapshot!(render_report(&sample_report()));
    }

    #[test]
    fn ten_thousand_changes_are_truncated_under_the_limit_with_a_note() {
        let mut desired = Vec::new();
        let mut actual = Vec::new();
        for i in 0..10_000 {
            let bp = format!("bp{}", i % 7);
            let mut e = Entity::new(format!("entity-{i:05}"), bp);
            e.title = Some(json!(format!("Entity number {i}")));
            e.properties.insert("status".into(), json!("active"));
            if i % 2 == 0 {
                let mut old = e.clone();
                old.properties
                    .insert("status".into(), json!("stale <b>|</b>"));
                actual.push(old);
            }
            desired.push(e);
        }
        let p = plan(
            Desired {
                entities: desired,
                ..Desired::default()
            },
            actual,
            &Guards::default(),
        );
        assert_eq!(p.summary.create + p.summary.update, 10_000);
        let md = render(&p);
        assert!(md.len() < LIMIT, "{} bytes", md.len());
        assert!(md.chars().count() < 60_000);
        assert!(md.starts_with("**Plan: 5000 to create, 5000 to update, 0 to delete"));
        assert!(md.contains("_Truncated to stay under 60000 characters:"));
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
        );
        assert_eq!(md.matches("```diff").count() * 2, md.matches("```").count());
        // Every blueprint keeps its row in the table, truncated or not.
        for i in 0..7 {
            assert!(md.contains(&format!("| bp{i} |")));
        }
        let entity_line =
            |l: &&str| (l.starts_with("+ ") || l.starts_with("! ")) && !l[2..].starts_with(' ');
        let shown = md.lines().filter(entity_line).count();
        let note = md.lines().last().unwrap();
        let left: usize = note
            .split(": ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(shown + left, 10_000, "{note}");
    }

    #[test]
    fn html_and_table_syntax_in_names_is_escaped() {
        let e = Entity::new("<script>|x", "a|b<c>");
        let p = plan(
            Desired {
                entities: vec![e],
                ..Desired::default()
            },
            vec![],
            &Guards::default(),
        );
        let md = render(&p);
        assert!(md.contains("| a\\|b&lt;c&gt; |"));
        assert!(md.contains("<summary><b>a|b&lt;c&gt;</b>"));
        assert!(!md.contains("<script>|x\n") || md.contains("```diff\n+ <script>|x\n"));
    }
}
