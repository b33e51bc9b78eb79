//! ADO's two pagination styles, each run to the end or reported as cut short.
//!
//! - **Continuation token**: the next page's token arrives in the `x-ms-continuationtoken`
//!   header (some endpoints put it in the body's `continuationToken`); send it back as
//!   `continuationToken` until none comes. ADO may return fewer items than `$top` on any
//!   page, so only the token says when the list ends.
//!   A POST read that pages in its body (wiki `pagesbatch`) sends the token back as the
//!   body's `continuationToken` instead.
//! - **`$top`/`$skip`**: advance `$skip` by the items received and stop at an empty page.
//!   A short page is *not* taken as the end: ADO may cap `$top` below what was asked.
//!
//! A page that fails after its retries ends the listing as [`Partial`]: the items so far
//! and the error. Callers turn that into an incomplete listing, never a short one.
//!
//! Neither style may loop for ever on a server that misbehaves: a token seen before (a
//! cycle `A, B, A`), a page that hands out a next token but no items or exactly the items of
//! the page before, a `$skip` page identical to the one before (the server ignored `$skip`),
//! or more than the client's `max_pages` (default [`MAX_PAGES`]) pages each end the listing
//! as [`Partial`] with the reason.

use std::collections::HashSet;

use serde_json::Value;

use super::client::{self, Call, Client};

/// The most pages one listing follows by default: at ADO's smallest page caps (100 items)
/// ten million items under one parent, far beyond any real organization.
pub const MAX_PAGES: usize = 100_000;

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
    /// ADO handed back a continuation token it had given before: following it would never end.
    #[error("{url} returned a continuation token it had returned before")]
    TokenLoop {
        /// The page URL.
        url: String,
    },
    /// A page pointed to a next page but brought nothing new (no items, or the same items
    /// as the page before): the server is not advancing.
    #[error("{url} pointed to another page but brought nothing new")]
    NoProgress {
        /// The page URL.
        url: String,
    },
    /// The listing did not end within the most pages allowed.
    #[error("{url} did not end within {limit} pages")]
    TooManyPages {
        /// The last page URL.
        url: String,
        /// The most pages allowed.
        limit: usize,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the page was a 404 whose ADO error key is one of `keys` (see `kinds::absent`).
    #[must_use]
    pub fn is_not_found_as(&self, keys: &[&str]) -> bool {
        matches!(self, Error::Request(e) if e.is_not_found_as(keys))
    }

    /// Whether the page was answered `status` with an ADO error body typed as one of `keys`.
    #[must_use]
    pub fn is_status_as(&self, status: u16, keys: &[&str]) -> bool {
        matches!(self, Error::Request(e) if e.is_status_as(status, keys))
    }

    /// The PAT scope ADO refused, when a 401/403 ended the listing.
    #[must_use]
    pub fn refused_scope(&self) -> Option<client::Scope> {
        match self {
            Error::Request(e) => e.refused_scope(),
            _ => None,
        }
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
    follow_tokens(client, call, key, |call, token| {
        call.set_param("continuationToken", token);
    })
    .await
}

/// Follows continuation tokens of a POST read that pages in its body (wiki `pagesbatch`):
/// each page's token (from the `x-ms-continuationtoken` header) goes back as the body's
/// `continuationToken`; `top` sets the body's `top` on every page.
pub async fn by_body_token(
    client: &Client,
    mut call: Call,
    key: &str,
    top: usize,
) -> std::result::Result<Vec<Value>, Partial> {
    call.set_body_field("top", Value::from(top));
    follow_tokens(client, call, key, |call, token| {
        call.set_body_field("continuationToken", Value::String(token));
    })
    .await
}

/// The continuation-token loop, with `send_token` putting the next token into the call.
async fn follow_tokens(
    client: &Client,
    mut call: Call,
    key: &str,
    send_token: impl Fn(&mut Call, String),
) -> std::result::Result<Vec<Value>, Partial> {
    let mut items = Vec::new();
    let mut tokens: HashSet<String> = HashSet::new();
    let mut previous: Option<Vec<Value>> = None;
    for _ in 0..client.max_pages() {
        let page = match client.send(&call).await {
            Ok(page) => page,
            Err(e) => {
                return Err(Partial {
                    items,
                    error: Error::Request(e),
                });
            }
        };
        let values = match take_items(client, &call, page.body, key) {
            Ok(values) => values,
            Err(error) => return Err(Partial { items, error }),
        };
        let Some(token) = page.continuation else {
            items.extend(values);
            return Ok(items);
        };
        let stalled = values.is_empty() || previous.as_ref() == Some(&values);
        if !tokens.insert(token.clone()) {
            items.extend(values);
            let url = client.url(&call);
            return Err(Partial {
                items,
                error: Error::TokenLoop { url },
            });
        }
        if stalled {
            let url = client.url(&call);
            return Err(Partial {
                items,
                error: Error::NoProgress { url },
            });
        }
        items.extend(values.iter().cloned());
        previous = Some(values);
        send_token(&mut call, token);
    }
    too_many_pages(items, client, &call)
}

/// Pages with `$top`/`$skip` (or the names given) until an empty page or `max` items. An
/// empty page carrying a continuation token is no end: the listing fails as not advancing.
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
    let mut previous: Option<Vec<Value>> = None;
    for _ in 0..client.max_pages() {
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
        let values = match take_items(client, &call, page.body, key) {
            Ok(values) => values,
            Err(error) => return Err(Partial { items, error }),
        };
        // An empty page ends the listing, unless it says more follows (a continuation
        // token): then the server is not advancing, and the end is not known.
        if values.is_empty() && page.continuation.is_none() {
            return Ok(items);
        }
        if values.is_empty() || previous.as_ref() == Some(&values) {
            let url = client.url(&call);
            return Err(Partial {
                items,
                error: Error::NoProgress { url },
            });
        }
        items.extend(values.iter().cloned());
        previous = Some(values);
    }
    too_many_pages(items, client, &call)
}

/// The listing still went on after the most pages allowed.
fn too_many_pages(
    items: Vec<Value>,
    client: &Client,
    call: &Call,
) -> std::result::Result<Vec<Value>, Partial> {
    Err(Partial {
        items,
        error: Error::TooManyPages {
            url: client.url(call),
            limit: client.max_pages(),
        },
    })
}

fn take_items(client: &Client, call: &Call, body: Value, key: &str) -> Result<Vec<Value>> {
    match body {
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(values)) => Ok(values),
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
