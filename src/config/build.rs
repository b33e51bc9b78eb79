//! JSON (already schema-checked) → the typed model, keeping each jq leaf's origin.
//!
//! The schema guarantees the shapes, but this code never trusts it: anything unexpected
//! becomes a diagnostic, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::diagnostic::Diagnostic;
use super::model::{
    EntityMappings, Field, Jq, Mapping, Origin, PortResource, Resource, Rule, SearchQuery, Selector,
};
use super::rules;
use super::yaml::{YamlDoc, escape};

/// Builds one file's part of the mapping: its flags (only those written) and resources.
pub(crate) struct FilePart {
    pub(crate) flags: Vec<(&'static str, Value)>,
    pub(crate) mapping: Mapping,
}

const FLAGS: [&str; 7] = [
    "deleteDependentEntities",
    "createMissingRelatedEntities",
    "enableMergeEntity",
    "entityDeletionThreshold",
    "specPath",
    "useDefaultBranch",
    "branch",
];

pub(crate) fn mapping_part(
    doc: &YamlDoc,
    file: &Arc<str>,
    diagnostics: &mut Vec<Diagnostic>,
) -> FilePart {
    let b = Builder {
        doc,
        file,
        diagnostics,
    };
    b.file_part()
}

struct Builder<'a> {
    doc: &'a YamlDoc,
    file: &'a Arc<str>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Builder<'_> {
    fn file_part(mut self) -> FilePart {
        let empty = Map::new();
        let root = self.doc.value.as_object().unwrap_or(&empty);
        let mut mapping = Mapping::default();
        let mut flags = Vec::new();
        for name in FLAGS {
            if let Some(v) = root.get(name) {
                flags.push((name, v.clone()));
            }
        }
        let flag = |name: &str| root.get(name);
        if let Some(b) = flag("deleteDependentEntities").and_then(boolish) {
            mapping.delete_dependent_entities = b;
        }
        if let Some(b) = flag("createMissingRelatedEntities").and_then(boolish) {
            mapping.create_missing_related_entities = b;
        }
        if let Some(b) = flag("enableMergeEntity").and_then(boolish) {
            mapping.enable_merge_entity = b;
        }
        if let Some(t) = flag("entityDeletionThreshold").and_then(Value::as_f64) {
            mapping.entity_deletion_threshold = t;
        }
        mapping.spec_path = flag("specPath").and_then(Value::as_str).map(String::from);
        mapping.use_default_branch = flag("useDefaultBranch").and_then(boolish);
        mapping.branch = flag("branch").and_then(Value::as_str).map(String::from);
        if let Some(resources) = root.get("resources").and_then(Value::as_array) {
            for (i, r) in resources.iter().enumerate() {
                let at = format!("/resources/{i}");
                match self.resource(r, &at) {
                    Some(resource) => mapping.resources.push(resource),
                    // The schema reports shape errors; make sure nothing is skipped in silence.
                    None if !self.error_within(&at) => {
                        self.diagnostics.push(
                            Diagnostic::new(
                                &rules::schema::RULE,
                                self.file,
                                self.doc.span_at(&at),
                                "this resource cannot be read",
                            )
                            .with_help("a resource needs `kind`, `selector.query` and `port.entity.mappings` with `identifier` and `blueprint`"),
                        );
                    }
                    None => {}
                }
            }
        }
        FilePart { flags, mapping }
    }

    /// Whether an error was already reported inside the node at `pointer`.
    fn error_within(&self, pointer: &str) -> bool {
        let Some(node) = self.doc.nodes.get(pointer) else {
            return false;
        };
        let range = node.value.start..=node.value.end;
        self.diagnostics.iter().any(|d| {
            d.is_error() && d.file == *self.file && d.span.is_some_and(|s| range.contains(&s.start))
        })
    }

    fn origin(&self, pointer: &str) -> Origin {
        let span = self.doc.span_at(pointer).unwrap_or_default();
        Origin {
            file: self.file.clone(),
            pointer: pointer.to_string(),
            line: span.line.max(1),
            column: span.column.max(1),
        }
    }

    fn resource(&mut self, value: &Value, at: &str) -> Option<Resource> {
        let obj = value.as_object()?;
        let kind = obj.get("kind")?.as_str()?.to_string();
        let sel = obj.get("selector")?.as_object()?;
        let query = self.jq(sel.get("query")?, &format!("{at}/selector/query"))?;
        let options: Map<String, Value> = sel
            .iter()
            .filter(|(k, _)| *k != "query")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let port = obj.get("port")?.as_object()?;
        let entity = port.get("entity")?.as_object()?;
        let m = entity.get("mappings")?.as_object()?;
        let mp = format!("{at}/port/entity/mappings");
        let mappings = EntityMappings {
            identifier: self.field(m.get("identifier")?, &format!("{mp}/identifier"))?,
            blueprint: self.jq(m.get("blueprint")?, &format!("{mp}/blueprint"))?,
            title: self.opt_jq(m.get("title"), &format!("{mp}/title")),
            icon: self.opt_jq(m.get("icon"), &format!("{mp}/icon")),
            team: match m.get("team") {
                Some(v) => Some(self.field(v, &format!("{mp}/team"))?),
                None => None,
            },
            properties: m.get("properties").and_then(Value::as_object).map(|props| {
                props
                    .iter()
                    .filter_map(|(k, v)| {
                        let jq = self.jq(v, &format!("{mp}/properties/{}", escape(k)))?;
                        Some((k.clone(), jq))
                    })
                    .collect::<BTreeMap<_, _>>()
            }),
            relations: m.get("relations").and_then(Value::as_object).map(|rels| {
                rels.iter()
                    .filter_map(|(k, v)| {
                        let f = self.field(v, &format!("{mp}/relations/{}", escape(k)))?;
                        Some((k.clone(), f))
                    })
                    .collect::<BTreeMap<_, _>>()
            }),
        };
        let file_paths = mappings.file_paths();
        Some(Resource {
            index: 0,
            kind,
            selector: Selector {
                query,
                options,
                file_paths,
            },
            port: PortResource {
                mappings,
                items_to_parse: self
                    .opt_jq(port.get("itemsToParse"), &format!("{at}/port/itemsToParse")),
                items_to_parse_name: port
                    .get("itemsToParseName")
                    .and_then(Value::as_str)
                    .unwrap_or("item")
                    .to_string(),
                items_to_parse_top_level_transform: port
                    .get("itemsToParseTopLevelTransform")
                    .and_then(boolish)
                    .unwrap_or(true),
            },
            origin: self.origin(at),
        })
    }

    fn opt_jq(&mut self, value: Option<&Value>, at: &str) -> Option<Jq> {
        match value {
            None | Some(Value::Null) => None,
            Some(v) => self.jq(v, at),
        }
    }

    /// A jq leaf. Numbers and booleans are coerced to text as Port's pydantic does, with a warning.
    fn jq(&mut self, value: &Value, at: &str) -> Option<Jq> {
        let expr = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => {
                self.coerced(at, &n.to_string(), &n.to_string());
                n.to_string()
            }
            Value::Bool(b) => {
                // Python's str(True) is "True", which jq cannot compile.
                let text = if *b { "True" } else { "False" };
                self.coerced(at, &b.to_string(), text);
                text.to_string()
            }
            _ => return None,
        };
        Some(Jq {
            expr,
            origin: self.origin(at),
        })
    }

    fn coerced(&mut self, at: &str, written: &str, becomes: &str) {
        // A number PyYAML reads differently (`0755`) has one finding, from `yaml11-scalar`.
        if self.doc.yaml11.iter().any(|(pointer, _, _)| pointer == at) {
            return;
        }
        self.diagnostics.push(
            Diagnostic::new(
                &rules::coerced_value::RULE,
                self.file,
                self.doc.span_at(at),
                format!("`{written}` is not a string: Port evaluates it as the jq expression `{becomes}`"),
            )
            .with_help(format!("write it as a jq string: '\"{written}\"', or as jq: '{written}'")),
        );
    }

    fn field(&mut self, value: &Value, at: &str) -> Option<Field> {
        match value {
            Value::Object(_) => self.query(value, at).map(Field::Search),
            other => self.jq(other, at).map(Field::Jq),
        }
    }

    fn query(&mut self, value: &Value, at: &str) -> Option<SearchQuery> {
        let obj = value.as_object()?;
        let combinator = self.jq(obj.get("combinator")?, &format!("{at}/combinator"))?;
        let mut rules = Vec::new();
        for (i, rule) in obj.get("rules")?.as_array()?.iter().enumerate() {
            let rp = format!("{at}/rules/{i}");
            let r = rule.as_object()?;
            if r.contains_key("combinator") {
                rules.push(Rule::Query(self.query(rule, &rp)?));
            } else {
                rules.push(Rule::Match {
                    property: self.jq(r.get("property")?, &format!("{rp}/property"))?,
                    operator: self.jq(r.get("operator")?, &format!("{rp}/operator"))?,
                    value: self.jq(r.get("value")?, &format!("{rp}/value"))?,
                });
            }
        }
        Some(SearchQuery {
            combinator,
            rules,
            origin: self.origin(at),
        })
    }
}

/// A boolean as Port's pydantic reads one: `true`, `"yes"`, `"off"`, `1`, … (the schema's
/// `boolish`), so a flag written as a string means here what it means to Port.
pub(crate) fn boolish(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_lowercase().as_str() {
            "true" | "yes" | "on" | "t" | "y" | "1" => Some(true),
            "false" | "no" | "off" | "f" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::boolish;
    use serde_json::json;

    #[test]
    fn flags_written_as_strings_mean_what_they_mean_to_port() {
        assert_eq!(boolish(&json!("no")), Some(false));
        assert_eq!(boolish(&json!("On")), Some(true));
        assert_eq!(boolish(&json!(0)), Some(false));
        assert_eq!(boolish(&json!("maybe")), None);
    }
}
