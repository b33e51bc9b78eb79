//! A Port API emulator: a real HTTP server on `127.0.0.1:0` that speaks the routes adoport
//! uses and enforces what Port enforces, with faults on demand.
//!
//! Routes: `POST /v1/auth/access_token`, bulk and single upsert, the datasource-entities
//! listing (optionally naming entities only, `listing_keys_only`), the per-blueprint search
//! (by `$identifier` only), bulk delete, and the blueprint API (`blueprint_api`: list, get,
//! create, replace, patch, delete). Enforced: client credentials; access tokens that expire (lifetime
//! configurable); 401 on a missing, unknown or expired token; 1 MiB bodies (413 beyond);
//! 20 entities per bulk upsert and 100 identifiers per bulk delete, and a non-empty string
//! identifier or a search query on every bulk item (422 for the whole call otherwise, as a
//! route schema violation); a search-query identifier resolved to the one entity of the
//! blueprint it matches, as Port resolves it on write (404 with identifier `unknown` for no
//! match, 422 for several); blueprint checks per entity (`store`), an entity of a blueprint the
//! organization does not have refused with 404 as Port does; `$datasource` taken from the
//! `User-Agent` and shown on every listed entity; error bodies `{ok:false, error, message}`.
//! Faults (`Fault`): N 429s with `Retry-After` and `x-ratelimit-*` (numbers, or any text),
//! 500s on the k-th bulk upsert, slow responses, truncated listing pages, a listing that
//! ignores its datasource filter or never ends, 207s and 401s whose messages echo the
//! credentials or the old token, a token endpoint stating any `expiresIn`, 207s refusing
//! some entities of each bulk upsert. Every request is
//! counted per endpoint and status.
//!
//! The store is in memory (`store`); a test reads it back through the handle.

mod blueprint;
mod blueprint_api;
mod listing;
mod routes;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use store::{Store, WriteFlags};

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blueprint file could not be read.
    #[error("could not read the blueprint file {path}")]
    ReadBlueprint {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A blueprint document is not Port's blueprint JSON.
    #[error("invalid blueprint: {0}")]
    InvalidBlueprint(String),
    /// The listener could not be bound.
    #[error("could not bind 127.0.0.1:0")]
    Bind(#[source] std::io::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the emulator enforces; `default()` gives Port's limits and one client.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Accepted `(clientId, clientSecret)` pairs.
    pub clients: Vec<(String, String)>,
    /// Lifetime of an access token (Port: 3 hours).
    pub token_lifetime: Duration,
    /// Blueprint documents (Port's blueprint JSON).
    pub blueprints: Vec<Value>,
    /// Largest request body accepted (Port: 1 MiB).
    pub max_body_bytes: usize,
    /// Most entities per bulk upsert (Port: 20).
    pub max_bulk_entities: usize,
    /// Most identifiers per bulk delete (Port: 100).
    pub max_bulk_delete: usize,
    /// Largest listing page served, whatever `limit` asks.
    pub max_list_limit: usize,
    /// The datasource listing names entities only (`identifier`, `blueprint`), as Port's
    /// undocumented route may; the client then completes them through the search route.
    pub listing_keys_only: bool,
}

/// The client id the default options accept.
pub const CLIENT_ID: &str = "emulator-client-id";
/// The client secret the default options accept.
pub const CLIENT_SECRET: &str = "emulator-client-secret-0123456789";

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            clients: vec![(CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())],
            token_lifetime: Duration::from_secs(3 * 3600),
            blueprints: Vec::new(),
            max_body_bytes: 1 << 20,
            max_bulk_entities: 20,
            max_bulk_delete: 100,
            max_list_limit: 5000,
            listing_keys_only: false,
        }
    }
}

impl EmulatorOptions {
    /// Adds the blueprints of a JSON file holding one blueprint or an array of them.
    pub fn with_blueprint_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadBlueprint {
            path: path.display().to_string(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidBlueprint(format!("{}: {e}", path.display())))?;
        match doc {
            Value::Array(items) => self.blueprints.extend(items),
            one => self.blueprints.push(one),
        }
        Ok(self)
    }

    /// Adds one blueprint document.
    pub fn with_blueprint(mut self, doc: Value) -> Self {
        self.blueprints.push(doc);
        self
    }
}

/// One entity write, as the emulator stored it (see [`PortEmulator::keep_writes`]).
#[derive(Clone, Debug)]
pub struct Written {
    /// When.
    pub at: Instant,
    /// The blueprint.
    pub blueprint: String,
    /// The identifier.
    pub identifier: String,
    /// The entity as stored.
    pub entity: Value,
}

/// The routes the emulator serves, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/auth/access_token`
    Token,
    /// `POST /v1/blueprints/{bp}/entities/bulk`
    BulkUpsert,
    /// `POST /v1/blueprints/{bp}/entities`
    Upsert,
    /// `POST /v1/blueprints/entities/datasource-entities`
    DatasourceEntities,
    /// `POST /v1/blueprints/{bp}/bulk/entities/delete`
    BulkDelete,
    /// `POST /v1/blueprints/{bp}/entities/search` (`$identifier` rules only)
    Search,
    /// `GET /v1/blueprints`
    BlueprintList,
    /// `GET /v1/blueprints/{id}`
    BlueprintGet,
    /// `POST /v1/blueprints`
    BlueprintCreate,
    /// `PUT /v1/blueprints/{id}`
    BlueprintReplace,
    /// `PATCH /v1/blueprints/{id}`
    BlueprintPatch,
    /// `DELETE /v1/blueprints/{id}`
    BlueprintDelete,
    /// Anything else (answered 404).
    Unknown,
}

impl Endpoint {
    /// Whether the route is one of the blueprint API's.
    pub fn is_blueprint_api(self) -> bool {
        matches!(
            self,
            Endpoint::BlueprintList
                | Endpoint::BlueprintGet
                | Endpoint::BlueprintCreate
                | Endpoint::BlueprintReplace
                | Endpoint::BlueprintPatch
                | Endpoint::BlueprintDelete
        )
    }
}

/// Faults to inject; each applies to the requests that arrive after it is set.
#[derive(Clone, Debug)]
pub enum Fault {
    /// The next `requests` requests (any route) get 429 with `Retry-After: retry_after_secs`
    /// and `x-ratelimit-*` headers; `reset_as_epoch` sends `x-ratelimit-reset` as a UNIX
    /// epoch instead of seconds.
    RateLimit {
        /// How many requests to refuse.
        requests: u32,
        /// The `Retry-After` value in seconds (`None`: no `Retry-After`, only `x-ratelimit-reset`).
        retry_after_secs: Option<u64>,
        /// Send `x-ratelimit-reset` as an epoch.
        reset_as_epoch: bool,
    },
    /// Bulk upsert calls number `nth` to `nth + times - 1` (1-based, counted from the start)
    /// get a 500 and write nothing.
    ServerErrorOnBulkCall {
        /// The first failing call.
        nth: u64,
        /// How many consecutive calls fail.
        times: u64,
    },
    /// As [`Fault::ServerErrorOnBulkCall`], each 500 saying `Retry-After: N` (seconds), as
    /// a gateway in front of Port may.
    ServerErrorOnBulkCallRetryAfter {
        /// The first failing call.
        nth: u64,
        /// How many consecutive calls fail.
        times: u64,
        /// The `Retry-After` seconds.
        retry_after_secs: u64,
    },
    /// The next `requests` requests wait `delay` before being handled.
    Slow {
        /// How many requests.
        requests: u32,
        /// The wait.
        delay: Duration,
    },
    /// Every listing page after the first `after_pages` is cut off mid-body (a 200 whose
    /// JSON ends early), until cleared.
    TruncateListing {
        /// Pages served whole first.
        after_pages: u64,
    },
    /// The next `requests` requests get 429 with these exact header texts (`1e20`, `-5`,
    /// a date in 9999…): `Retry-After` and `x-ratelimit-reset`, each when given.
    RateLimitSaying {
        /// How many requests to refuse.
        requests: u32,
        /// The `Retry-After` text.
        retry_after: Option<String>,
        /// The `x-ratelimit-reset` text.
        reset: Option<String>,
    },
    /// The datasource listing ignores its prefix and suffix and lists every entity (each
    /// still showing its own `$datasource`), until cleared.
    ForeignInListing,
    /// The datasource listing ignores `from` and hands out a new cursor on every page, so it
    /// never ends, until cleared.
    EndlessListing,
    /// Bulk upserts refuse every entity with a 207 whose messages quote the request's
    /// `Authorization` header and the client's secret, until cleared.
    EchoCredentialsInBulkErrors,
    /// Token requests get a 401 whose message quotes the last token issued, until cleared.
    RefuseTokenEchoingOld,
    /// The token endpoint states this `expiresIn` (tokens still live `token_lifetime`),
    /// until cleared.
    StateExpiresIn(Value),
    /// Bulk upserts refuse every `every`-th entity of each call (the first included) with a
    /// per-entity 422 in a 207, writing the others, until cleared.
    RefuseInBulk {
        /// Refuse entities at index 0, `every`, `2 * every`, … of each call (0: none).
        every: usize,
    },
    /// Every blueprint API route answers this status (a 5xx: Port failing), until cleared.
    BlueprintApiStatus(u16),
}

#[derive(Default)]
struct Faults {
    rate_limit: Option<(u32, Option<u64>, bool)>,
    rate_limit_saying: Option<(u32, Option<String>, Option<String>)>,
    bulk_errors: Vec<(u64, u64, Option<u64>)>,
    slow: Option<(u32, Duration)>,
    truncate_after: Option<u64>,
    foreign_in_listing: bool,
    endless_listing: bool,
    echo_credentials: bool,
    refuse_tokens: bool,
    expires_in: Option<Value>,
    refuse_every: usize,
    blueprint_api_status: Option<u16>,
}

struct Token {
    client: String,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    store: Store,
    tokens: HashMap<String, Token>,
    faults: Faults,
    arrivals: HashMap<Endpoint, u64>,
    counts: HashMap<(Endpoint, u16), u64>,
    bulk_calls: u64,
    list_pages: u64,
    minted: u64,
    /// Every search-query identifier an upsert body carried, as received.
    search_identifiers: Vec<Value>,
}

struct Shared {
    options: EmulatorOptions,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a handler cannot leave the store half-written in a way tests rely on.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running emulator; dropping it shuts the server down.
pub struct PortEmulator {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for PortEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl PortEmulator {
    /// Loads the blueprints and starts serving on `127.0.0.1:0` (needs a tokio runtime).
    pub async fn start(options: EmulatorOptions) -> Result<Self> {
        let mut inner = Inner::default();
        for doc in &options.blueprints {
            inner
                .store
                .add_blueprint(doc)
                .map_err(Error::InvalidBlueprint)?;
        }
        let shared = Arc::new(Shared {
            options,
            inner: Mutex::new(inner),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = routes::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(PortEmulator {
            base_url: format!("http://{addr}"),
            shared,
            shutdown: Some(tx),
        })
    }

    /// The URL to give a client (`http://127.0.0.1:PORT`, routes under `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Requests received on `endpoint`, answered or not (a client may give up on a slow one).
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.shared
            .lock()
            .arrivals
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Requests on `endpoint` answered with `status`.
    pub fn responses(&self, endpoint: Endpoint, status: u16) -> u64 {
        self.shared
            .lock()
            .counts
            .get(&(endpoint, status))
            .copied()
            .unwrap_or(0)
    }

    /// Injects a fault for the requests that follow.
    pub fn inject(&self, fault: Fault) {
        let mut inner = self.shared.lock();
        match fault {
            Fault::RateLimit {
                requests,
                retry_after_secs,
                reset_as_epoch,
            } => inner.faults.rate_limit = Some((requests, retry_after_secs, reset_as_epoch)),
            Fault::ServerErrorOnBulkCall { nth, times } => {
                inner.faults.bulk_errors.push((nth, times, None))
            }
            Fault::ServerErrorOnBulkCallRetryAfter {
                nth,
                times,
                retry_after_secs,
            } => inner
                .faults
                .bulk_errors
                .push((nth, times, Some(retry_after_secs))),
            Fault::Slow { requests, delay } => inner.faults.slow = Some((requests, delay)),
            Fault::TruncateListing { after_pages } => {
                inner.faults.truncate_after = Some(inner.list_pages + after_pages)
            }
            Fault::RateLimitSaying {
                requests,
                retry_after,
                reset,
            } => inner.faults.rate_limit_saying = Some((requests, retry_after, reset)),
            Fault::ForeignInListing => inner.faults.foreign_in_listing = true,
            Fault::EndlessListing => inner.faults.endless_listing = true,
            Fault::EchoCredentialsInBulkErrors => inner.faults.echo_credentials = true,
            Fault::RefuseTokenEchoingOld => inner.faults.refuse_tokens = true,
            Fault::StateExpiresIn(value) => inner.faults.expires_in = Some(value),
            Fault::RefuseInBulk { every } => inner.faults.refuse_every = every,
            Fault::BlueprintApiStatus(status) => inner.faults.blueprint_api_status = Some(status),
        }
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults = Faults::default();
    }

    /// Every access token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.keys().cloned().collect()
    }

    /// Expires every access token issued so far (as if their lifetime had run out).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.shared.lock().tokens.values_mut() {
            token.expires = now;
        }
    }

    /// The stored entity, in Port's JSON shape, if it exists.
    pub fn entity(&self, blueprint: &str, identifier: &str) -> Option<Value> {
        self.shared
            .lock()
            .store
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .map(|s| Value::Object(s.entity.clone()))
    }

    /// The search-query identifiers that upsert bodies carried, in arrival order, exactly as
    /// received (what a test checks to know the wire format).
    pub fn search_identifiers_received(&self) -> Vec<Value> {
        self.shared.lock().search_identifiers.clone()
    }

    /// When a stored entity was last written (created, updated, or made a placeholder).
    pub fn written_at(&self, blueprint: &str, identifier: &str) -> Option<Instant> {
        self.shared
            .lock()
            .store
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .map(|s| s.written)
    }

    /// A blueprint as the blueprint API hands it back (Port's own fields included).
    pub fn blueprint(&self, identifier: &str) -> Option<Value> {
        self.shared.lock().store.docs.get(identifier).cloned()
    }

    /// The identifiers of every blueprint, sorted.
    pub fn blueprint_ids(&self) -> Vec<String> {
        self.shared.lock().store.docs.keys().cloned().collect()
    }

    /// The `$datasource` (writer's `User-Agent`) of a stored entity.
    pub fn datasource_of(&self, blueprint: &str, identifier: &str) -> Option<String> {
        self.shared
            .lock()
            .store
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .map(|s| s.datasource.clone())
    }

    /// Keeps every entity write from now on, for [`PortEmulator::take_writes`] (latency
    /// measurements).
    pub fn keep_writes(&self) {
        self.shared.lock().store.log.get_or_insert_with(Vec::new);
    }

    /// The writes kept since the last call.
    pub fn take_writes(&self) -> Vec<Written> {
        self.shared
            .lock()
            .store
            .log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Every stored entity, by (blueprint, identifier), in Port's JSON shape.
    pub fn snapshot(&self) -> BTreeMap<(String, String), Value> {
        self.shared
            .lock()
            .store
            .entities
            .iter()
            .map(|(k, s)| (k.clone(), Value::Object(s.entity.clone())))
            .collect()
    }

    /// Every stored entity by (blueprint, identifier): who wrote it last and Port's JSON.
    pub fn entities(&self) -> BTreeMap<(String, String), (String, Value)> {
        self.shared
            .lock()
            .store
            .entities
            .iter()
            .map(|(key, s)| {
                (
                    key.clone(),
                    (s.datasource.clone(), Value::Object(s.entity.clone())),
                )
            })
            .collect()
    }

    /// Replaces every stored entity with `entities`, as [`PortEmulator::entities`] gave them
    /// (to start a run from a catalog another emulator ended with).
    pub fn restore(&self, entities: &BTreeMap<(String, String), (String, Value)>) {
        let mut inner = self.shared.lock();
        inner.store.entities = entities
            .iter()
            .filter_map(|(key, (datasource, entity))| {
                let entity = entity.as_object()?.clone();
                let stored = store::Stored {
                    entity,
                    datasource: datasource.clone(),
                    written: Instant::now(),
                };
                Some((key.clone(), stored))
            })
            .collect();
    }

    /// How many entities the store holds.
    pub fn entity_count(&self) -> usize {
        self.shared.lock().store.entities.len()
    }

    /// Writes an entity directly, as if a writer with `datasource` as its `User-Agent` had
    /// upserted it (to seed entities another integration owns).
    pub fn seed(&self, blueprint: &str, entity: Value, datasource: &str) -> Result<(), String> {
        let flags = WriteFlags {
            upsert: true,
            merge: false,
            create_missing_related_entities: true,
        };
        self.shared
            .lock()
            .store
            .write(blueprint, &entity, flags, datasource)
            .map(|_| ())
            .map_err(|r| r.message)
    }
}
