//! A blueprint as the emulator checks entities against it: Port's blueprint JSON parsed into
//! property specs (type, format, enum, array items), required properties and relations.
//! Writing entities is the store's (`store`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The value types Port's blueprint properties declare.
#[derive(Clone, Debug)]
pub(super) struct PropertySpec {
    kind: String,
    format: Option<String>,
    allowed: Option<Vec<Value>>,
    items: Option<Box<PropertySpec>>,
}

#[derive(Clone, Debug)]
pub(super) struct RelationSpec {
    pub(super) target: String,
    pub(super) many: bool,
    pub(super) required: bool,
}

/// One blueprint: its properties and relations.
#[derive(Clone, Debug)]
pub(super) struct Blueprint {
    pub(super) properties: BTreeMap<String, PropertySpec>,
    pub(super) required: Vec<String>,
    pub(super) relations: BTreeMap<String, RelationSpec>,
}

impl PropertySpec {
    fn parse(v: &Value) -> Result<Self, String> {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a property has no \"type\"")?
            .to_owned();
        if !matches!(
            kind.as_str(),
            "string" | "number" | "boolean" | "object" | "array"
        ) {
            return Err(format!("unknown property type {kind:?}"));
        }
        Ok(PropertySpec {
            kind,
            format: v.get("format").and_then(Value::as_str).map(str::to_owned),
            allowed: v.get("enum").and_then(Value::as_array).cloned(),
            items: match v.get("items") {
                Some(items) => Some(Box::new(PropertySpec::parse(items)?)),
                None => None,
            },
        })
    }

    /// Why `value` does not fit this property, if it does not. `null` always fits (it clears).
    pub(super) fn check(&self, value: &Value) -> Option<String> {
        if value.is_null() {
            return None;
        }
        let fits = match self.kind.as_str() {
            "string" => value.as_str().is_some_and(|s| self.fits_format(s)),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => match (value.as_array(), &self.items) {
                (Some(items), Some(spec)) => items.iter().all(|i| spec.check(i).is_none()),
                (Some(_), None) => true,
                (None, _) => false,
            },
            _ => false,
        };
        if !fits {
            let format = self
                .format
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            return Some(format!("expected {}{format}, got {value}", self.kind));
        }
        match &self.allowed {
            Some(allowed) if !allowed.contains(value) => {
                Some(format!("{value} is not one of the allowed values"))
            }
            _ => None,
        }
    }

    fn fits_format(&self, s: &str) -> bool {
        match self.format.as_deref() {
            Some("date-time") => {
                let b = s.as_bytes();
                b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T'
            }
            Some("url") => s.starts_with("http://") || s.starts_with("https://"),
            Some("email") => s.contains('@'),
            _ => true,
        }
    }
}

impl Blueprint {
    /// Reads one blueprint document as Port returns it (`identifier`, `schema`, `relations`).
    pub(super) fn parse(doc: &Value) -> Result<(String, Blueprint), String> {
        let id = doc
            .get("identifier")
            .and_then(Value::as_str)
            .ok_or("a blueprint has no \"identifier\"")?
            .to_owned();
        let schema = doc.get("schema").cloned().unwrap_or_else(|| json!({}));
        let mut properties = BTreeMap::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, spec) in props {
                let spec = PropertySpec::parse(spec).map_err(|e| format!("{id}.{name}: {e}"))?;
                properties.insert(name.clone(), spec);
            }
        }
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut relations = BTreeMap::new();
        if let Some(rels) = doc.get("relations").and_then(Value::as_object) {
            for (name, spec) in rels {
                let target = spec
                    .get("target")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{id}.{name}: a relation has no \"target\""))?;
                relations.insert(
                    name.clone(),
                    RelationSpec {
                        target: target.to_owned(),
                        many: spec.get("many").and_then(Value::as_bool).unwrap_or(false),
                        required: spec
                            .get("required")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    },
                );
            }
        }
        Ok((
            id,
            Blueprint {
                properties,
                required,
                relations,
            },
        ))
    }
}
