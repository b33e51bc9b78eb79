//! What can go wrong with a NATS queue, named for what failed.

/// A boxed cause.
pub(super) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Errors of the NATS queue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--queue` starts with `nats://` but is not a NATS queue.
    #[error(
        "`{0}` is not a NATS queue: use nats://HOST:PORT or nats://HOST:PORT/NAME (NAME: up to 32 letters, digits, `-` or `_`)"
    )]
    BadSpec(String),
    /// The URL carries credentials, which would then show wherever the URL does.
    #[error(
        "the --queue URL holds credentials: put them in ADOPORT_NATS_TOKEN, or ADOPORT_NATS_USER and ADOPORT_NATS_PASSWORD"
    )]
    CredentialsInUrl,
    /// The client's runtime could not start.
    #[error("could not start the NATS client")]
    Runtime(#[source] std::io::Error),
    /// The server could not be reached, or refused the credentials.
    #[error("could not connect to the NATS server at {url}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The server runs without JetStream.
    #[error(
        "the NATS server at {url} has no JetStream: start it with `-js` (or a `jetstream {{}}` block in its config)"
    )]
    NoJetStream {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// A stream, the consumer or the lease bucket could not be made or opened.
    #[error("could not set up {what} on the NATS server")]
    Setup {
        /// Which.
        what: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The signals stream exists but was made for something else.
    #[error(
        "the stream {0} exists but is not a work queue: pick another NAME in --queue nats://HOST:PORT/NAME"
    )]
    NotWorkQueue(String),
    /// `status` found no queue of that name.
    #[error(
        "there is no adoport queue {name} on {url} (has `adoport serve --queue {url}/{name}` run?)"
    )]
    Missing {
        /// The server.
        url: String,
        /// The queue's name.
        name: String,
    },
    /// A call to the server failed.
    #[error("the NATS server could not {what}")]
    Request {
        /// What was asked.
        what: &'static str,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The client has stopped (the process is ending).
    #[error("the NATS client has stopped")]
    Stopped,
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(super) fn request(what: &'static str) -> impl FnOnce(Cause) -> Error {
    move |source| Error::Request { what, source }
}
