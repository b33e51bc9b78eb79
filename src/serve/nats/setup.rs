//! Connecting to the server, and making (for `serve`) or only opening (for `status`) the
//! streams, the consumer and the lease bucket.

use std::time::Duration;

use async_nats::ConnectOptions;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, kv};

use super::names::{Names, NatsSpec};
use super::{
    CONSUMER, Cause, DEAD_LETTERS_KEPT, Error, MAX_ACK_PENDING, NatsAuth, NatsOptions,
    RESYNCS_KEPT, Result,
};

/// What [`NatsQueue::open`] sets up, before it is wrapped.
pub(super) struct Parts {
    pub(super) client: async_nats::Client,
    pub(super) js: jetstream::Context,
    pub(super) signals: stream::Stream,
    pub(super) dead: stream::Stream,
    pub(super) resyncs: stream::Stream,
    pub(super) consumer: Option<PullConsumer>,
    pub(super) lease_kv: kv::Store,
    pub(super) lease_ttl: Duration,
}

pub(super) async fn setup(
    spec: &NatsSpec,
    names: &Names,
    options: &NatsOptions,
    create: bool,
) -> Result<Parts> {
    let connect = ConnectOptions::new()
        .name(
            options
                .replica
                .as_deref()
                .map_or_else(|| "adoport".to_owned(), |r| format!("adoport {r}")),
        )
        .connection_timeout(Duration::from_secs(5));
    let connect = match &options.auth {
        NatsAuth::None => connect,
        NatsAuth::Token(token) => connect.token(token.expose().to_owned()),
        NatsAuth::UserPassword { user, password } => {
            connect.user_and_password(user.clone(), password.expose().to_owned())
        }
    };
    let client = connect
        .connect(spec.server.as_str())
        .await
        .map_err(|e| Error::Connect {
            url: spec.server.clone(),
            source: e.into(),
        })?;
    let js = jetstream::new(client.clone());
    // The account's JetStream info, asked raw: its typed form wants fields a 2.9 server
    // does not send.
    let no_jetstream = |source: Cause| Error::NoJetStream {
        url: spec.server.clone(),
        source,
    };
    let info = client
        .request("$JS.API.INFO", bytes::Bytes::new())
        .await
        .map_err(|e| no_jetstream(e.into()))?;
    let info: serde_json::Value =
        serde_json::from_slice(&info.payload).map_err(|e| no_jetstream(e.into()))?;
    if let Some(error) = info.get("error") {
        return Err(no_jetstream(error.to_string().into()));
    }
    let stream = |name: String, subject: String, retention, per_subject, max: i64| stream::Config {
        name,
        subjects: vec![subject],
        retention,
        storage: StorageType::File,
        max_messages_per_subject: per_subject,
        max_messages: max,
        discard: DiscardPolicy::Old,
        ..stream::Config::default()
    };
    let configs = [
        stream(
            names.signals(),
            names.all_signals(),
            RetentionPolicy::WorkQueue,
            1,
            -1,
        ),
        stream(
            names.dead(),
            names.dead_subject(),
            RetentionPolicy::Limits,
            -1,
            DEAD_LETTERS_KEPT,
        ),
        stream(
            names.resyncs(),
            format!("{}.resyncs.*", names.name),
            RetentionPolicy::Limits,
            1,
            RESYNCS_KEPT,
        ),
    ];
    let mut streams = Vec::new();
    for config in configs {
        let name = config.name.clone();
        let opened = if create {
            js.get_or_create_stream(config)
                .await
                .map_err(|e| Error::Setup {
                    what: format!("the stream {name}"),
                    source: e.into(),
                })?
        } else {
            js.get_stream(&name).await.map_err(|_| Error::Missing {
                url: spec.server.clone(),
                name: spec.name.clone(),
            })?
        };
        streams.push(opened);
    }
    let [mut signals, dead, resyncs] =
        <[stream::Stream; 3]>::try_from(streams).map_err(|_| Error::Stopped)?;
    let retention = signals
        .info()
        .await
        .map_err(|e| Error::Setup {
            what: format!("the stream {}", names.signals()),
            source: e.into(),
        })?
        .config
        .retention;
    if retention != RetentionPolicy::WorkQueue {
        return Err(Error::NotWorkQueue(names.signals()));
    }
    let consumer = if create {
        let consumer: PullConsumer = signals
            .get_or_create_consumer(
                CONSUMER,
                pull::Config {
                    durable_name: Some(CONSUMER.to_owned()),
                    description: Some("every adoport replica's worker".to_owned()),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: options.ack_wait,
                    // Unbounded here: claims count deliveries and dead-letter past the limit,
                    // where the server would only stop delivering, without a record.
                    max_deliver: -1,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..pull::Config::default()
                },
            )
            .await
            .map_err(|e| Error::Setup {
                what: format!("the consumer {CONSUMER}"),
                source: e.into(),
            })?;
        let ack_wait = consumer.cached_info().config.ack_wait;
        if ack_wait != options.ack_wait {
            tracing::warn!(asked = ?options.ack_wait, in_force = ?ack_wait,
                "the consumer exists with another ack wait: using the one in force");
        }
        Some(consumer)
    } else {
        None
    };
    let bucket = names.lease_bucket();
    let lease_setup = |e: Cause| Error::Setup {
        what: format!("the key-value bucket {bucket}"),
        source: e,
    };
    let lease_kv = match js.get_key_value(&bucket).await {
        Ok(kv) => kv,
        Err(_) if create => {
            // The bucket's stream as the key-value API makes it (`create_key_value` first
            // asks for account fields a 2.9 server does not send).
            js.get_or_create_stream(stream::Config {
                name: format!("KV_{bucket}"),
                description: Some("which adoport replica runs the interval resync".to_owned()),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: 1,
                max_age: options.lease_ttl,
                storage: StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: DiscardPolicy::New,
                ..stream::Config::default()
            })
            .await
            .map_err(|e| lease_setup(e.into()))?;
            js.get_key_value(&bucket)
                .await
                .map_err(|e| lease_setup(e.into()))?
        }
        Err(_) => {
            return Err(Error::Missing {
                url: spec.server.clone(),
                name: spec.name.clone(),
            });
        }
    };
    let lease_ttl = lease_kv
        .status()
        .await
        .map_err(|e| lease_setup(e.into()))?
        .max_age();
    if create && lease_ttl != options.lease_ttl {
        tracing::warn!(asked = ?options.lease_ttl, in_force = ?lease_ttl,
            "the lease bucket exists with another TTL: using the one in force");
    }
    Ok(Parts {
        client,
        js,
        signals,
        dead,
        resyncs,
        consumer,
        lease_kv,
        lease_ttl,
    })
}
