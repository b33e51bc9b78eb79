//! Reading response bodies with a cap: in chunks, stopping as soon as the cap is passed, so
//! an 800 MB answer costs the cap, not 800 MB (and never several times that while parsing).
//!
//! The cap is per call: [`DEFAULT_MAX_BODY_BYTES`] unless the caller knows an endpoint is
//! big. Error bodies are only ever shown cut, so [`read_prefix`] reads just their start.

use bytes::{Bytes, BytesMut};

/// The default cap on a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;
/// How much of an error body is read (it is shown cut to a line anyway).
pub const ERROR_BODY_BYTES: usize = 64 << 10;

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the cap set for the call.
    #[error("the response body is larger than the {limit}-byte cap for this call")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The connection failed or timed out while the body was read.
    #[error("the response body could not be read")]
    Read(#[source] reqwest::Error),
}

/// The whole body of `response` if it is at most `limit` bytes, read chunk by chunk.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.without_url()))?
    {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// At most the first `limit` bytes of `response`'s body; whatever arrived if reading fails.
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = BytesMut::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body.freeze()
}
