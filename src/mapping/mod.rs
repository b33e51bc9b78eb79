//! Mapping: a resource's selector and entity mapping over raw items, giving entities exactly
//! as Port's integration produces them (`JQEntityProcessor`, see
//! `shared/reference/ocean-core-reconcile.md` §1–2), with per-field diagnostics.
//!
//! Per item, in Port's order: `itemsToParse` explosion ([`explode`]); the selector, which
//! must give a boolean (anything else, or an error, is an *item error* and makes the kind
//! incomplete); every mapped leaf's **first** output (an error or no output gives `null` and
//! a diagnostic, never an item error); search-query objects leaf by leaf; only mapped fields
//! present; then the drop rule (an identifier or blueprint that is null, `false`, `0`, `""`,
//! `[]` or `{}` drops the item, counted, not an error). Running jq belongs to [`crate::jq`];
//! comparing entities with a catalog belongs to the reconciler.
//!
//! Large inputs are mapped in windows on every core: [`read_raw`] finds where items end,
//! and [`ordered::in_order`] parses and maps windows on worker threads and hands the
//! results back in input order, so the output is the single-threaded one.

mod diagnostics;
mod entity;
mod explode;
mod input;
pub mod ordered;
mod template;

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{Field, Jq, Origin, Resource, Rule, SearchQuery};
use crate::entity::Entity;
use crate::jq::{Engine, Input, Program, rewrite_single_quotes};

pub use diagnostics::{DiagnosticKind, EXAMPLES, FieldDiagnostic, item_id};
pub use input::{RawItems, read_items, read_raw};

use diagnostics::{Collector, Site};
use entity::{Fields, short, truthy};
use explode::{Exploder, Skip, type_name};
use template::Template;

/// Raw items that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON-lines line is not JSON.
    #[error("line {line} is not JSON")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The text starts as a JSON array but is not one.
    #[error("the items are not a valid JSON array: {reason} (line {line})")]
    BadArray {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        reason: String,
    },
    /// An element of the array is not valid JSON.
    #[error("item {index} of the array (from line {line}) is not valid JSON")]
    BadItem {
        /// 1-based position in the array.
        index: usize,
        /// 1-based line number where it starts.
        line: usize,
        /// The parser's complaint (line and column within the item).
        #[source]
        source: serde_json::Error,
    },
    /// The input could not be read.
    #[error("the items could not be read")]
    Unreadable {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads raw items from a JSON array or JSON lines (one item per line, the snapshot
/// format; blank lines ignored), so the playground takes either.
pub fn parse_items(text: &str) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    read_items(text.as_bytes(), usize::MAX, &mut |w| items.extend(w))?;
    Ok(items)
}

/// Which item an entity or a finding came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemRef {
    /// Position of the raw item in the input.
    pub index: usize,
    /// Position of the element within the raw item's `itemsToParse` array, when exploded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<usize>,
    /// A readable id (see [`item_id`]).
    pub id: String,
}

/// One mapped entity.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedEntity {
    /// The entity for the catalog; `None` when the identifier is a search query (it names
    /// an existing entity, which the catalog resolves: see `crate::search`; the JSON keeps
    /// it) or when Port's API would reject it (a boolean or list identifier, with a finding).
    pub entity: Option<Entity>,
    /// Port's JSON, kept only when it is not `entity` serialized (see [`Self::json`]).
    raw: Option<Value>,
    /// The item it came from.
    pub item: ItemRef,
}

impl MappedEntity {
    /// The entity exactly as Port's integration would send it (numbers kept as numbers,
    /// search queries as objects, `icon`/`team` coerced as pydantic does, a mapped but
    /// empty `properties` as `{}`), for `map --format json` and parity checks.
    pub fn json(&self) -> Value {
        match (&self.raw, &self.entity) {
            (Some(raw), _) => raw.clone(),
            (None, Some(entity)) => serde_json::to_value(entity).unwrap_or_default(),
            (None, None) => Value::Null,
        }
    }
}

/// Everything one resource's mapping produced from a batch of raw items.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceResult {
    /// Index of the resource in the merged mapping.
    pub resource_index: usize,
    /// The resource's kind.
    pub kind: String,
    /// Raw items given.
    pub items: usize,
    /// Items evaluated (after `itemsToParse`).
    pub evaluated: usize,
    /// The entities, in item order.
    pub entities: Vec<MappedEntity>,
    /// Items the selector rejected (`false`).
    pub rejected: Vec<ItemRef>,
    /// With [`Options::parse_all`], the entities the rejected items map to.
    pub rejected_entities: Vec<MappedEntity>,
    /// Items that are errors: the selector gave no boolean or failed, or the entity cannot
    /// be sent. Any makes the kind incomplete for pruning.
    pub item_errors: usize,
    /// Items with a null/empty/falsy identifier or blueprint. Port drops these silently; here
    /// each is also an item error (the kind is incomplete), since a field that failed to
    /// evaluate must never read as "this entity is gone".
    pub dropped: usize,
    /// Raw items `itemsToParse` skipped (not an array, or the parent transformed to null).
    pub skipped: usize,
    /// Findings per field, aggregated; item errors first.
    pub diagnostics: Vec<FieldDiagnostic>,
}

impl ResourceResult {
    /// An empty result for `resource`, to [`absorb`](Self::absorb) batches into.
    pub fn empty(resource: &Resource) -> Self {
        ResourceResult {
            resource_index: resource.index,
            kind: resource.kind.clone(),
            items: 0,
            evaluated: 0,
            entities: Vec::new(),
            rejected: Vec::new(),
            rejected_entities: Vec::new(),
            item_errors: 0,
            dropped: 0,
            skipped: 0,
            diagnostics: Vec::new(),
        }
    }

    /// Folds the result of the next batch of the same resource's items into this one (the
    /// batch's item indexes already count from where this one ended), as if one evaluation
    /// had mapped both: what a chunked or parallel mapping of a listing does.
    pub fn absorb(&mut self, later: ResourceResult) {
        self.items += later.items;
        self.evaluated += later.evaluated;
        self.entities.extend(later.entities);
        self.rejected.extend(later.rejected);
        self.rejected_entities.extend(later.rejected_entities);
        self.item_errors += later.item_errors;
        self.dropped += later.dropped;
        self.skipped += later.skipped;
        diagnostics::absorb(&mut self.diagnostics, later.diagnostics);
    }

    /// Whether the batch mapped without item errors, so pruning may trust it.
    pub fn is_complete(&self) -> bool {
        self.item_errors == 0
    }
}

/// A compiled leaf: its field path, expression and program (or compile error).
struct Leaf {
    path: String,
    expr: String,
    origin: Origin,
    program: Result<Arc<Program>, String>,
    /// A direct evaluation for the happy path, when the expression is simple enough.
    template: Option<Template>,
}

/// The shape of a mapped field, pointing at leaves by index.
enum Node {
    Leaf(usize),
    Search { combinator: usize, rules: Vec<Node> },
    Match([usize; 3]),
}

/// A resource's mapping, compiled once.
struct Plan<'r> {
    resource: &'r Resource,
    leaves: Vec<Leaf>,
    selector: Leaf,
    identifier: Node,
    blueprint: usize,
    title: Option<usize>,
    icon: Option<usize>,
    team: Option<Node>,
    properties: Option<Vec<(String, usize)>>,
    relations: Option<Vec<(String, Node)>>,
    /// The only top-level keys of an item its programs read, when they read it through
    /// nothing else: only those are converted for jaq.
    input_keys: Option<Vec<String>>,
}

impl<'r> Plan<'r> {
    fn new(resource: &'r Resource, engine: &Engine) -> Plan<'r> {
        let m = &resource.port.mappings;
        let mut leaves = Vec::new();
        let mut push = |path: String, jq: &Jq| {
            // A mapping leaf may be Port's `file://PATH`: it reads what the source attached.
            leaves.push(compile_program(engine, path, jq, &jq.mapping_program()));
            leaves.len() - 1
        };
        let identifier = field_node(&mut push, "identifier".into(), &m.identifier);
        let blueprint = push("blueprint".into(), &m.blueprint);
        let title = m.title.as_ref().map(|j| push("title".into(), j));
        let icon = m.icon.as_ref().map(|j| push("icon".into(), j));
        let team = m
            .team
            .as_ref()
            .map(|f| field_node(&mut push, "team".into(), f));
        let properties = m.properties.as_ref().map(|props| {
            props
                .iter()
                .map(|(k, j)| (k.clone(), push(format!("properties.{k}"), j)))
                .collect()
        });
        let relations = m.relations.as_ref().map(|rels| {
            rels.iter()
                .map(|(k, f)| {
                    (
                        k.clone(),
                        field_node(&mut push, format!("relations.{k}"), f),
                    )
                })
                .collect()
        });
        let selector = compile_leaf(engine, "selector.query".into(), &resource.selector.query);
        let input_keys = input_keys(leaves.iter().chain([&selector]));
        Plan {
            resource,
            leaves,
            selector,
            identifier,
            blueprint,
            title,
            icon,
            team,
            properties,
            relations,
            input_keys,
        }
    }
}

/// The union of the leaves' [`Program::input_keys`]; `None` if one may read more.
fn input_keys<'l>(leaves: impl Iterator<Item = &'l Leaf>) -> Option<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for leaf in leaves {
        // A leaf that does not compile never runs.
        if let Ok(program) = &leaf.program {
            for key in program.input_keys()? {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
    }
    Some(keys)
}

fn compile_leaf(engine: &Engine, path: String, jq: &Jq) -> Leaf {
    compile_program(engine, path, jq, &jq.expr)
}

/// A leaf written as `jq` that runs `text` (its expression, or what it stands for).
fn compile_program(engine: &Engine, path: String, jq: &Jq, text: &str) -> Leaf {
    let program = engine.compile(text).map_err(|e| e.message);
    // Plain paths and literals already skip jaq; templates cover the next simplest shapes.
    let template = match &program {
        Ok(p) if !p.is_fast_path() => Template::parse(&rewrite_single_quotes(text)),
        _ => None,
    };
    Leaf {
        path,
        expr: jq.expr.clone(),
        origin: jq.origin.clone(),
        program,
        template,
    }
}

fn field_node(push: &mut impl FnMut(String, &Jq) -> usize, path: String, field: &Field) -> Node {
    match field {
        Field::Jq(jq) => Node::Leaf(push(path, jq)),
        Field::Search(q) => search_node(push, path, q),
    }
}

fn search_node(push: &mut impl FnMut(String, &Jq) -> usize, path: String, q: &SearchQuery) -> Node {
    let combinator = push(format!("{path}.combinator"), &q.combinator);
    let rules = q
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("{path}.rules[{i}]");
            match rule {
                Rule::Match {
                    property,
                    operator,
                    value,
                } => Node::Match([
                    push(format!("{at}.property"), property),
                    push(format!("{at}.operator"), operator),
                    push(format!("{at}.value"), value),
                ]),
                Rule::Query(nested) => search_node(push, at, nested),
            }
        })
        .collect();
    Node::Search { combinator, rules }
}

/// How [`evaluate_with`] treats items the selector rejects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Map rejected items too, into [`ResourceResult::rejected_entities`] (Port's
    /// `parse_all`, used for live events: those entities are the ones to delete).
    pub parse_all: bool,
    /// The position of the first item in the whole listing, when `items` is one batch of it
    /// (item references and `#N` ids count from there).
    pub first_index: usize,
}

/// Maps raw items through one resource as a full resync does: selector, `itemsToParse`,
/// every leaf, the drop rule.
///
/// Every leaf is compiled once up front; a leaf that does not compile is `null` on every
/// item, with one aggregated diagnostic, as in Port.
pub fn evaluate(resource: &Resource, items: &[Value], engine: &Engine) -> ResourceResult {
    evaluate_with(resource, items, engine, Options::default())
}

/// [`evaluate`] with [`Options`].
pub fn evaluate_with(
    resource: &Resource,
    items: &[Value],
    engine: &Engine,
    options: Options,
) -> ResourceResult {
    let plan = Plan::new(resource, engine);
    let mut run = Run {
        options,
        plan: &plan,
        diags: Collector::default(),
        result: ResourceResult {
            resource_index: resource.index,
            kind: resource.kind.clone(),
            items: items.len(),
            evaluated: 0,
            entities: Vec::with_capacity(items.len()),
            rejected: Vec::new(),
            rejected_entities: Vec::new(),
            item_errors: 0,
            dropped: 0,
            skipped: 0,
            diagnostics: Vec::new(),
        },
    };
    match &resource.port.items_to_parse {
        None => {
            for (index, item) in items.iter().enumerate() {
                let index = options.first_index + index;
                if run.is_an_item(item, index) {
                    run.item(item, index, None);
                }
            }
        }
        Some(jq) => {
            let exploder = Exploder::new(
                engine,
                &jq.expr,
                &resource.port.items_to_parse_name,
                resource.port.items_to_parse_top_level_transform,
            );
            for (index, item) in items.iter().enumerate() {
                let index = options.first_index + index;
                if !run.is_an_item(item, index) {
                    continue;
                }
                match exploder.explode(item) {
                    Ok(elements) => {
                        for (k, element) in elements.iter().enumerate() {
                            run.item(element, index, Some(k));
                        }
                    }
                    Err(skip) => run.skip(item, index, jq, skip),
                }
            }
        }
    }
    let mut result = run.result;
    result.diagnostics = run.diags.finish();
    result
}

/// Folds the findings of a later batch of items into those of an earlier one, as if one
/// evaluation had seen both.
pub fn absorb_findings(into: &mut Vec<FieldDiagnostic>, later: Vec<FieldDiagnostic>) {
    diagnostics::absorb(into, later);
}

/// Items below which a batch is mapped on the calling thread alone (spreading a small batch
/// costs more than it saves).
const PARALLEL_MIN_ITEMS: usize = 256;

/// [`evaluate_with`] spread over every core: the items are cut into one contiguous part per
/// thread, each mapped on its own thread with the same engine (every evaluation keeps its
/// own limits), and the parts are folded back in order — so the result is exactly the
/// single-threaded one, entities and findings in item order. On a worker of an
/// [`ordered::in_order`] stream, which spreads whole windows over the cores, it maps on the
/// calling thread.
pub fn evaluate_parallel(
    resource: &Resource,
    items: &[Value],
    engine: &Engine,
    options: Options,
) -> ResourceResult {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if threads < 2 || items.len() < PARALLEL_MIN_ITEMS || ordered::on_a_worker() {
        return evaluate_with(resource, items, engine, options);
    }
    let part = items.len().div_ceil(threads);
    let parts: Vec<ResourceResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part)
            .enumerate()
            .map(|(i, chunk)| {
                let options = Options {
                    first_index: options.first_index + i * part,
                    ..options
                };
                scope.spawn(move || evaluate_with(resource, chunk, engine, options))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut out = ResourceResult::empty(resource);
    for r in parts {
        out.absorb(r);
    }
    out
}

/// One evaluation's state.
struct Run<'p, 'r> {
    options: Options,
    plan: &'p Plan<'r>,
    diags: Collector,
    result: ResourceResult,
}

/// Site ids of findings that are not about one leaf.
const SITE_ITEMS_TO_PARSE: usize = usize::MAX;
const SITE_SELECTOR: usize = usize::MAX - 1;
const SITE_INVALID: usize = usize::MAX - 2;
const SITE_DROPPED: usize = usize::MAX - 3;
const SITE_NOT_AN_ITEM: usize = usize::MAX - 4;

fn site<'a>(plan: &'a Plan<'_>, id: usize, leaf: &'a Leaf) -> Site<'a> {
    Site {
        id,
        resource_index: plan.resource.index,
        kind: &plan.resource.kind,
        field: &leaf.path,
        expr: &leaf.expr,
        origin: &leaf.origin,
    }
}

impl Run<'_, '_> {
    /// A raw item must be a non-empty object (what every source yields); anything else is an
    /// item error, reported, never mapped into an entity such as `…/null`.
    fn is_an_item(&mut self, item: &Value, index: usize) -> bool {
        let problem = match item {
            Value::Object(m) if !m.is_empty() => return true,
            Value::Object(_) => "the item is an empty object".to_owned(),
            other => format!("the item is {}, not an object", type_name(Some(other))),
        };
        self.result.item_errors += 1;
        let site = Site {
            id: SITE_NOT_AN_ITEM,
            resource_index: self.plan.resource.index,
            kind: &self.plan.resource.kind,
            field: "item",
            expr: "",
            origin: &self.plan.resource.origin,
        };
        self.diags
            .add(&site, DiagnosticKind::Invalid, &problem, || {
                item_id(item, index)
            });
        false
    }

    fn skip(&mut self, item: &Value, index: usize, jq: &Jq, skip: Skip) {
        let (kind, message) = match skip {
            Skip::Warn(m) => {
                self.result.skipped += 1;
                (DiagnosticKind::Skipped, m)
            }
            Skip::Fail(m) => {
                self.result.item_errors += 1;
                (DiagnosticKind::Invalid, m)
            }
        };
        let site = Site {
            id: SITE_ITEMS_TO_PARSE,
            resource_index: self.plan.resource.index,
            kind: &self.plan.resource.kind,
            field: "itemsToParse",
            expr: &jq.expr,
            origin: &jq.origin,
        };
        self.diags
            .add(&site, kind, &message, || item_id(item, index));
    }

    fn item(&mut self, item: &Value, index: usize, element: Option<usize>) {
        self.result.evaluated += 1;
        let input = match &self.plan.input_keys {
            Some(keys) => Input::reading(item, keys),
            None => Input::new(item),
        };
        let id = || item_id(item, index);
        let plan = self.plan;
        let passed = match self.selector(&input, item) {
            Ok(true) => true,
            Ok(false) => {
                self.result.rejected.push(ItemRef {
                    index,
                    element,
                    id: id(),
                });
                if !self.options.parse_all {
                    return;
                }
                false
            }
            Err(message) => {
                self.result.item_errors += 1;
                let site = site(plan, SITE_SELECTOR, &plan.selector);
                self.diags
                    .add(&site, DiagnosticKind::Selector, &message, id);
                return;
            }
        };
        let fields = Fields {
            identifier: self.node(&plan.identifier, &input, item, index),
            title: plan.title.map(|t| self.leaf(t, &input, item, index)),
            icon: plan.icon.map(|i| self.leaf(i, &input, item, index)),
            blueprint: self.leaf(plan.blueprint, &input, item, index),
            team: plan
                .team
                .as_ref()
                .map(|team| self.node(team, &input, item, index)),
            properties: plan.properties.as_ref().map(|props| {
                let mut map = Map::new();
                for (name, leaf) in props {
                    map.insert(name.clone(), self.leaf(*leaf, &input, item, index));
                }
                map
            }),
            relations: plan.relations.as_ref().map(|rels| {
                let mut map = Map::new();
                for (name, node) in rels {
                    map.insert(name.clone(), self.node(node, &input, item, index));
                }
                map
            }),
        };
        if !(truthy(&fields.identifier) && truthy(&fields.blueprint)) {
            self.result.dropped += 1;
            self.result.item_errors += 1;
            let (leaf, what) = match (&plan.identifier, truthy(&fields.identifier)) {
                (Node::Leaf(l), false) => (*l, "identifier"),
                (_, false) => (plan.blueprint, "identifier"),
                (_, true) => (plan.blueprint, "blueprint"),
            };
            let value = if what == "identifier" {
                &fields.identifier
            } else {
                &fields.blueprint
            };
            let message = format!(
                "the {what} is {}, so the item cannot become an entity and its kind is incomplete",
                short(value)
            );
            let site = site(plan, SITE_DROPPED, &plan.leaves[leaf]);
            self.diags
                .add(&site, DiagnosticKind::NoIdentity, &message, id);
            return;
        }
        let item_ref = ItemRef {
            index,
            element,
            id: id(),
        };
        match fields.into_entity() {
            Ok((mapped, unsendable)) => {
                if let Some((field, message)) = unsendable {
                    let leaf = match (&plan.identifier, field) {
                        (Node::Leaf(l), "identifier") => *l,
                        _ => plan.blueprint,
                    };
                    let site = site(plan, SITE_INVALID, &plan.leaves[leaf]);
                    let id = item_ref.id.clone();
                    self.diags
                        .add(&site, DiagnosticKind::NotAnEntity, &message, || id);
                }
                let entity = MappedEntity {
                    entity: mapped.entity,
                    raw: mapped.raw,
                    item: item_ref,
                };
                if passed {
                    self.result.entities.push(entity);
                } else {
                    self.result.rejected_entities.push(entity);
                }
            }
            Err(message) => {
                self.result.item_errors += 1;
                let leaf = plan.icon.unwrap_or(plan.blueprint);
                let site = site(plan, SITE_INVALID, &plan.leaves[leaf]);
                self.diags
                    .add(&site, DiagnosticKind::Invalid, &message, || item_ref.id);
            }
        }
    }

    /// The selector's verdict, or why there is none (an item error).
    fn selector(&self, input: &Input, item: &Value) -> Result<bool, String> {
        let selector = &self.plan.selector;
        if let Some(t) = &selector.template
            && let Some(v) = t.eval(item)
            && let Value::Bool(b) = *v
        {
            return Ok(b);
        }
        let program = match &selector.program {
            Ok(p) => p,
            Err(message) => return Err(format!("the selector does not compile: {message}")),
        };
        match program.first(input) {
            Ok(Some(Value::Bool(b))) => Ok(b),
            Ok(Some(other)) => Err(format!(
                "expected a boolean from the selector, got {} {}",
                type_name(Some(&other)),
                short(&other)
            )),
            Ok(None) => Err("expected a boolean from the selector, got no output".into()),
            Err(e) => Err(e.message),
        }
    }

    fn node(&mut self, node: &Node, input: &Input, item: &Value, index: usize) -> Value {
        match node {
            Node::Leaf(l) => self.leaf(*l, input, item, index),
            Node::Match([p, o, v]) => {
                let mut m = Map::new();
                m.insert("property".into(), self.leaf(*p, input, item, index));
                m.insert("operator".into(), self.leaf(*o, input, item, index));
                m.insert("value".into(), self.leaf(*v, input, item, index));
                Value::Object(m)
            }
            Node::Search { combinator, rules } => {
                let mut m = Map::new();
                m.insert(
                    "combinator".into(),
                    self.leaf(*combinator, input, item, index),
                );
                let rules = rules
                    .iter()
                    .map(|r| self.node(r, input, item, index))
                    .collect();
                m.insert("rules".into(), Value::Array(rules));
                Value::Object(m)
            }
        }
    }

    /// A leaf's first output; `null` (and a finding) on a compile error, an error, no output.
    fn leaf(&mut self, id: usize, input: &Input, item: &Value, index: usize) -> Value {
        let plan = self.plan;
        let leaf = &plan.leaves[id];
        let templated = leaf.template.as_ref().and_then(|t| t.eval(item));
        let (kind, message) = match (&leaf.program, templated) {
            (_, Some(v)) if !v.is_null() => return v.into_owned(),
            (_, Some(_)) => (DiagnosticKind::Null, ""),
            (Err(message), None) => (DiagnosticKind::Compile, message.as_str()),
            (Ok(program), None) => match program.first(input) {
                Ok(Some(Value::Null)) => (DiagnosticKind::Null, ""),
                Ok(Some(v)) => return v,
                Ok(None) => (DiagnosticKind::NoOutput, ""),
                Err(e) => {
                    let site = site(plan, id, leaf);
                    self.diags
                        .add(&site, DiagnosticKind::Runtime, &e.message, || {
                            item_id(item, index)
                        });
                    return Value::Null;
                }
            },
        };
        let site = site(plan, id, leaf);
        self.diags
            .add(&site, kind, message, || item_id(item, index));
        Value::Null
    }
}

#[cfg(test)]
mod tests;
