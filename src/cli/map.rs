//! `adoport map`: Port's "test mapping" playground, offline — raw items through every
//! resource of one kind, showing the entities, the items the selector rejected, and the
//! per-field diagnostics with counts and example item ids.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

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

/// Items in a window: what one thread parses, maps and renders at a time. Twice as many
/// windows as threads are in flight, so a few MB of raw items each.
const WINDOW: usize = 1024;

/// One window through the mapping, on a worker thread: its items parsed and mapped, and the
/// entities rendered as `format` prints them, and their count (the result keeps none).
fn map_window(
    resource: &config::Resource,
    raw: &mapping::RawItems,
    engine: &Engine,
    parse_all: bool,
    format: Format,
) -> Result<(String, usize, mapping::ResourceResult), mapping::Error> {
    let items = raw.parse()?;
    let options = mapping::Options {
        parse_all,
        first_index: raw.first(),
    };
    let mut r = mapping::evaluate_with(resource, &items, engine, options);
    drop(items);
    let text = render_entities(&r.entities, format);
    let count = std::mem::take(&mut r.entities).len();
    Ok((text, count, r))
}

/// Entities as `format` prints them; in JSON one per line, separated by commas.
fn render_entities(entities: &[mapping::MappedEntity], format: Format) -> String {
    let mut text = String::new();
    for (n, e) in entities.iter().enumerate() {
        match format {
            Format::Json => {
                if n > 0 {
                    text.push_str(",\n        ");
                }
                text.push_str(&e.json().to_string());
            }
            Format::Text => {
                text.push_str(&serde_json::to_string_pretty(&e.json()).unwrap_or_default());
                text.push('\n');
            }
        }
    }
    text
}

pub(crate) fn run(args: MapArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let (loaded, _revision) = args
        .config
        .load()
        .with_context(|| format!("cannot load the config at {}", args.config))?;
    let Some(cfg) = loaded.config else {
        ctx.out.findings(&loaded.diagnostics, &loaded.sources);
        anyhow::bail!("the config at {} has errors (shown above)", args.config);
    };
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
    let mut input = Input::open(&args.input, resources.len())?;
    let mut out = Emitter::new(ctx, args.format);
    out.begin(&args.kind)?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut items = 0;
    for (n, resource) in resources.iter().enumerate() {
        out.begin_resource(n, resource)?;
        let mut total = mapping::ResourceResult::empty(resource);
        let mut failed: Option<anyhow::Error> = None;
        let reader = input.reader()?;
        // Windows are parsed, mapped and rendered on every core and written in input order.
        let read = mapping::ordered::in_order(
            threads,
            2 * threads,
            |emit| mapping::read_raw(reader, WINDOW, emit),
            |raw| map_window(resource, &raw, &engine, args.parse_all, args.format),
            |mapped| match mapped {
                Ok((text, count, r)) => {
                    if let Err(e) = out.entities(&text, count) {
                        failed = Some(e);
                        return false;
                    }
                    total.absorb(r);
                    true
                }
                Err(e) => {
                    failed = Some(anyhow::Error::new(e));
                    false
                }
            },
        );
        if let Some(e) = failed {
            return Err(e)
                .with_context(|| format!("cannot read the items in {}", args.input.display()));
        }
        items =
            read.with_context(|| format!("cannot read the items in {}", args.input.display()))?;
        out.end_resource(&total, resource)?;
    }
    out.end(items)?;
    Ok(Exit::Ok)
}

/// Where the items come from: a file (read again for each resource) or stdin (read as it
/// comes for one resource; kept in memory when several resources read it).
enum Input {
    File(PathBuf),
    Stdin { kept: Option<Vec<u8>>, taken: bool },
}

impl Input {
    fn open(path: &Path, resources: usize) -> anyhow::Result<Self> {
        if path.as_os_str() != "-" {
            return Ok(Input::File(path.to_path_buf()));
        }
        let kept = if resources > 1 {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read items from stdin")?;
            Some(bytes)
        } else {
            None
        };
        Ok(Input::Stdin { kept, taken: false })
    }

    fn reader(&mut self) -> anyhow::Result<Box<dyn BufRead + Send + '_>> {
        match self {
            Input::File(path) => {
                let file = std::fs::File::open(&*path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
            }
            Input::Stdin {
                kept: Some(bytes), ..
            } => Ok(Box::new(bytes.as_slice())),
            Input::Stdin { kept: None, taken } => {
                if *taken {
                    anyhow::bail!("stdin was already read");
                }
                *taken = true;
                Ok(Box::new(BufReader::new(std::io::stdin())))
            }
        }
    }
}

/// The `--format json` document (stable):
///
/// ```json
/// { "kind": "work-item",
///   "resources": [ {
///     "resource_index": 3, "kind": "work-item",
///     "entities": [ { "identifier": "…", "blueprint": "…", "properties": {…} } ],
///     "items": 5, "evaluated": 5, "complete": true,
///     "rejected": [ { "index": 2, "id": "1202" } ],
///     "rejected_entities": [ … ],
///     "item_errors": 0, "dropped": 1, "skipped": 0,
///     "diagnostics": [ { "resource_index": 3, "kind": "work-item",
///       "field": "properties.effort", "expr": ".fields.x", "origin": "file:12:19",
///       "diagnostic": "runtime|compile|no_output|null|selector|invalid|not_an_entity|skipped",
///       "message": "…", "messages": ["…", "…"], "count": 3,
///       "examples": ["12", "13", "14"] } ] } ],
///   "items": 5 }
/// ```
///
/// `entities` are exactly what Port's integration would send (only mapped fields, numbers
/// as numbers, search queries as objects); `rejected[].element` is present for items made
/// by `itemsToParse`; `rejected_entities` is empty unless `--parse-all`. The document is
/// written as it is made (entities one per line as each window of items is mapped), so the
/// counts follow the entities.
///
/// In text, each resource's entities come first, then its counts, rejections and findings.
struct Emitter<'a> {
    ctx: &'a Ctx,
    format: Format,
    first_resource: bool,
    first_entity: bool,
    entities: usize,
    /// Headers not written yet: nothing reaches stdout before the first window of items
    /// was read and mapped, so input that cannot be read at all leaves stdout empty.
    pending: String,
}

impl<'a> Emitter<'a> {
    fn new(ctx: &'a Ctx, format: Format) -> Self {
        Emitter {
            ctx,
            format,
            first_resource: true,
            first_entity: true,
            entities: 0,
            pending: String::new(),
        }
    }

    fn write(&mut self, text: &str) -> anyhow::Result<()> {
        let mut all = std::mem::take(&mut self.pending);
        all.push_str(text);
        Ok(self.ctx.out.data(&all)?)
    }

    fn hold(&mut self, text: &str) -> anyhow::Result<()> {
        self.pending.push_str(text);
        Ok(())
    }

    fn begin(&mut self, kind: &str) -> anyhow::Result<()> {
        match self.format {
            Format::Json => self.hold(&format!(
                "{{\n  \"kind\": {},\n  \"resources\": [",
                serde_json::to_string(kind)?
            )),
            Format::Text => Ok(()),
        }
    }

    fn begin_resource(&mut self, n: usize, resource: &config::Resource) -> anyhow::Result<()> {
        self.first_entity = true;
        self.entities = 0;
        let text = match self.format {
            Format::Json => format!(
                "{}\n    {{\n      \"resource_index\": {},\n      \"kind\": {},\n      \"entities\": [",
                if n == 0 { "" } else { "," },
                resource.index,
                serde_json::to_string(&resource.kind)?
            ),
            Format::Text => format!(
                "{}== resource {} ({}) at {}\n",
                if self.first_resource { "" } else { "\n" },
                resource.index,
                resource.kind,
                resource.origin
            ),
        };
        self.first_resource = false;
        self.hold(&text)
    }

    /// Writes a window's entities, rendered by [`render_entities`].
    fn entities(&mut self, text: &str, count: usize) -> anyhow::Result<()> {
        if count == 0 {
            return Ok(());
        }
        self.entities += count;
        let lead = match (self.format, self.first_entity) {
            (Format::Json, true) => "\n        ",
            (Format::Json, false) => ",\n        ",
            (Format::Text, _) => "",
        };
        self.first_entity = false;
        self.write(&format!("{lead}{text}"))
    }

    fn end_resource(
        &mut self,
        r: &ResourceResult,
        resource: &config::Resource,
    ) -> anyhow::Result<()> {
        let text = match self.format {
            Format::Json => {
                let tail = json!({
                    "items": r.items,
                    "evaluated": r.evaluated,
                    "complete": r.is_complete(),
                    "rejected": r.rejected,
                    "rejected_entities": r.rejected_entities.iter().map(|e| e.json()).collect::<Vec<_>>(),
                    "item_errors": r.item_errors,
                    "dropped": r.dropped,
                    "skipped": r.skipped,
                    "diagnostics": r.diagnostics,
                });
                let mut t = String::from(if self.first_entity { "]" } else { "\n      ]" });
                if let Value::Object(fields) = tail {
                    for (k, v) in fields {
                        t.push_str(&format!(
                            ",\n      {}: {}",
                            serde_json::to_string(&k)?,
                            serde_json::to_string(&v)?
                        ));
                    }
                }
                t.push_str("\n    }");
                t
            }
            Format::Text => text_tail(r, self.entities, resource),
        };
        self.write(&text)
    }

    fn end(&mut self, items: usize) -> anyhow::Result<()> {
        match self.format {
            Format::Json => self.write(&format!("\n  ],\n  \"items\": {items}\n}}\n")),
            Format::Text => Ok(()),
        }
    }
}

fn text_tail(r: &ResourceResult, entities: usize, resource: &config::Resource) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} items, {} evaluated: {} entities, {} rejected by the selector, {} dropped \
         (empty identifier or blueprint), {} item errors{}{}\n",
        r.items,
        r.evaluated,
        entities,
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
    out
}
