//! The `port` catalog: the `Catalog` trait over Port's REST client.
//!
//! It owns how catalog calls become Port requests:
//!
//! - bulk upserts packed to Port's limits (20 entities, 1 MiB per body), halved when Port
//!   refuses a body as a whole (413, or a 400 or 422 from one entity failing the route's
//!   schema), down to the single-entity route;
//! - per-entity outcomes matched by `index` from a 200 or 207;
//! - entities whose identifier is a search query sent as they are, through the same routes;
//!   the reply's `identifier` names the entity Port resolved each to;
//! - bulk deletes of at most 100 identifiers, halved the same way when Port refuses one whole
//!   (an entity with dependents while `delete_dependents` is off);
//! - the owned-entities listing (`listing`), paged through `next` until exhausted, where any failed or
//!   malformed page fails the whole listing, and entities listed without their fields are
//!   completed through the per-blueprint search;
//! - endless listings fail instead of looping: a cursor seen before, a page that points on
//!   but brings nothing new, or more than `max_list_pages` pages;
//! - ownership checked client-side, as the SQLite catalog does: the listing asks Port for
//!   our datasource, and each listed entity must also show a `$datasource` with our prefix and
//!   suffix. One that does not (or shows none) is left out of the owned entities, so it can
//!   never be deleted, and the count is logged as a warning. A Port that ignored the filter
//!   would otherwise hand us other integrations' entities to prune.
//!
//! Every text Port sends back (per-entity errors of a 207, refusals) is scrubbed of secrets
//! and cut (`crate::http`) before it becomes an outcome.
//!
//! The blueprint API (list, create, replace, delete) is `blueprints`'.
//!
//! Transport, tokens and retries are the client's (`client`).
//!
//! A call fails as a whole (`WriteFailed`) only when Port answered for none of its entities;
//! once anything was written, every entity gets its own outcome instead.

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog::{self, Catalog, EntityOutcome, SearchOutcome, WriteOptions};
use crate::entity::{Entity, EntityKey};
use crate::http;
use crate::port::client::{Error, MAX_BULK_DELETE, MAX_BULK_ENTITIES, PortClient, Result, decode};
use std::collections::{HashSet, VecDeque};

mod blueprints;
mod listing;

/// Characters of an error kept in a per-entity outcome.
const MAX_OUTCOME_CHARS: usize = 512;

fn flag(b: bool) -> String {
    b.to_string()
}

/// The reply of a bulk upsert (200, or 207 when some entities failed).
#[derive(Deserialize)]
struct BulkReply {
    #[serde(default)]
    entities: Vec<BulkSuccess>,
    #[serde(default)]
    errors: Vec<BulkFailure>,
}

#[derive(Deserialize)]
struct BulkSuccess {
    index: usize,
    /// The entity written: for a search identifier, the one Port resolved it to.
    #[serde(default)]
    identifier: Option<String>,
}

/// What Port answered for one body: the identifier it wrote (when it said), or its refusal.
type Written = std::result::Result<Option<String>, String>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkFailure {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl BulkFailure {
    /// The outcome text: Port's code and message, scrubbed of secrets and cut.
    fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(code) = self.status_code {
            text.push_str(&format!("{code} "));
        }
        text.push_str(&http::one_line(
            self.error.as_deref().unwrap_or("error"),
            100,
        ));
        if let Some(message) = &self.message {
            text.push_str(": ");
            text.push_str(&http::one_line(message, http::MAX_ERROR_TEXT));
        }
        http::one_line(&text, MAX_OUTCOME_CHARS)
    }
}

/// The reply of a bulk delete: the identifiers (or entities) Port deleted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteReply {
    #[serde(default)]
    deleted_entities: Vec<Value>,
}

/// Groups entity bodies (by index) into batches of at most `max_count` entities whose bulk
/// body `{"entities":[…]}` stays within `max_bytes`. An entity too big alone gets a batch of
/// its own (Port will refuse it, and that refusal is reported for it alone).
pub(crate) fn pack(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<Vec<usize>> {
    const ENVELOPE: usize = r#"{"entities":[]}"#.len();
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = ENVELOPE;
    for (i, &size) in sizes.iter().enumerate() {
        let extra = size + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() >= max_count || bytes + extra > max_bytes) {
            batches.push(std::mem::take(&mut current));
            bytes = ENVELOPE;
        }
        bytes += size + usize::from(!current.is_empty());
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// A batch still to send: the entity indexes, and whether a 413 already split it down.
struct Pending {
    indexes: Vec<usize>,
    from_split: bool,
}

impl PortClient {
    /// Sends one bulk upsert and fills `results` for its entities (`identifiers[i]` names
    /// `bodies[i]`, empty for a search identifier). `Err` is a whole-batch failure (nothing
    /// of it is known to be written).
    async fn upsert_bulk(
        &self,
        blueprint: &str,
        identifiers: &[&str],
        bodies: &[Vec<u8>],
        indexes: &[usize],
        options: WriteOptions,
        results: &mut [Option<Written>],
    ) -> Result<()> {
        let url = self.url(
            &["blueprints", blueprint, "entities", "bulk"],
            &write_query(options),
        );
        let mut body =
            Vec::with_capacity(16 + indexes.iter().map(|&i| bodies[i].len() + 1).sum::<usize>());
        body.extend_from_slice(br#"{"entities":["#);
        for (n, &i) in indexes.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&bodies[i]);
        }
        body.extend_from_slice(b"]}");
        let reply = self.call(Method::POST, url.clone(), Some(body)).await?;
        let parsed: BulkReply = decode(&Method::POST, &url, &reply.body)?;
        let mut batch: Vec<Option<Written>> = vec![None; indexes.len()];
        for ok in parsed.entities {
            if let Some(slot) = batch.get_mut(ok.index) {
                *slot = Some(Ok(ok.identifier));
            }
        }
        for failure in &parsed.errors {
            // `index` is the position in the request; older replies may give only the identifier.
            let position = failure.index.or_else(|| {
                let id = failure.identifier.as_deref()?;
                indexes
                    .iter()
                    .position(|&i| !identifiers[i].is_empty() && identifiers[i] == id)
            });
            if let Some(slot) = position.and_then(|i| batch.get_mut(i)) {
                *slot = Some(Err(failure.describe()));
            }
        }
        for (n, &i) in indexes.iter().enumerate() {
            results[i] = Some(batch[n].take().unwrap_or_else(|| {
                Err(format!(
                    "Port's {} reply did not mention this entity",
                    reply.status.as_u16()
                ))
            }));
        }
        Ok(())
    }

    /// Upserts one entity through the single-entity route (after a 413 split a batch down).
    async fn upsert_one(
        &self,
        blueprint: &str,
        body: &[u8],
        options: WriteOptions,
    ) -> Result<Written> {
        let url = self.url(
            &["blueprints", blueprint, "entities"],
            &write_query(options),
        );
        match self.call(Method::POST, url, Some(body.to_vec())).await {
            // The reply holds the entity written (`{ok, entity}`).
            Ok(reply) => Ok(Ok(serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| {
                    v.pointer("/entity/identifier")?.as_str().map(str::to_owned)
                }))),
            // A refusal of this entity alone (invalid, missing relation target, too large).
            Err(Error::Status(h)) if h.status.is_client_error() => Ok(Err(http::one_line(
                &format!(
                    "{} {}: {}",
                    h.status.as_u16(),
                    h.code.as_deref().unwrap_or("error"),
                    h.message()
                ),
                MAX_OUTCOME_CHARS,
            ))),
            Err(e) => Err(e),
        }
    }
}

/// Statuses with which Port refuses a bulk body as a whole, where smaller bodies may pass.
fn is_body_refusal(status: StatusCode) -> bool {
    status == StatusCode::PAYLOAD_TOO_LARGE
        || status == StatusCode::UNPROCESSABLE_ENTITY
        || status == StatusCode::BAD_REQUEST
}

/// Statuses with which Port refuses a bulk delete as a whole because of some of its entities.
fn is_delete_refusal(status: StatusCode) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY
        || status == StatusCode::BAD_REQUEST
        || status == StatusCode::CONFLICT
}

fn write_query(options: WriteOptions) -> Vec<(&'static str, String)> {
    vec![
        ("upsert", flag(true)),
        ("merge", flag(options.merge)),
        (
            "create_missing_related_entities",
            flag(options.create_missing_related_entities),
        ),
    ]
}

impl PortClient {
    /// Upserts JSON bodies of one blueprint (`identifiers[i]` names `bodies[i]`, empty for a
    /// search identifier): packed to Port's limits, halved on a whole-body refusal, one
    /// answer per body, in order.
    async fn upsert_bodies(
        &self,
        blueprint: &str,
        identifiers: &[&str],
        bodies: &[Vec<u8>],
        options: WriteOptions,
    ) -> catalog::Result<Vec<Written>> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let sizes: Vec<usize> = bodies.iter().map(Vec::len).collect();
        let mut queue: VecDeque<Pending> = pack(&sizes, MAX_BULK_ENTITIES, self.max_body_bytes)
            .into_iter()
            .map(|indexes| Pending {
                indexes,
                from_split: false,
            })
            .collect();
        let mut results: Vec<Option<Written>> = vec![None; bodies.len()];
        let mut whole_failures: Vec<Error> = Vec::new();
        let mut answered_any = false;
        while let Some(batch) = queue.pop_front() {
            let single = batch.indexes.len() == 1 && batch.from_split;
            let result = if single {
                let i = batch.indexes[0];
                self.upsert_one(blueprint, &bodies[i], options)
                    .await
                    .map(|r| results[i] = Some(r))
            } else {
                self.upsert_bulk(
                    blueprint,
                    identifiers,
                    bodies,
                    &batch.indexes,
                    options,
                    &mut results,
                )
                .await
            };
            match result {
                Ok(()) => answered_any = true,
                // Port refused the body as a whole (too large, or one entity failing the
                // route's schema): halve it until each entity is answered for alone.
                Err(e) if !single && e.status().is_some_and(is_body_refusal) => {
                    tracing::info!(
                        blueprint,
                        entities = batch.indexes.len(),
                        status = e.status().map_or(0, |s| s.as_u16()),
                        "Port refused a bulk body as a whole; splitting it"
                    );
                    let mid = batch.indexes.len().div_ceil(2);
                    let (a, b) = batch.indexes.split_at(mid);
                    for half in [b, a] {
                        if !half.is_empty() {
                            queue.push_front(Pending {
                                indexes: half.to_vec(),
                                from_split: true,
                            });
                        }
                    }
                }
                Err(e) => {
                    let message = http::one_line(&http::error_chain(&e), MAX_OUTCOME_CHARS);
                    for &i in &batch.indexes {
                        results[i] = Some(Err(message.clone()));
                    }
                    let fatal = matches!(e, Error::CredentialsRefused(_));
                    whole_failures.push(e);
                    if fatal {
                        break;
                    }
                }
            }
        }
        // Nothing answered for any entity: the call failed as a whole.
        if !answered_any && let Some(first) = whole_failures.into_iter().next() {
            return Err(catalog::Error::WriteFailed(Box::new(first)));
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err("not sent: an earlier batch failed to authenticate".to_owned())
                })
            })
            .collect())
    }
}

/// Each document as a request body.
fn bodies<T: serde::Serialize>(documents: &[T]) -> catalog::Result<Vec<Vec<u8>>> {
    documents
        .iter()
        .map(serde_json::to_vec)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| catalog::Error::WriteFailed(Box::new(Error::Encode(e))))
}

#[async_trait]
impl Catalog for PortClient {
    async fn list_owned(&self) -> catalog::Result<Vec<Entity>> {
        self.owned_entities().await
    }

    async fn owned_among(&self, keys: &[EntityKey]) -> catalog::Result<Vec<Entity>> {
        self.owned_of(keys)
            .await
            .map_err(|e| catalog::Error::ListFailed(Box::new(e)))
    }

    async fn foreign_owners(
        &self,
        keys: &[EntityKey],
    ) -> catalog::Result<std::collections::HashMap<EntityKey, Option<String>>> {
        self.owners_of(keys)
            .await
            .map_err(|e| catalog::Error::ListFailed(Box::new(e)))
    }

    async fn upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: WriteOptions,
    ) -> catalog::Result<Vec<EntityOutcome>> {
        let identifiers: Vec<&str> = entities.iter().map(|e| e.identifier.as_str()).collect();
        let written = self
            .upsert_bodies(blueprint, &identifiers, &bodies(entities)?, options)
            .await?;
        Ok(entities
            .iter()
            .zip(written)
            .map(|(e, w)| EntityOutcome {
                key: e.key(),
                result: w.map(|_| ()),
            })
            .collect())
    }

    fn resolves_search_on_write(&self) -> bool {
        true
    }

    /// Sent as Port's integration sends them: the query in place of the identifier, through
    /// the same bulk route and batching as any entity. Port's reply names the entity each
    /// query resolved to.
    async fn upsert_by_query(
        &self,
        blueprint: &str,
        documents: &[Value],
        options: WriteOptions,
    ) -> catalog::Result<Vec<SearchOutcome>> {
        let identifiers = vec![""; documents.len()];
        let written = self
            .upsert_bodies(blueprint, &identifiers, &bodies(documents)?, options)
            .await?;
        Ok(written
            .into_iter()
            .map(|w| {
                w?.ok_or_else(|| {
                    "Port did not say which entity the search identifier resolved to".to_owned()
                })
            })
            .collect())
    }

    async fn delete(
        &self,
        blueprint: &str,
        identifiers: &[String],
        options: WriteOptions,
    ) -> catalog::Result<Vec<EntityOutcome>> {
        let mut results: Vec<Option<std::result::Result<(), String>>> =
            vec![None; identifiers.len()];
        let mut whole_failures = Vec::new();
        let mut answered_any = false;
        let indexes: Vec<usize> = (0..identifiers.len()).collect();
        let mut queue: VecDeque<&[usize]> = indexes.chunks(MAX_BULK_DELETE).collect();
        let url = self.url(
            &["blueprints", blueprint, "bulk", "entities", "delete"],
            &[("delete_dependents", flag(options.delete_dependents))],
        );
        while let Some(chunk) = queue.pop_front() {
            let ids: Vec<&str> = chunk.iter().map(|&i| identifiers[i].as_str()).collect();
            let body = json!({ "entities": ids }).to_string().into_bytes();
            let result = match self.call(Method::POST, url.clone(), Some(body)).await {
                Ok(reply) => decode::<DeleteReply>(&Method::POST, &url, &reply.body),
                Err(e) => Err(e),
            };
            match result {
                Ok(reply) => {
                    answered_any = true;
                    let deleted: HashSet<&str> = reply
                        .deleted_entities
                        .iter()
                        .filter_map(|v| v.as_str().or_else(|| v.get("identifier")?.as_str()))
                        .collect();
                    for &i in chunk {
                        results[i] = Some(if deleted.contains(identifiers[i].as_str()) {
                            Ok(())
                        } else {
                            Err("Port did not report it deleted (it may be gone already)"
                                .to_owned())
                        });
                    }
                }
                // Port refuses the whole call when one entity cannot go (it has dependents and
                // `delete_dependents` is off): halve until that entity stands alone.
                Err(e) if e.status().is_some_and(is_delete_refusal) => {
                    if chunk.len() == 1 {
                        answered_any = true;
                        results[chunk[0]] = Some(Err(http::one_line(
                            &http::error_chain(&e),
                            MAX_OUTCOME_CHARS,
                        )));
                    } else {
                        let (a, b) = chunk.split_at(chunk.len().div_ceil(2));
                        queue.push_front(b);
                        queue.push_front(a);
                    }
                }
                Err(e) => {
                    let message = http::one_line(&http::error_chain(&e), MAX_OUTCOME_CHARS);
                    for &i in chunk {
                        results[i] = Some(Err(message.clone()));
                    }
                    whole_failures.push(e);
                }
            }
        }
        if !answered_any && let Some(first) = whole_failures.into_iter().next() {
            return Err(catalog::Error::WriteFailed(Box::new(first)));
        }
        Ok(identifiers
            .iter()
            .zip(results)
            .map(|(id, r)| {
                outcome(
                    blueprint,
                    id,
                    r.unwrap_or_else(|| Err("not sent".to_owned())),
                )
            })
            .collect())
    }

    async fn list_blueprints(&self) -> catalog::Result<Vec<Value>> {
        self.blueprints().await
    }

    async fn create_blueprint(&self, document: &Value) -> catalog::Result<()> {
        self.write_blueprint(document, None).await
    }

    async fn replace_blueprint(&self, document: &Value) -> catalog::Result<()> {
        let id = crate::blueprint::identifier(document).unwrap_or_default();
        self.write_blueprint(document, Some(id)).await
    }

    async fn delete_blueprint(&self, identifier: &str) -> catalog::Result<()> {
        self.remove_blueprint(identifier).await
    }

    fn describe(&self) -> String {
        format!("port:{}", self.base.as_str().trim_end_matches('/'))
    }
}

fn outcome(
    blueprint: &str,
    identifier: &str,
    result: std::result::Result<(), String>,
) -> EntityOutcome {
    EntityOutcome {
        key: EntityKey {
            blueprint: blueprint.to_owned(),
            identifier: identifier.to_owned(),
        },
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_stops_at_twenty_entities() {
        let batches = pack(&[10; 45], MAX_BULK_ENTITIES, 1 << 20);
        let lens: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, [20, 20, 5]);
        assert_eq!(batches.concat(), (0..45).collect::<Vec<_>>());
    }

    #[test]
    fn packing_keeps_every_body_within_the_byte_limit() {
        let sizes = [400, 300, 300, 200, 900, 50, 50];
        let max = 1_000;
        let batches = pack(&sizes, MAX_BULK_ENTITIES, max);
        for batch in &batches {
            let body = 15 + batch.iter().map(|&i| sizes[i]).sum::<usize>() + batch.len() - 1;
            assert!(body <= max, "{batch:?} is {body} bytes");
        }
        assert_eq!(batches.concat(), (0..sizes.len()).collect::<Vec<_>>());
    }

    #[test]
    fn an_entity_too_big_alone_gets_a_batch_of_its_own() {
        let batches = pack(&[10, 5_000, 10], MAX_BULK_ENTITIES, 1_000);
        assert_eq!(batches, vec![vec![0], vec![1], vec![2]]);
    }
}
