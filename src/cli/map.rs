//! `adoport map`: Port's "test mapping" playground, offline — raw items through every
//! resource of one kind, showing the entities, the items the selector rejected, and the
//! per-field diagnostics with counts and example item ids.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use adoport::config;
use adoport::desired::engine_options;
use adoport::jq::Engine;
use adoport::mapping::{self, ResourceResult};

use super::{Ctx, Exit};

/// Map raw items of one kind through the mapping, as Port's integration would, and show
/// the entities, the items each selector rejected, and per-field diagnostics.
///
/// Exits 0 when the mapping ran (even with field diagnostics or item errors), 1 when the
/// config or the input cannot be loaded.
#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    /// Config repo folder, single mapping file, or git revision `git:PATH@REV`.
    #[arg(long, value_name = "DIR|FILE|git:PATH@REV", default_value = ".")]
    config: config::ConfigSource,
    /// The kind whose resources to run (e.g. `work-item`).
    #[arg(long)]
    kind: String,
    /// Raw items: a JSON array, or JSON lines (one item per line, the snapshot format),
    /// or `-` for stdin.
    #[arg(long, value_name = "ITEMS.json")]
    input: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also map the items each selector rejects, as Port does for live events (the
    /// entities an event would delete); they are listed separately.
    #[arg(long)]
    parse_all: bool,
}

/// How the result is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Entities as pretty JSON per resource, then the diagnostics.
    Text,
    /// One stable JSON document: per resource, its entities, rejected items and diagnostics.
    Json,
}

pub(crate) fn run(args: MapArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let (loaded, _revision) = args
        .config
        .load()
        .with_context(|| format!("cannot load the config at {}", args.config))?;
    let Some(cfg) = loaded.config else {
        let rendered = config::render::text(&loaded.diagnostics, &loaded.sources, false);
        anyhow::bail!("the config has errors:\n{rendered}");
    };
    let text = if args.input.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read items from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.input)
            .with_context(|| format!("cannot read {}", args.input.display()))?
    };
    let items = mapping::parse_items(&text)
        .with_context(|| format!("cannot parse the items in {}", args.input.display()))?;
    let resources: Vec<_> = cfg
        .mapping
        .resources
        .iter()
        .filter(|r| r.kind == args.kind)
        .collect();
    if resources.is_empty() {
        let kinds: std::collections::BTreeSet<&str> = cfg
            .mapping
            .resources
            .iter()
            .map(|r| r.kind.as_str())
            .collect();
        anyhow::bail!(
            "the mapping has no resource of kind `{}` (it has: {})",
            args.kind,
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let engine = Engine::new(engine_options(&cfg.settings.jq, &super::access()?.env));
    let results: Vec<ResourceResult> = resources
        .iter()
        .map(|r| {
            let options = mapping::Options {
                parse_all: args.parse_all,
                ..mapping::Options::default()
            };
            mapping::evaluate_with(r, &items, &engine, options)
        })
        .collect();
    let rendered = match args.format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&json_output(&args.kind, items.len(), &results))?;
            s.push('\n');
            s
        }
        Format::Text => text_output(&results, &resources),
    };
    ctx.out.data(&rendered)?;
    Ok(Exit::Ok)
}

/// The `--format json` document (stable):
///
/// ```json
/// { "kind": "work-item", "items": 5,
///   "resources": [ {
///     "resource_index": 3, "kind": "work-item",
///     "items": 5, "evaluated": 5, "complete": true,
///     "entities": [ { "identifier": "…", "blueprint": "…", "properties": {…} } ],
///     "rejected": [ { "index": 2, "id": "1202" } ],
///     "rejected_entities": [ … ],
///     "item_errors": 0, "dropped": 1, "skipped": 0,
///     "diagnostics": [ { "resource_index": 3, "kind": "work-item",
///       "field": "properties.effort", "expr": ".fields.x", "origin": "file:12:19",
///       "diagnostic": "runtime|compile|no_output|null|selector|invalid|not_an_entity|skipped",
///       "message": "…", "messages": ["…", "…"], "count": 3,
///       "examples": ["12", "13", "14"] } ] } ] }
/// ```
///
/// `entities` are exactly what Port's integration would send (only mapped fields, numbers
/// as numbers, search queries as objects); `rejected[].element` is present for items made
/// by `itemsToParse`; `rejected_entities` is empty unless `--parse-all`.
fn json_output(kind: &str, items: usize, results: &[ResourceResult]) -> Value {
    let resources: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "resource_index": r.resource_index,
                "kind": r.kind,
                "items": r.items,
                "evaluated": r.evaluated,
                "complete": r.is_complete(),
                "entities": r.entities.iter().map(|e| e.json()).collect::<Vec<_>>(),
                "rejected": r.rejected,
                "rejected_entities": r.rejected_entities.iter().map(|e| e.json()).collect::<Vec<_>>(),
                "item_errors": r.item_errors,
                "dropped": r.dropped,
                "skipped": r.skipped,
                "diagnostics": r.diagnostics,
            })
        })
        .collect();
    json!({ "kind": kind, "items": items, "resources": resources })
}

fn text_output(results: &[ResourceResult], resources: &[&config::Resource]) -> String {
    let mut out = String::new();
    for (r, resource) in results.iter().zip(resources) {
        out.push_str(&format!(
            "== resource {} ({}) at {}\n",
            r.resource_index, r.kind, resource.origin
        ));
        out.push_str(&format!(
            "{} items, {} evaluated: {} entities, {} rejected by the selector, {} dropped \
             (empty identifier or blueprint), {} item errors{}{}\n\n",
            r.items,
            r.evaluated,
            r.entities.len(),
            r.rejected.len(),
            r.dropped,
            r.item_errors,
            if r.skipped > 0 {
                format!(", {} skipped by itemsToParse", r.skipped)
            } else {
                String::new()
            },
            if r.is_complete() {
                ""
            } else {
                " — incomplete: nothing of this kind would be deleted"
            },
        ));
        for e in &r.entities {
            out.push_str(&serde_json::to_string_pretty(&e.json()).unwrap_or_default());
            out.push('\n');
        }
        if !r.rejected_entities.is_empty() {
            out.push_str("\nentities of rejected items (what a live event would delete):\n");
            for e in &r.rejected_entities {
                out.push_str(&serde_json::to_string_pretty(&e.json()).unwrap_or_default());
                out.push('\n');
            }
        }
        if !r.rejected.is_empty() {
            let ids: Vec<String> = r
                .rejected
                .iter()
                .take(20)
                .map(|i| match i.element {
                    Some(k) => format!("`{}`[{k}]", i.id),
                    None => format!("`{}`", i.id),
                })
                .collect();
            let more = r.rejected.len().saturating_sub(ids.len());
            out.push_str(&format!(
                "\nrejected by the selector `{}`: {}{}\n",
                resource.selector.query.expr,
                ids.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if !r.diagnostics.is_empty() {
            out.push_str("\ndiagnostics:\n");
            for d in &r.diagnostics {
                let message = match d.messages.as_slice() {
                    [] => String::new(),
                    [one] => format!(": {one}"),
                    many => format!(": {} (and other messages)", many[0]),
                };
                out.push_str(&format!(
                    "  {} `{}` ({})\n    {} on {} item{}{} (e.g. {})\n",
                    d.field,
                    d.expr,
                    d.origin,
                    d.diagnostic.label(),
                    d.count,
                    if d.count == 1 { "" } else { "s" },
                    message,
                    d.examples
                        .iter()
                        .map(|id| format!("`{id}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        out.push('\n');
    }
    out
}
