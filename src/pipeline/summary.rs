//! What a run's mapping did, item by item, told after every plan and apply: which resources
//! read an incomplete listing, which items failed (and so made their kind incomplete), and
//! which fields raised errors — with counts and example item ids, as `adoport map` shows.
//!
//! The summary is data; [`RunSummary::notes`] turns it into the lines the CLI logs and
//! `serve` records, so every entry point reports a run the same way.

use serde::Serialize;

use crate::desired::ResourceStats;
use crate::mapping::{DiagnosticKind, FieldDiagnostic};
use crate::reconcile::render::count;

/// How serious a note is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something failed: data is missing or a guard held deletes back.
    Warning,
    /// Worth knowing, nothing failed.
    Note,
}

/// One line of a run's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    /// How serious.
    pub level: Level,
    /// The sentence.
    pub text: String,
}

/// The mapping side of one run: every resource's counts and the findings that are failures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// How each resource went, in mapping order.
    pub resources: Vec<ResourceStats>,
    /// Findings that are failures (errors, not nulls), in mapping order.
    pub failures: Vec<FieldDiagnostic>,
    /// Kinds whose listing failed because ADO refused the credentials (401/403).
    pub unauthorized: Vec<String>,
    /// Search-query identifiers the catalog resolved to no entity or several (item errors
    /// found at plan time; the plan lists them).
    pub search_errors: usize,
}

impl RunSummary {
    /// Builds the summary, keeping only the findings that are failures.
    pub fn new(resources: Vec<ResourceStats>, findings: &[FieldDiagnostic]) -> Self {
        let failures = findings
            .iter()
            .filter(|f| is_failure(f.diagnostic))
            .cloned()
            .collect();
        let mut unauthorized: Vec<String> = resources
            .iter()
            .filter(|r| r.unauthorized)
            .map(|r| r.kind.clone())
            .collect();
        unauthorized.sort();
        unauthorized.dedup();
        RunSummary {
            resources,
            failures,
            unauthorized,
            search_errors: 0,
        }
    }

    /// Items that failed the mapping plus field evaluations that raised an error, plus
    /// search identifiers that did not resolve: what `--strict` turns into exit 1.
    pub fn item_failures(&self) -> usize {
        self.resources.iter().map(|r| r.item_errors).sum::<usize>()
            + self.search_errors
            + self
                .failures
                .iter()
                .filter(|f| !f.diagnostic.is_item_error())
                .map(|f| f.count)
                .sum::<usize>()
    }

    /// Whether any resource read an incomplete listing or had item errors.
    pub fn has_incomplete(&self) -> bool {
        self.search_errors > 0
            || self
                .resources
                .iter()
                .any(|r| r.incomplete.is_some() || r.item_errors > 0)
    }

    /// The report as lines: per resource, then per failing field (indented under it).
    pub fn notes(&self) -> Vec<Note> {
        let mut notes = Vec::new();
        for r in &self.resources {
            let name = format!("resource {} ({})", r.index, r.kind);
            if let Some(why) = &r.incomplete {
                notes.push(Note {
                    level: Level::Warning,
                    text: format!(
                        "{name}: the listing is incomplete ({why}); nothing of its blueprints is deleted"
                    ),
                });
            }
            if r.item_errors > 0 {
                notes.push(Note {
                    level: Level::Warning,
                    text: format!(
                        "{name}: {} of {} items failed the mapping; the kind is incomplete, \
                         so nothing of it is deleted",
                        r.item_errors, r.items
                    ),
                });
            }
            for f in self.failures.iter().filter(|f| f.resource_index == r.index) {
                notes.push(Note {
                    level: Level::Warning,
                    text: field_line(&name, f),
                });
            }
            if r.searched > 0 {
                notes.push(Note {
                    level: Level::Note,
                    text: format!(
                        "{name}: {} identified by a search query: Port resolves each on \
                         write, the SQLite catalog when planning (the plan lists them)",
                        count(r.searched, "entity")
                    ),
                });
            }
        }
        if self.search_errors > 0 {
            notes.push(Note {
                level: Level::Warning,
                text: format!(
                    "{} did not resolve to exactly one entity (listed in the plan); their \
                     kinds are incomplete, so nothing of them is deleted",
                    count(self.search_errors, "search identifier")
                ),
            });
        }
        for kind in &self.unauthorized {
            notes.push(Note {
                level: Level::Warning,
                text: format!(
                    "kind {kind}: Azure DevOps refused the credentials; check the PAT's scopes"
                ),
            });
        }
        notes
    }
}

/// Whether a finding is a failure worth reporting on every run (nulls and missing outputs
/// are ordinary in mappings over optional fields: `adoport map` shows those).
fn is_failure(kind: DiagnosticKind) -> bool {
    matches!(
        kind,
        DiagnosticKind::Compile
            | DiagnosticKind::Runtime
            | DiagnosticKind::Selector
            | DiagnosticKind::Invalid
            | DiagnosticKind::NotAnEntity
    ) || kind.is_item_error()
}

fn field_line(resource: &str, f: &FieldDiagnostic) -> String {
    let examples: Vec<String> = f.examples.iter().map(|id| format!("`{id}`")).collect();
    let mut text = format!(
        "{resource}: {} `{}` at {}: {} on {}",
        f.field,
        f.expr,
        f.origin,
        f.diagnostic.label(),
        count(f.count, "item")
    );
    if !f.message.is_empty() {
        text.push_str(&format!(": {}", f.message));
    }
    if !examples.is_empty() {
        text.push_str(&format!(" (e.g. {})", examples.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn stats(index: usize, item_errors: usize) -> ResourceStats {
        ResourceStats {
            index,
            kind: "work-item".into(),
            items: 10,
            entities: 10 - item_errors,
            searched: 0,
            rejected: 0,
            dropped: 0,
            item_errors,
            reused: false,
            incomplete: None,
            unauthorized: false,
        }
    }

    fn finding(kind: DiagnosticKind, count: usize) -> FieldDiagnostic {
        FieldDiagnostic {
            resource_index: 0,
            kind: "work-item".into(),
            field: "properties.x".into(),
            expr: ".x | test(1)".into(),
            origin: Origin {
                file: "m.yaml".into(),
                pointer: "/resources/0/port/entity/mappings/properties/x".into(),
                line: 4,
                column: 9,
            },
            diagnostic: kind,
            message: "cannot test".into(),
            messages: vec!["cannot test".into()],
            count,
            examples: vec!["12".into(), "13".into()],
        }
    }

    #[test]
    fn failures_count_item_errors_and_field_errors_but_not_nulls() {
        let s = RunSummary::new(
            vec![stats(0, 2)],
            &[
                finding(DiagnosticKind::Runtime, 3),
                finding(DiagnosticKind::Null, 50),
                finding(DiagnosticKind::Selector, 2),
            ],
        );
        assert_eq!(s.item_failures(), 5);
        assert!(s.has_incomplete());
        let notes = s.notes();
        assert_eq!(notes.len(), 3, "{notes:#?}");
        assert!(
            notes[0].text.contains("2 of 10 items failed"),
            "{}",
            notes[0].text
        );
        assert!(notes[1].text.contains("m.yaml:4:9"), "{}", notes[1].text);
        assert!(
            notes[1].text.contains("(e.g. `12`, `13`)"),
            "{}",
            notes[1].text
        );
    }

    #[test]
    fn nouns_take_their_plural() {
        assert_eq!(count(1, "entity"), "1 entity");
        assert_eq!(count(2, "entity"), "2 entities");
        assert_eq!(count(2, "property"), "2 properties");
        assert_eq!(count(2, "key"), "2 keys");
        assert_eq!(count(0, "item"), "0 items");
    }
}
