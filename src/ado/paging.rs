//! ADO's two pagination styles, each run to the end or reported as cut short.
//!
//! - **Continuation token**: the next page's token arrives in the `x-ms-continuationtoken`
//!   header (some endpoints put it in the body's `continuationToken`); send it back as
//!   `continuationToken` until none comes. ADO may return fewer items than `$top` on any
//!   page, so only the token says when the list ends.
//! - **`$top`/`$skip`**: advance `$skip` by the items received and stop at an empty page.
//!   A short page is *not* taken as the end: ADO may cap `$top` below what was asked.
//!
//! A page that fails after its retries ends the listing as [`Partial`]: the items so far
//! and the error. Callers turn that into an incomplete listing, never a short one.

use serde_json::Value;

use super::client::{self, Call, Client};

/// Errors paging through a list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A page request failed (after retries).
    #[error("a page request failed")]
    Request(#[source] client::Error),
    /// A page's body has no array under the expected key.
    #[error("a page of {url} has no {key:?} array")]
    UnexpectedShape {
        /// The page URL.
        url: String,
        /// The key that should hold the items.
        key: String,
    },
    /// ADO handed back the same continuation token twice: following it would never end.
    #[error("{url} returned the same continuation token twice")]
    TokenLoop {
        /// The page URL.
        url: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the first page was a 404 (the parent is gone or the feature is off).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Request(e) if e.is_not_found())
    }
}

/// The items fetched before a page failed, and why it failed.
#[derive(Debug)]
pub struct Partial {
    /// Items of the pages that succeeded.
    pub items: Vec<Value>,
    /// What cut the listing short.
    pub error: Error,
}

/// Follows continuation tokens from `call` to the end. `top` sets `$top` on every page.
pub async fn by_continuation(
    client: &Client,
    mut call: Call,
    key: &str,
    top: Option<usize>,
) -> std::result::Result<Vec<Value>, Partial> {
    if let Some(top) = top {
        call.set_param("$top", top.to_string());
    }
    let mut items = Vec::new();
    let mut last_token: Option<String> = None;
    loop {
        let page = match client.send(&call).await {
            Ok(page) => page,
            Err(e) => {
                return Err(Partial {
                    items,
                    error: Error::Request(e),
                });
            }
        };
        if let Err(error) = take_items(client, &call, page.body, key, &mut items) {
            return Err(Partial { items, error });
        }
        let Some(token) = page.continuation else {
            return Ok(items);
        };
        if last_token.as_deref() == Some(token.as_str()) {
            let url = client.url(&call);
            return Err(Partial {
                items,
                error: Error::TokenLoop { url },
            });
        }
        call.set_param("continuationToken", token.clone());
        last_token = Some(token);
    }
}

/// Pages with `$top`/`$skip` (or the names given) until an empty page or `max` items.
pub async fn by_skip(
    client: &Client,
    mut call: Call,
    key: &str,
    top: usize,
    max: Option<usize>,
    names: (&str, &str),
) -> std::result::Result<Vec<Value>, Partial> {
    let (top_name, skip_name) = names;
    let mut items: Vec<Value> = Vec::new();
    loop {
        let want = match max {
            Some(max) if items.len() >= max => return Ok(items),
            Some(max) => top.min(max - items.len()),
            None => top,
        };
        call.set_param(top_name, want.to_string());
        call.set_param(skip_name, items.len().to_string());
        let page = match client.send(&call).await {
            Ok(page) => page,
            Err(e) => {
                return Err(Partial {
                    items,
                    error: Error::Request(e),
                });
            }
        };
        let before = items.len();
        if let Err(error) = take_items(client, &call, page.body, key, &mut items) {
            return Err(Partial { items, error });
        }
        if items.len() == before {
            return Ok(items);
        }
    }
}

fn take_items(
    client: &Client,
    call: &Call,
    body: Value,
    key: &str,
    into: &mut Vec<Value>,
) -> Result<()> {
    match body {
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(values)) => {
                into.extend(values);
                Ok(())
            }
            _ => Err(Error::UnexpectedShape {
                url: client.url(call),
                key: key.to_owned(),
            }),
        },
        _ => Err(Error::UnexpectedShape {
            url: client.url(call),
            key: key.to_owned(),
        }),
    }
}
