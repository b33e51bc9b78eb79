//! The plan and the apply summary for people at a terminal, Terraform-style:
//! `+` create, `~` update (field by field), `-` delete, `!` held back. A create is one line
//! (its title): the fields of a new entity are in the markdown and JSON renderings, and a
//! first apply of a whole organization must stay readable. Colour is the
//! caller's decision (a TTY without `NO_COLOR`), passed in as `color`.

use std::fmt::Write;

use super::{count, name, value};
use crate::reconcile::apply::{ApplyReport, BlueprintOperation, Operation};
use crate::reconcile::plan::Plan;

/// Deletes listed per blocked group before "and N more".
const BLOCKED_LISTED: usize = 10;
/// Failures listed in an apply summary before "and N more".
const FAILURES_LISTED: usize = 10;

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// The one-line count of a plan, as the first line of every rendering.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut line = if plan.has_changes() {
        format!(
            "Plan: {} to create, {} to update, {} to delete, {} unchanged.",
            s.create, s.update, s.delete, s.unchanged
        )
    } else {
        format!("No changes: {} entities up to date.", s.unchanged)
    };
    if s.blocked_delete > 0 {
        let _ = write!(line, " {} blocked.", count(s.blocked_delete, "delete"));
    }
    if s.foreign_held > 0 {
        let _ = write!(
            line,
            " {} of another datasource left alone.",
            count(s.foreign_held, "entity")
        );
    }
    if plan.blueprints.has_changes() {
        let _ = write!(
            line,
            " Blueprints: {} to create, {} to update, {} to delete.",
            s.blueprint_create, s.blueprint_update, s.blueprint_delete
        );
    }
    if s.searched > 0 {
        let _ = write!(
            line,
            " {} to send with a search identifier.",
            count(s.searched, "entity")
        );
    }
    if s.search_error > 0 {
        let _ = write!(
            line,
            " {} did not resolve.",
            count(s.search_error, "search identifier")
        );
    }
    if s.blueprint_blocked_delete > 0 {
        let _ = write!(
            line,
            " {} blocked.",
            count(s.blueprint_blocked_delete, "blueprint delete")
        );
    }
    line
}

/// Renders a plan: summary line, then each change with its fields, then held-back deletes.
pub fn render(plan: &Plan, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.bold(&summary_line(plan)));
    if let Some(rev) = &plan.mapping_revision {
        let _ = writeln!(out, "{}", p.dim(&format!("Mapping revision {rev}.")));
    }
    if plan.has_changes() {
        out.push('\n');
        out.push_str(&by_blueprint(plan));
        out.push('\n');
    }
    for entry in super::blueprint_entries(&plan.blueprints, "~", false) {
        let (mark, rest) = entry.split_at(1);
        let mark = match mark {
            "+" => p.green(mark),
            "-" => p.red(mark),
            _ => p.yellow(mark),
        };
        let _ = write!(out, "{mark}{rest}");
    }
    for e in &plan.creates {
        let title = match &e.title {
            Some(serde_json::Value::String(t)) => {
                format!("  {}", p.dim(&value(&serde_json::Value::String(t.clone()))))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {}/{}{title}",
            p.green("+"),
            name(&e.blueprint),
            name(&e.identifier)
        );
    }
    for u in &plan.updates {
        let e = &u.entity;
        let _ = writeln!(
            out,
            "{} {}/{}",
            p.yellow("~"),
            name(&e.blueprint),
            name(&e.identifier)
        );
        for c in &u.changes {
            let _ = writeln!(
                out,
                "      {}: {} → {}",
                c.field,
                p.red(&value(&c.before)),
                p.green(&value(&c.after))
            );
        }
    }
    for e in &plan.deletes {
        let _ = writeln!(
            out,
            "{} {}/{}",
            p.red("-"),
            name(&e.blueprint),
            name(&e.identifier)
        );
    }
    for entry in super::searched_entries(plan, false) {
        let _ = write!(out, "{}{}", p.yellow("~"), &entry[1..]);
    }
    if !plan.search_errors.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {} did not resolve to exactly one entity: item errors, so their kinds are \
             incomplete and nothing of them is deleted:",
            p.yellow("!"),
            count(plan.search_errors.len(), "search identifier")
        );
        for line in super::search_error_lines(plan).iter().take(BLOCKED_LISTED) {
            let _ = writeln!(out, "      {line}");
        }
        if plan.search_errors.len() > BLOCKED_LISTED {
            let _ = writeln!(
                out,
                "      … and {} more",
                plan.search_errors.len() - BLOCKED_LISTED
            );
        }
    }
    for b in &plan.blocked {
        let _ = writeln!(
            out,
            "\n{} {} blocked: {}",
            p.yellow("!"),
            count(b.entities.len(), "delete"),
            b.message
        );
        for k in b.entities.iter().take(BLOCKED_LISTED) {
            let _ = writeln!(out, "      {}/{}", name(&k.blueprint), name(&k.identifier));
        }
        if b.entities.len() > BLOCKED_LISTED {
            let _ = writeln!(
                out,
                "      … and {} more",
                b.entities.len() - BLOCKED_LISTED
            );
        }
    }
    for note in super::blueprint_notes(&plan.blueprints) {
        let _ = writeln!(out, "\n{} {note}", p.yellow("!"));
    }
    let (adopted, held): (Vec<_>, Vec<_>) = plan.foreign.iter().partition(|f| f.adopted);
    if !held.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {} of another datasource under keys the mapping produces: left alone \
             (--adopt takes them over):",
            p.yellow("!"),
            count(held.len(), "entity")
        );
        list_foreign(&mut out, &held);
    }
    if !adopted.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {} of another datasource taken over (--adopt):",
            p.yellow("!"),
            count(adopted.len(), "entity")
        );
        list_foreign(&mut out, &adopted);
    }
    if !plan.duplicates.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {} mapped more than once (folded in resource order, the last winning):",
            p.yellow("!"),
            count(plan.duplicates.len(), "identifier")
        );
        for d in plan.duplicates.iter().take(BLOCKED_LISTED) {
            let _ = writeln!(
                out,
                "      {}/{} ×{}",
                name(&d.key.blueprint),
                name(&d.key.identifier),
                d.count
            );
        }
        if plan.duplicates.len() > BLOCKED_LISTED {
            let _ = writeln!(
                out,
                "      … and {} more",
                plan.duplicates.len() - BLOCKED_LISTED
            );
        }
    }
    out
}

fn list_foreign(out: &mut String, foreign: &[&crate::reconcile::Foreign]) {
    for f in foreign.iter().take(BLOCKED_LISTED) {
        let _ = writeln!(
            out,
            "      {}/{} (owned by {})",
            name(&f.key.blueprint),
            name(&f.key.identifier),
            f.owner
        );
    }
    if foreign.len() > BLOCKED_LISTED {
        let _ = writeln!(out, "      … and {} more", foreign.len() - BLOCKED_LISTED);
    }
}

/// Counts per blueprint, one line each: `  azureDevopsRepository  +12 ~3 -1`.
fn by_blueprint(plan: &Plan) -> String {
    let mut counts: std::collections::BTreeMap<&str, [usize; 3]> = Default::default();
    for e in &plan.creates {
        counts.entry(&e.blueprint).or_default()[0] += 1;
    }
    for u in &plan.updates {
        counts.entry(&u.entity.blueprint).or_default()[1] += 1;
    }
    for e in &plan.deletes {
        counts.entry(&e.blueprint).or_default()[2] += 1;
    }
    for s in &plan.searched {
        counts.entry(s.blueprint()).or_default()[1] += 1;
    }
    let width = counts.keys().map(|b| b.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (bp, [c, u, d]) in counts {
        let _ = writeln!(out, "  {bp:<width$}  +{c} ~{u} -{d}");
    }
    out
}

/// Renders what an apply did: counts, then the first failures.
pub fn render_report(report: &ApplyReport, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let line = format!(
        "Applied: {} created, {} updated, {} deleted, {} failed ({} unchanged, {} deletes blocked).",
        report.created,
        report.updated,
        report.deleted,
        report.failed,
        report.unchanged,
        report.blocked_deletes
    );
    let line = if report.is_success() {
        p.green(&line)
    } else {
        p.red(&line)
    };
    let _ = writeln!(out, "{}", p.bold(&line));
    let b = report;
    if b.blueprints_created + b.blueprints_updated + b.blueprints_deleted > 0
        || !b.blueprint_failures.is_empty()
        || b.skipped_blueprint_deletes > 0
    {
        let _ = writeln!(
            out,
            "Blueprints: {} created, {} updated, {} deleted, {} failed.",
            b.blueprints_created,
            b.blueprints_updated,
            b.blueprints_deleted,
            b.blueprint_failures.len()
        );
    }
    if b.skipped_blueprint_deletes > 0 {
        let _ = writeln!(
            out,
            "{} skipped: writes failed.",
            count(b.skipped_blueprint_deletes, "blueprint delete")
        );
    }
    for f in &b.blueprint_failures {
        let op = match f.operation {
            BlueprintOperation::Create => "create",
            BlueprintOperation::Update => "update",
            BlueprintOperation::Delete => "delete",
        };
        let _ = writeln!(
            out,
            "  {} {op} blueprint {}: {}",
            p.red("✗"),
            name(&f.identifier),
            f.message
        );
    }
    if report.failed_batches > 0 {
        let _ = writeln!(
            out,
            "{} of {} catalog calls failed as a whole.",
            report.failed_batches, report.batches
        );
    }
    if report.skipped_deletes > 0 {
        let _ = writeln!(
            out,
            "{} skipped: writes failed, and a run that could not write deletes nothing. Run \
             it again once the failures are fixed.",
            count(report.skipped_deletes, "delete")
        );
    }
    if report.kept_by_search > 0 {
        let _ = writeln!(
            out,
            "{} not made: a search identifier of this run resolved to the entity.",
            count(report.kept_by_search, "delete")
        );
    }
    for f in report.failures.iter().take(FAILURES_LISTED) {
        let op = match f.operation {
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
        };
        let _ = writeln!(
            out,
            "  {} {op} {}/{}: {}",
            p.red("✗"),
            name(&f.key.blueprint),
            name(&f.key.identifier),
            f.message
        );
    }
    if report.failures.len() > FAILURES_LISTED {
        let _ = writeln!(
            out,
            "  … and {} more failures",
            report.failures.len() - FAILURES_LISTED
        );
    }
    for c in &report.cycles {
        let _ = writeln!(
            out,
            "Note: blueprints {} relate to each other in a cycle; they were written together.",
            c.join(", ")
        );
    }
    if let Some(e) = &report.history_error {
        let _ = writeln!(
            out,
            "Warning: the run was not recorded in the catalog's history: {e}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::render::json::tests::sample_plan;

    #[test]
    fn a_plan_renders_as_text() {
        insta::assert_snapshot!(render(&sample_plan(), false));
    }

    #[test]
    fn colour_is_only_added_when_asked() {
        let plain = render(&sample_plan(), false);
        let coloured = render(&sample_plan(), true);
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains("\x1b[32m+\x1b[0m"));
    }

    #[test]
    fn an_empty_plan_says_so() {
        let plan = crate::reconcile::plan(Default::default(), vec![], &Default::default());
        assert_eq!(render(&plan, false), "No changes: 0 entities up to date.\n");
    }

    #[test]
    fn an_apply_report_renders_as_text() {
        insta::assert_snapshot!(render_report(
            &crate::reconcile::render::json::tests::sample_report(),
            false
        ));
    }
}
