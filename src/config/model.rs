//! The typed model of a config: Port's `port-app-config` mapping plus adoport's settings.
//!
//! Built from YAML that has already passed schema validation, so its constructors only
//! deal with shapes the schema allows. Every jq leaf remembers where it came from, so a
//! later stage (jq compilation, mapping diagnostics) can point at the file, line and column.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::settings::Settings;

/// A loaded config repository: settings, the merged mapping, and any blueprints found.
#[derive(Clone, Debug)]
pub struct Config {
    /// adoport's own settings (`adoport.yaml`), defaults when absent.
    pub settings: Settings,
    /// The mapping, merged from every mapping file in file-name order.
    pub mapping: Mapping,
    /// Port blueprint JSON documents from the config repo's `blueprints/` folder, by identifier.
    pub blueprints: BTreeMap<String, Value>,
}

/// Port's `port-app-config`: the top-level flags and the resources, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    /// `deleteDependentEntities`: deletes also remove dependent entities (default true).
    pub delete_dependent_entities: bool,
    /// `createMissingRelatedEntities`: upserts create missing relation targets (default true).
    pub create_missing_related_entities: bool,
    /// `enableMergeEntity`: upserts merge into existing entities (default true).
    pub enable_merge_entity: bool,
    /// `entityDeletionThreshold`: the largest share of owned entities one run may delete (default 0.9).
    pub entity_deletion_threshold: f64,
    /// `specPath` (Azure DevOps integration): where legacy GitOps specs live.
    pub spec_path: Option<String>,
    /// `useDefaultBranch` (Azure DevOps integration).
    pub use_default_branch: Option<bool>,
    /// `branch` (Azure DevOps integration).
    pub branch: Option<String>,
    /// The resources, in the order Port processes them.
    pub resources: Vec<Resource>,
}

impl Default for Mapping {
    /// Port's defaults: every flag on, threshold 0.9, no resources.
    fn default() -> Self {
        Mapping {
            delete_dependent_entities: true,
            create_missing_related_entities: true,
            enable_merge_entity: true,
            entity_deletion_threshold: 0.9,
            spec_path: None,
            use_default_branch: None,
            branch: None,
            resources: Vec::new(),
        }
    }
}

/// One entry of `resources[]`: which kind to fetch, which items to keep, how to map them.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Position in the merged `resources` list (Port names resources `{kind}-{index}`).
    pub index: usize,
    /// The ADO kind, such as `work-item`.
    pub kind: String,
    /// Which items to keep, and the kind's own fetch options.
    pub selector: Selector,
    /// How kept items become entities.
    pub port: PortResource,
    /// Where the resource is defined.
    pub origin: Origin,
}

/// `selector`: the jq filter plus the kind's own options (`wiql`, `expand`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// `query`: a jq expression that must yield a boolean for each item.
    pub query: Jq,
    /// Every other selector key, as written (validated against the kind's selector schema).
    pub options: Map<String, Value>,
    /// The paths the resource's deprecated `file://PATH` mapping values name, in order: the
    /// source reads them with the items (see [`Jq::file_path`]), so mapping does no I/O.
    pub file_paths: Vec<String>,
}

impl Selector {
    /// The whole selector object (`query` included), as sources receive it; `file://` paths
    /// go under [`crate::ado::kinds::FILE_PATHS_OPTION`].
    pub fn to_object(&self) -> Map<String, Value> {
        let mut object = self.options.clone();
        object.insert("query".into(), Value::String(self.query.expr.clone()));
        if !self.file_paths.is_empty() {
            object.insert(
                crate::ado::kinds::FILE_PATHS_OPTION.into(),
                Value::from(self.file_paths.clone()),
            );
        }
        object
    }
}

/// `port`: the entity mapping and the optional `itemsToParse` explosion.
#[derive(Clone, Debug, PartialEq)]
pub struct PortResource {
    /// `entity.mappings`.
    pub mappings: EntityMappings,
    /// `itemsToParse`: a jq expression yielding an array; each element becomes an item.
    pub items_to_parse: Option<Jq>,
    /// `itemsToParseName`: the key each element is injected under (default `item`).
    pub items_to_parse_name: String,
    /// `itemsToParseTopLevelTransform`: remove the source array from the parent (default true).
    pub items_to_parse_top_level_transform: bool,
}

/// `port.entity.mappings`: every leaf is a jq expression.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityMappings {
    /// `identifier`: a jq expression, or a search query selecting an existing entity.
    pub identifier: Field,
    /// `blueprint`: a jq expression, usually a literal such as `'"service"'`.
    pub blueprint: Jq,
    /// `title`, when mapped.
    pub title: Option<Jq>,
    /// `icon`, when mapped.
    pub icon: Option<Jq>,
    /// `team`, when mapped: a jq expression or a search query.
    pub team: Option<Field>,
    /// `properties`, by name; `None` when the key is absent (nothing is sent).
    pub properties: Option<BTreeMap<String, Jq>>,
    /// `relations`, by name; `None` when the key is absent (nothing is sent).
    pub relations: Option<BTreeMap<String, Field>>,
}

/// A mapping value that is either one jq expression or a search query object.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// A jq expression.
    Jq(Jq),
    /// `{combinator, rules}`: names existing entities (as an identifier, resolved as
    /// `crate::search` says).
    Search(SearchQuery),
}

/// Port's search query object; every leaf is itself a jq expression.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// `combinator`, e.g. `'"and"'`.
    pub combinator: Jq,
    /// `rules`: leaf rules or nested queries.
    pub rules: Vec<Rule>,
    /// Where the query object is defined.
    pub origin: Origin,
}

/// One entry of a search query's `rules`.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// `{property, operator, value}`, each a jq expression.
    Match {
        /// `property`, e.g. `'"$identifier"'`.
        property: Jq,
        /// `operator`, e.g. `'"="'`.
        operator: Jq,
        /// `value`.
        value: Jq,
    },
    /// A nested `{combinator, rules}`.
    Query(SearchQuery),
}

/// A jq expression as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Jq {
    /// The expression text, before Port's single-quote rewrite.
    pub expr: String,
    /// Where the YAML value starts.
    pub origin: Origin,
}

/// A place in a config file: the file, the JSON pointer of the node, and its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file, as displayed to the user.
    pub file: Arc<str>,
    /// The node's JSON pointer within the file, e.g. `/resources/0/selector/query`.
    pub pointer: String,
    /// 1-based line of the node's value.
    pub line: usize,
    /// 1-based column of the node's value.
    pub column: usize,
}

/// The prefix of Port's deprecated mapping value that reads a file of the item's repository.
pub const FILE_PREFIX: &str = "file://";

impl Jq {
    /// The path of a deprecated `file://PATH` mapping value (Port's integration reads that
    /// file from the item's repository instead of running jq).
    pub fn file_path(&self) -> Option<&str> {
        self.expr.strip_prefix(FILE_PREFIX)
    }

    /// The jq program a mapping leaf runs: the expression, or for `file://PATH` the text the
    /// source attached as `__includedFiles["PATH"]`, `null` when missing or empty, as Port
    /// gives. (Selector and `itemsToParse` leaves run their expression as written, as Port.)
    pub fn mapping_program(&self) -> std::borrow::Cow<'_, str> {
        match self.file_path() {
            None => std::borrow::Cow::Borrowed(&self.expr),
            Some(path) => {
                // A JSON string is a jq string; `'` is escaped so Port's single-quote
                // rewrite cannot touch it.
                let key = Value::String(path.to_owned())
                    .to_string()
                    .replace('\'', "\\u0027");
                std::borrow::Cow::Owned(format!(
                    ".__includedFiles[{key}] | if . == \"\" then null else . end"
                ))
            }
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl EntityMappings {
    /// Every jq leaf with its dotted field path (`identifier`, `properties.url`,
    /// `relations.project.rules[0].value`), in a stable order.
    pub fn leaves(&self) -> Vec<(String, &Jq)> {
        let mut out = Vec::new();
        field_leaves("identifier".into(), &self.identifier, &mut out);
        out.push(("blueprint".into(), &self.blueprint));
        if let Some(jq) = &self.title {
            out.push(("title".into(), jq));
        }
        if let Some(jq) = &self.icon {
            out.push(("icon".into(), jq));
        }
        if let Some(team) = &self.team {
            field_leaves("team".into(), team, &mut out);
        }
        for (name, jq) in self.properties.iter().flatten() {
            out.push((format!("properties.{name}"), jq));
        }
        for (name, field) in self.relations.iter().flatten() {
            field_leaves(format!("relations.{name}"), field, &mut out);
        }
        out
    }

    /// The distinct paths of the leaves written as `file://PATH`, in leaf order.
    pub fn file_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for (_, jq) in self.leaves() {
            if let Some(path) = jq.file_path()
                && !paths.iter().any(|p| p == path)
            {
                paths.push(path.to_owned());
            }
        }
        paths
    }
}

fn field_leaves<'a>(path: String, field: &'a Field, out: &mut Vec<(String, &'a Jq)>) {
    match field {
        Field::Jq(jq) => out.push((path, jq)),
        Field::Search(query) => query_leaves(path, query, out),
    }
}

fn query_leaves<'a>(path: String, query: &'a SearchQuery, out: &mut Vec<(String, &'a Jq)>) {
    out.push((format!("{path}.combinator"), &query.combinator));
    for (i, rule) in query.rules.iter().enumerate() {
        let at = format!("{path}.rules[{i}]");
        match rule {
            Rule::Match {
                property,
                operator,
                value,
            } => {
                out.push((format!("{at}.property"), property));
                out.push((format!("{at}.operator"), operator));
                out.push((format!("{at}.value"), value));
            }
            Rule::Query(nested) => query_leaves(at, nested, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jq::{Engine, EngineOptions, Input};
    use serde_json::json;

    fn leaf(expr: &str) -> Jq {
        Jq {
            expr: expr.to_owned(),
            origin: Origin {
                file: "t.yaml".into(),
                pointer: String::new(),
                line: 1,
                column: 1,
            },
        }
    }

    fn run(program: &str, item: &Value) -> Option<Value> {
        let engine = Engine::new(EngineOptions::default());
        engine
            .compile(program)
            .ok()?
            .first(&Input::new(item))
            .ok()
            .flatten()
    }

    #[test]
    fn a_file_prefix_reads_what_the_source_attached_and_null_when_it_is_empty() {
        let jq = leaf("file://docs/it's here.md");
        assert_eq!(jq.file_path(), Some("docs/it's here.md"));
        let program = jq.mapping_program();
        let item = json!({"__includedFiles": {"docs/it's here.md": "text"}});
        assert_eq!(run(&program, &item), Some(json!("text")));
        let empty = json!({"__includedFiles": {"docs/it's here.md": ""}});
        assert_eq!(run(&program, &empty), Some(Value::Null));
        assert_eq!(run(&program, &json!({"id": 1})), Some(Value::Null));
        assert_eq!(leaf(".name").mapping_program(), ".name");
    }
}
