//! The owned-entities listing of the `port` catalog: Port's datasource listing paged to its
//! end (never past an endless one), ownership checked on every listed entity, and bare
//! entries completed through the per-blueprint search. Writes are `port`'s (`mod.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::flag;
use crate::catalog;
use crate::entity::{Entity, EntityKey};
use crate::http::BadJson;
use crate::port::client::{Error, PortClient, Result, decode};

/// Identifiers per search when completing a bare listing (Port's search pages up to 1000).
const SEARCH_CHUNK: usize = 500;

/// One page of a paged reply (the datasource listing, a search).
#[derive(Deserialize)]
struct Page {
    #[serde(default = "yes")]
    ok: bool,
    entities: Vec<Value>,
    #[serde(default)]
    next: Option<Value>,
}

fn yes() -> bool {
    true
}

impl PortClient {
    /// The entities Port lists for our datasource, each checked to be ours (see the module
    /// docs of `catalog::port`), the bare ones completed through the search.
    pub(super) async fn owned_entities(&self) -> catalog::Result<Vec<Entity>> {
        let list_failed = |e: Error| catalog::Error::ListFailed(Box::new(e));
        let url = self.url(&["blueprints", "entities", "datasource-entities"], &[]);
        let (prefix, suffix) = crate::port::client::ownership(&self.datasource);
        let body = json!({
            "datasource_prefix": prefix,
            "datasource_suffix": suffix,
            "limit": self.list_page_size,
        });
        let raw = self.fetch_pages(&url, body).await.map_err(list_failed)?;
        let mut entities = Vec::with_capacity(raw.len());
        let mut bare: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let (mut foreign, mut unconfirmed) = (0usize, 0usize);
        for item in raw {
            match owner_of(&item, &prefix, &suffix) {
                Ownership::Ours => {}
                Ownership::Foreign => {
                    foreign += 1;
                    continue;
                }
                Ownership::Unconfirmed => {
                    unconfirmed += 1;
                    continue;
                }
            }
            // A listing that names entities without their fields is completed by a search.
            let is_bare = ["title", "properties", "relations", "icon", "team"]
                .iter()
                .all(|k| item.get(k).is_none());
            let entity: Entity = serde_json::from_value(item).map_err(|source| {
                list_failed(Error::Decode {
                    method: Method::POST,
                    url: url.to_string(),
                    source: source.into(),
                })
            })?;
            if is_bare {
                bare.entry(entity.blueprint.clone())
                    .or_default()
                    .push(entities.len());
            }
            entities.push(entity);
        }
        if foreign + unconfirmed > 0 {
            tracing::warn!(
                foreign,
                unconfirmed,
                "Port listed entities whose $datasource is not ours (or not shown); they are left out of the owned entities and never deleted"
            );
        }
        for (blueprint, positions) in bare {
            self.hydrate(&blueprint, &mut entities, &positions)
                .await
                .map_err(list_failed)?;
        }
        tracing::debug!(
            count = entities.len(),
            "listed the entities Port holds for this datasource"
        );
        Ok(entities)
    }
}

impl PortClient {
    /// Every item of a paged `POST` (`{ok, entities, next}`, the cursor sent back as
    /// `from`). A failed, malformed or endless listing fails the whole call: a partial list
    /// must never pass for a complete one. Endless means a cursor seen before, a page that
    /// points to a next one but brings no item not already listed, or more pages than
    /// `max_list_pages`.
    async fn fetch_pages(&self, url: &reqwest::Url, body: Value) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut from: Option<Value> = None;
        let mut seen_cursors = HashSet::new();
        let mut seen_items: HashSet<String> = HashSet::new();
        for page in 1.. {
            if page > self.max_list_pages {
                return Err(Error::TooManyPages {
                    limit: self.max_list_pages,
                });
            }
            let mut body = body.clone();
            if let Some(cursor) = &from {
                body["from"] = cursor.clone();
            }
            let reply = self
                .call(
                    Method::POST,
                    url.clone(),
                    Some(body.to_string().into_bytes()),
                )
                .await?;
            let truncated = |source: Error| Error::PageTruncated {
                page,
                source: Box::new(source),
            };
            let parsed: Page = decode(&Method::POST, url, &reply.body).map_err(truncated)?;
            if !parsed.ok {
                return Err(truncated(Error::Decode {
                    method: Method::POST,
                    url: url.to_string(),
                    source: BadJson::new("the page says ok: false"),
                }));
            }
            let before = seen_items.len();
            seen_items.extend(parsed.entities.iter().map(item_key));
            let brought_new = seen_items.len() > before;
            items.extend(parsed.entities);
            match parsed.next {
                Some(Value::Null) | None => break,
                Some(Value::String(s)) if s.is_empty() => break,
                Some(cursor) => {
                    if !seen_cursors.insert(cursor.to_string()) {
                        return Err(Error::CursorRepeated { page });
                    }
                    if !brought_new {
                        return Err(Error::CursorStalled { page });
                    }
                    from = Some(cursor);
                }
            }
        }
        Ok(items)
    }

    /// Fills in the fields of listed entities of one blueprint through Port's search (the
    /// datasource listing may name entities without their fields). An entity the search no
    /// longer finds keeps what the listing gave.
    /// Of `keys` (none of them in our listing), those Port holds an entity under: another
    /// writer's, with its `$datasource` when Port shows it. Found by the per-blueprint
    /// search, in chunks.
    pub(super) async fn owners_of(
        &self,
        keys: &[EntityKey],
    ) -> Result<HashMap<EntityKey, Option<String>>> {
        let mut by_blueprint: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in keys {
            by_blueprint
                .entry(k.blueprint.as_str())
                .or_default()
                .push(k.identifier.as_str());
        }
        let mut out = HashMap::new();
        for (blueprint, ids) in by_blueprint {
            let url = self.url(
                &["blueprints", blueprint, "entities", "search"],
                &[("exclude_calculated_properties", flag(true))],
            );
            for chunk in ids.chunks(SEARCH_CHUNK) {
                let body = json!({
                    "query": {"combinator": "and", "rules": [
                        {"property": "$identifier", "operator": "in", "value": chunk},
                    ]},
                    "limit": SEARCH_CHUNK,
                });
                let found = match self.fetch_pages(&url, body).await {
                    Ok(found) => found,
                    // A blueprint Port does not have holds no entity of anyone's.
                    // (The owned listing just succeeded at the same host, so a 404 here is
                    // about the blueprint, not the URL.)
                    Err(Error::Status(e)) if e.status == StatusCode::NOT_FOUND => break,
                    Err(e) => return Err(e),
                };
                for item in found {
                    let Some(id) = item.get("identifier").and_then(Value::as_str) else {
                        continue;
                    };
                    let owner = item
                        .get("$datasource")
                        .or_else(|| item.get("datasource"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    out.insert(
                        EntityKey {
                            blueprint: blueprint.to_owned(),
                            identifier: id.to_owned(),
                        },
                        owner,
                    );
                }
            }
        }
        Ok(out)
    }

    /// Of `keys`, the entities Port holds for our datasource, found by the per-blueprint
    /// search, in chunks, with rules on the `$datasource` meta-property as Port's own
    /// integration searches for its entities (the search does not show `$datasource`). An
    /// entity that does show one must show ours, as in the listing.
    pub(super) async fn owned_of(&self, keys: &[EntityKey]) -> Result<Vec<Entity>> {
        let mut by_blueprint: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in keys {
            by_blueprint
                .entry(k.blueprint.as_str())
                .or_default()
                .push(k.identifier.as_str());
        }
        let (prefix, suffix) = crate::port::client::ownership(&self.datasource);
        let mut out = Vec::new();
        for (blueprint, ids) in by_blueprint {
            let url = self.url(
                &["blueprints", blueprint, "entities", "search"],
                &[("exclude_calculated_properties", flag(true))],
            );
            for chunk in ids.chunks(SEARCH_CHUNK) {
                let body = json!({
                    "query": {"combinator": "and", "rules": [
                        {"property": "$identifier", "operator": "in", "value": chunk},
                        {"property": "$datasource", "operator": "beginsWith", "value": prefix},
                        {"property": "$datasource", "operator": "endsWith", "value": suffix},
                    ]},
                    "limit": SEARCH_CHUNK,
                });
                let found = match self.fetch_pages(&url, body).await {
                    Ok(found) => found,
                    // A blueprint Port does not have holds no entity of ours.
                    Err(Error::Status(e)) if e.status == StatusCode::NOT_FOUND => break,
                    Err(e) => return Err(e),
                };
                for item in found {
                    if owner_of(&item, &prefix, &suffix) == Ownership::Foreign {
                        continue;
                    }
                    let entity: Entity =
                        serde_json::from_value(item).map_err(|source| Error::Decode {
                            method: Method::POST,
                            url: url.to_string(),
                            source: source.into(),
                        })?;
                    out.push(Entity {
                        blueprint: blueprint.to_owned(),
                        ..entity
                    });
                }
            }
        }
        Ok(out)
    }

    async fn hydrate(
        &self,
        blueprint: &str,
        entities: &mut [Entity],
        positions: &[usize],
    ) -> Result<()> {
        let url = self.url(
            &["blueprints", blueprint, "entities", "search"],
            &[("exclude_calculated_properties", flag(true))],
        );
        for chunk in positions.chunks(SEARCH_CHUNK) {
            let ids: Vec<&str> = chunk
                .iter()
                .map(|&i| entities[i].identifier.as_str())
                .collect();
            let body = json!({
                "query": {"combinator": "and", "rules": [
                    {"property": "$identifier", "operator": "in", "value": ids},
                ]},
                "limit": SEARCH_CHUNK,
            });
            let mut found: HashMap<String, Entity> = HashMap::new();
            for item in self.fetch_pages(&url, body).await? {
                let entity: Entity =
                    serde_json::from_value(item).map_err(|source| Error::Decode {
                        method: Method::POST,
                        url: url.to_string(),
                        source: source.into(),
                    })?;
                found.insert(entity.identifier.clone(), entity);
            }
            for &i in chunk {
                if let Some(full) = found.remove(&entities[i].identifier) {
                    entities[i] = Entity {
                        blueprint: blueprint.to_owned(),
                        ..full
                    };
                }
            }
        }
        Ok(())
    }
}

/// What tells two listed items apart: blueprint and identifier (the JSON itself when an
/// item has neither, so that odd items still count as distinct only when they differ).
fn item_key(item: &Value) -> String {
    match (item.get("blueprint"), item.get("identifier")) {
        (None, None) => item.to_string(),
        (blueprint, identifier) => format!(
            "{}\u{1f}{}",
            blueprint.map(Value::to_string).unwrap_or_default(),
            identifier.map(Value::to_string).unwrap_or_default()
        ),
    }
}

/// Whether a listed item shows a `$datasource` that is ours (`prefix…suffix`, the same rule
/// the listing asks Port to apply).
fn owner_of(item: &Value, prefix: &str, suffix: &str) -> Ownership {
    match item.get("$datasource") {
        Some(Value::String(ds)) if ds.starts_with(prefix) && ds.ends_with(suffix) => {
            Ownership::Ours
        }
        Some(_) => Ownership::Foreign,
        None => Ownership::Unconfirmed,
    }
}

/// What a listed entity's `$datasource` says about who owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ownership {
    /// Our prefix and suffix.
    Ours,
    /// Another writer's.
    Foreign,
    /// The listing did not say.
    Unconfirmed,
}
