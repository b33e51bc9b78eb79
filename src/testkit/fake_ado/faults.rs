//! The fake server's injectable faults: what each does to a response, and the bodies that
//! misbehave (cut short, dropped mid-way, oversized, streamed).
//!
//! Every fault speaks ADO's wire format where it answers at all: JSON error bodies with a
//! `typeKey`, continuation tokens in `x-ms-continuationtoken`, `Retry-After` and
//! `X-RateLimit-*` headers.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;

use super::add_headers;
use super::routes::{error, typed_error};

/// The body of an injected 404.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotFoundBody {
    /// ADO's JSON error body with this `typeKey`.
    Typed(String),
    /// An HTML page, as a proxy or a wrong host answers.
    Html,
    /// No body at all.
    Empty,
}

/// What a fault does to the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and a JSON error body.
    Status(u16),
    /// Wait this long before answering normally (to trip client timeouts).
    Delay(Duration),
    /// Send the headers and part of the body, then drop the connection.
    Drop,
    /// Send a 200 whose JSON body is cut in half (consistent `Content-Length`).
    Truncate,
    /// Answer 429 with `Retry-After` in seconds.
    TooManyRequests(u64),
    /// Answer 429 with this exact `Retry-After` text (`1e20`, `-5`, a far HTTP date…).
    TooManyRequestsSaying(String),
    /// Answer normally, with these headers added (`X-RateLimit-Delay`, an absurd reset…).
    ExtraHeaders(Vec<(String, String)>),
    /// Answer 404 with this body.
    NotFound(NotFoundBody),
    /// Answer 500 with a body quoting the request's `Authorization` header, base64 and
    /// decoded, as a debugging proxy might.
    EchoAuthorization,
    /// Answer normally, but hand out the next token `n` (an offset) as `n % m`: with pages
    /// of `m / 2` items the tokens run `m/2, 0, m/2, 0, …`, a cycle that never repeats
    /// the token just given and never ends.
    ContinuationCycle(usize),
    /// Answer every request with an empty page and a new continuation token.
    EmptyPagesForever,
    /// Answer as if `$skip` (and `skip`) had not been sent: the same page every time.
    IgnoreSkip,
    /// Answer 200 with a JSON body of exactly this many bytes, streamed in chunks with no
    /// `Content-Length`.
    Oversize(usize),
    /// Answer 200 with well-formed JSON of the wrong shape: `value` (and `count`) hold a
    /// string where ADO sends an array (and a number), as a proxy or a changed API might.
    WrongShape,
    /// End every Entra ID token issued so far before judging the request (revoked, or a
    /// clock ahead of the client's): a request with one is refused with 401.
    ExpireTokens,
}

/// A fault on requests `from..from+times` (1-based) of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The endpoint name (see `FakeAdo::counts`), or `*` for every endpoint (each counted
    /// on its own).
    pub endpoint: String,
    /// The first request (1-based) that fails.
    pub from: u64,
    /// How many consecutive requests fail (`u64::MAX`: all from then on).
    pub times: u64,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// Request `k` (1-based) of `endpoint` and every later one fail with `kind`.
    #[must_use]
    pub fn from_request(endpoint: &str, k: u64, kind: FaultKind) -> Self {
        Fault {
            endpoint: endpoint.to_owned(),
            from: k,
            times: u64::MAX,
            kind,
        }
    }

    /// Only request `k` (1-based) of `endpoint` fails with `kind`.
    #[must_use]
    pub fn once(endpoint: &str, k: u64, kind: FaultKind) -> Self {
        Fault {
            times: 1,
            ..Fault::from_request(endpoint, k, kind)
        }
    }
}

/// How the fault changes the request before it is routed.
pub(super) fn rewrite_query(kind: &FaultKind, query: &mut super::routes::Query) {
    if *kind == FaultKind::IgnoreSkip {
        query.remove("$skip");
        query.remove("skip");
    }
}

/// The response under `kind`; `normal` routes the request as if nothing were wrong.
pub(super) async fn apply(
    kind: &FaultKind,
    headers: &HeaderMap,
    normal: impl FnOnce() -> Response,
) -> Response {
    match kind {
        FaultKind::Status(code) => error(
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure",
        ),
        FaultKind::TooManyRequests(secs) => too_many(&secs.to_string()),
        FaultKind::TooManyRequestsSaying(text) => too_many(text),
        FaultKind::Delay(d) => {
            tokio::time::sleep(*d).await;
            normal()
        }
        FaultKind::Drop => dropping(normal()).await,
        FaultKind::Truncate => truncated(normal()).await,
        FaultKind::ExtraHeaders(extra) => {
            let mut response = normal();
            for (name, value) in extra {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::try_from(name.as_str()),
                    HeaderValue::from_str(value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        FaultKind::NotFound(body) => not_found(body),
        FaultKind::EchoAuthorization => echo_authorization(headers),
        FaultKind::ContinuationCycle(modulus) => {
            let mut response = normal();
            let next = response
                .headers()
                .get("x-ms-continuationtoken")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if let Some(next) = next
                && let Ok(token) = HeaderValue::from_str(&(next % (*modulus).max(1)).to_string())
            {
                response
                    .headers_mut()
                    .insert("x-ms-continuationtoken", token);
            }
            response
        }
        FaultKind::EmptyPagesForever => {
            let token = format!("empty-{:016x}", fastrand::u64(..));
            super::routes::json_response(
                StatusCode::OK,
                &serde_json::json!({"count": 0, "value": []}),
                &[("x-ms-continuationtoken", token)],
            )
        }
        FaultKind::IgnoreSkip | FaultKind::ExpireTokens => normal(),
        FaultKind::Oversize(bytes) => oversize(*bytes),
        FaultKind::WrongShape => super::routes::json_response(
            StatusCode::OK,
            &serde_json::json!({"count": "many", "value": "injected: not a list"}),
            &[],
        ),
    }
}

fn too_many(retry_after: &str) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "TF400733: The request has been throttled.",
    );
    add_headers(&mut r, &[("retry-after", retry_after.to_owned())]);
    r
}

fn not_found(body: &NotFoundBody) -> Response {
    match body {
        NotFoundBody::Typed(key) => typed_error(
            StatusCode::NOT_FOUND,
            key,
            "VS800075: The project with id 'injected' does not exist, or you do not have permission to access it.",
        ),
        NotFoundBody::Html => {
            let mut r = Response::new(Body::from(
                "<!DOCTYPE html><html><head><title>404 - Not Found</title></head>\
                 <body><h1>The resource cannot be found.</h1></body></html>",
            ));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        NotFoundBody::Empty => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}

fn echo_authorization(headers: &HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut r = Response::new(Body::from(format!(
        "Internal error while handling request\nAuthorization: {auth}\nDecoded credentials: {decoded}\n"
    )));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// A 200 JSON body of exactly `bytes` bytes, streamed in 8 KiB chunks, no `Content-Length`.
fn oversize(bytes: usize) -> Response {
    const HEAD: &str = r#"{"count":0,"value":[],"padding":""#;
    const TAIL: &str = r#""}"#;
    let padding = bytes.saturating_sub(HEAD.len() + TAIL.len());
    let mut chunks: VecDeque<Bytes> = VecDeque::from([Bytes::from_static(HEAD.as_bytes())]);
    let mut left = padding;
    while left > 0 {
        let n = left.min(8 << 10);
        chunks.push_back(Bytes::from(vec![b'x'; n]));
        left -= n;
    }
    chunks.push_back(Bytes::from_static(TAIL.as_bytes()));
    let mut r = Response::new(Body::new(Chunked { chunks }));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A body that yields its chunks one frame at a time (so no `Content-Length` is known).
struct Chunked {
    chunks: VecDeque<Bytes>,
}

impl http_body::Body for Chunked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(
            self.chunks
                .pop_front()
                .map(|next| Ok(http_body::Frame::data(next))),
        )
    }
}

async fn body_bytes(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

async fn truncated(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let cut = bytes.slice(..bytes.len() / 2);
    parts.status = StatusCode::OK;
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(cut))
}

async fn dropping(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    parts.status = StatusCode::OK;
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert("content-length", v);
    }
    let half = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::new(DroppingBody { first: Some(half) }))
}

/// A body that yields part of its data, then fails: hyper aborts the connection.
struct DroppingBody {
    first: Option<Bytes>,
}

impl http_body::Body for DroppingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.first.take() {
            Some(data) => Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
            None => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected connection drop",
            )))),
        }
    }
}
