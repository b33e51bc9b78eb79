//! A plain [`Mapper`] over the jq engine: selector, then each leaf's first output.
//!
//! The stages around the mapping (watch, review, follow, the CLI) run on it until the
//! `mapping` module's evaluator implements [`Mapper`]; swapping it is one line where the CLI
//! builds its mapper. It covers `selector.query` and jq identifier, blueprint, title, icon,
//! team, properties and relations, and leaves out what the real mapping owns (`itemsToParse`,
//! search-query fields, per-field diagnostics, Port's null-dropping details).

use serde_json::{Map, Value};

use super::{Mapped, Mapper};
use crate::config::{Field, Resource, Settings};
use crate::jq::{Engine, EngineOptions, Input};
use crate::port::Entity;

/// Maps items with the crate's jq engine (one engine, programs cached by text).
#[derive(Debug)]
pub struct JqMapper {
    engine: Engine,
}

impl Default for JqMapper {
    fn default() -> Self {
        JqMapper {
            engine: Engine::new(EngineOptions::default()),
        }
    }
}

impl JqMapper {
    /// The first output of `expr` on `input`; `Err` on a compile or run error.
    fn eval(&self, expr: &str, input: &Input) -> Result<Value, ()> {
        let program = self.engine.compile(expr).map_err(|_| ())?;
        program
            .first(input)
            .map(|v| v.unwrap_or(Value::Null))
            .map_err(|_| ())
    }

    fn field(&self, field: &Field, input: &Input) -> Result<Value, ()> {
        match field {
            Field::Jq(jq) => self.eval(&jq.expr, input),
            Field::Search(_) => Ok(Value::Null),
        }
    }
}

impl Mapper for JqMapper {
    fn map(&self, resource: &Resource, _settings: &Settings, items: &[Value]) -> Mapped {
        let mut out = Mapped::default();
        let m = &resource.port.mappings;
        for item in items {
            let input = Input::new(item);
            match self.eval(&resource.selector.query.expr, &input) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => continue,
                _ => {
                    out.failed_items += 1;
                    continue;
                }
            }
            let (Ok(Value::String(id)), Ok(Value::String(bp))) = (
                self.field(&m.identifier, &input),
                self.eval(&m.blueprint.expr, &input),
            ) else {
                out.failed_items += 1;
                continue;
            };
            if id.is_empty() || bp.is_empty() {
                continue;
            }
            let mut e = Entity::new(id, bp);
            e.title = m
                .title
                .as_ref()
                .map(|j| self.eval(&j.expr, &input).unwrap_or(Value::Null));
            e.icon = m
                .icon
                .as_ref()
                .map(|j| self.eval(&j.expr, &input).unwrap_or(Value::Null));
            e.team = m
                .team
                .as_ref()
                .map(|f| self.field(f, &input).unwrap_or(Value::Null));
            let mut props = Map::new();
            for (k, j) in m.properties.iter().flatten() {
                props.insert(k.clone(), self.eval(&j.expr, &input).unwrap_or(Value::Null));
            }
            e.properties = props;
            let mut rels = Map::new();
            for (k, f) in m.relations.iter().flatten() {
                rels.insert(k.clone(), self.field(f, &input).unwrap_or(Value::Null));
            }
            e.relations = rels;
            out.entities.push(e);
        }
        out
    }
}
