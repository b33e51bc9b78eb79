//! Per-field findings of one resource's evaluation, aggregated: one entry per field and
//! message, with a count and the ids of the first few items it happened on.

use serde::Serialize;
use serde_json::Value;

use crate::config::Origin;

/// How many item ids a finding keeps as examples.
pub const EXAMPLES: usize = 3;

/// What kind of finding a [`FieldDiagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// The expression does not compile; every item gets `null` for the field (Port too).
    Compile,
    /// The expression raised an error on an item; the field is `null`.
    Runtime,
    /// The expression produced no output on an item; the field is `null`.
    NoOutput,
    /// The expression produced `null` (Port logs these as "unable to find valid data").
    Null,
    /// The selector did not give a boolean, or failed: an item error.
    Selector,
    /// The mapped entity cannot be built (an icon that is an object or a list): an item
    /// error (Port's model refuses it and fails the whole batch).
    Invalid,
    /// The identifier or blueprint is a boolean or a list: Port sends it and its API
    /// rejects the entity; not an item error, as in Port.
    NotAnEntity,
    /// `itemsToParse` skipped the item (not an array, or the top-level transform gave null).
    Skipped,
    /// The identifier or blueprint evaluated to null, `false`, `0`, `""`, `[]` or `{}`:
    /// Port drops such an item silently; here it is an item error, so its kind is
    /// incomplete and nothing of it is deleted.
    NoIdentity,
}

impl DiagnosticKind {
    /// Whether the finding makes the item an error (and the kind incomplete).
    pub fn is_item_error(self) -> bool {
        matches!(self, Self::Selector | Self::Invalid | Self::NoIdentity)
    }

    /// A short word for text output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Compile => "compile error",
            Self::Runtime => "error",
            Self::NoOutput => "no output",
            Self::Null => "null",
            Self::Selector => "selector error",
            Self::Invalid => "invalid entity",
            Self::NotAnEntity => "rejected by Port",
            Self::Skipped => "skipped",
            Self::NoIdentity => "no identifier or blueprint",
        }
    }
}

/// One kind of finding on one field, over every item of the resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDiagnostic {
    /// Index of the resource in the merged mapping.
    pub resource_index: usize,
    /// The resource's kind.
    pub kind: String,
    /// The field's dotted path (`properties.url`, `selector.query`, `itemsToParse`).
    pub field: String,
    /// The jq expression, as written.
    pub expr: String,
    /// Where the expression is written.
    #[serde(serialize_with = "origin_text")]
    pub origin: Origin,
    /// What happened.
    pub diagnostic: DiagnosticKind,
    /// jq's message on the first item (empty for nulls).
    pub message: String,
    /// Up to [`EXAMPLES`] distinct messages, the first one included (jq's messages quote
    /// the value, so they differ from item to item).
    pub messages: Vec<String>,
    /// How many items it happened on.
    pub count: usize,
    /// Ids of the first few of those items.
    pub examples: Vec<String>,
}

fn origin_text<S: serde::Serializer>(o: &Origin, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(o)
}

/// Collects findings for one resource, merging repeats.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    entries: Vec<FieldDiagnostic>,
    /// The site id of each entry, compared before anything else.
    sites: Vec<usize>,
}

/// The field a finding is about, without its per-item parts.
pub(crate) struct Site<'a> {
    /// Unique per field within one evaluation (the leaf's index).
    pub(crate) id: usize,
    pub(crate) resource_index: usize,
    pub(crate) kind: &'a str,
    pub(crate) field: &'a str,
    pub(crate) expr: &'a str,
    pub(crate) origin: &'a Origin,
}

impl Collector {
    /// Records one occurrence; `item_id` is only called while examples are still wanted.
    pub(crate) fn add(
        &mut self,
        site: &Site<'_>,
        diagnostic: DiagnosticKind,
        message: &str,
        item_id: impl FnOnce() -> String,
    ) {
        let found = self
            .sites
            .iter()
            .zip(&self.entries)
            .position(|(id, e)| *id == site.id && e.diagnostic == diagnostic);
        let entry = match found {
            Some(i) => &mut self.entries[i],
            None => {
                self.sites.push(site.id);
                self.entries.push(FieldDiagnostic {
                    resource_index: site.resource_index,
                    kind: site.kind.to_owned(),
                    field: site.field.to_owned(),
                    expr: site.expr.to_owned(),
                    origin: site.origin.clone(),
                    diagnostic,
                    message: message.to_owned(),
                    messages: Vec::new(),
                    count: 0,
                    examples: Vec::new(),
                });
                let last = self.entries.len() - 1;
                &mut self.entries[last]
            }
        };
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push(item_id());
        }
        if entry.messages.len() < EXAMPLES
            && !message.is_empty()
            && !entry.messages.iter().any(|m| m == message)
        {
            entry.messages.push(message.to_owned());
        }
    }

    /// The findings, item errors first, then by field.
    pub(crate) fn finish(mut self) -> Vec<FieldDiagnostic> {
        sort(&mut self.entries);
        self.entries
    }
}

/// Item errors first, then by field (stable: equal keys keep their order).
fn sort(findings: &mut [FieldDiagnostic]) {
    findings.sort_by(|a, b| {
        (!a.diagnostic.is_item_error(), &a.field).cmp(&(!b.diagnostic.is_item_error(), &b.field))
    });
}

/// Folds the findings of a later batch of items into those of an earlier one, as if one
/// evaluation had seen both: counts add up, examples and messages keep the first few.
pub(crate) fn absorb(into: &mut Vec<FieldDiagnostic>, later: Vec<FieldDiagnostic>) {
    for f in later {
        let found = into.iter_mut().find(|e| {
            e.resource_index == f.resource_index
                && e.field == f.field
                && e.diagnostic == f.diagnostic
        });
        match found {
            None => into.push(f),
            Some(e) => {
                e.count += f.count;
                for id in f.examples {
                    if e.examples.len() >= EXAMPLES {
                        break;
                    }
                    e.examples.push(id);
                }
                for m in f.messages {
                    if e.messages.len() < EXAMPLES && !e.messages.contains(&m) {
                        e.messages.push(m);
                    }
                }
            }
        }
    }
    sort(into);
}

/// A readable id for a raw item, from the id fields ADO items carry (`id`,
/// `pullRequestId`, `objectId`, `descriptor`, `name`), else its position (`#3`).
pub fn item_id(item: &Value, index: usize) -> String {
    const KEYS: [&str; 6] = [
        "id",
        "pullRequestId",
        "workItemId",
        "objectId",
        "descriptor",
        "name",
    ];
    KEYS.iter()
        .find_map(|k| match item.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| format!("#{index}"))
}
