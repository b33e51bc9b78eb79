//! Text that came from a server, made fit to show: secrets scrubbed (`crate::secrets`), an
//! HTML error page reduced to its text, whitespace collapsed to one line, and cut. Also the
//! one-line form of an error chain, and [`BadJson`], a decode error whose message (serde
//! quotes the offending value) is scrubbed and cut like any other server text.

use std::fmt;

use crate::secrets::scrub;

/// An error body is shown as one line of at most this many characters.
pub const MAX_ERROR_TEXT: usize = 200;

/// `text` scrubbed of secrets, on one line (every run of whitespace or control characters
/// becomes one space), at most `max` characters with `…` marking a cut.
#[must_use]
pub fn one_line(text: &str, max: usize) -> String {
    let scrubbed = scrub(text);
    let mut out = String::with_capacity(scrubbed.len().min(max.saturating_mul(4)));
    let mut count = 0;
    let mut pending_space = false;
    for c in scrubbed.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = usize::from(pending_space) + 1;
        if count + needed > max {
            // Make room for the marker within `max`.
            while count + 1 > max {
                if out.pop().is_none() {
                    break;
                }
                count -= 1;
            }
            while out.ends_with(' ') {
                out.pop();
            }
            if max > 0 {
                out.push('…');
            }
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// An error response body as one line of at most [`MAX_ERROR_TEXT`] characters: HTML pages
/// reduced to their text, invalid UTF-8 replaced, secrets scrubbed.
#[must_use]
pub fn error_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if looks_like_html(&text) {
        one_line(&html_to_text(&text), MAX_ERROR_TEXT)
    } else {
        one_line(&text, MAX_ERROR_TEXT)
    }
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with('<')
        && (head.contains("<html")
            || head.contains("<!doctype html")
            || head.contains("<body")
            || head.contains("<head")
            || head.contains("<title"))
}

/// The visible text of an HTML page: tags, comments, scripts and styles dropped, the common
/// entities decoded.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(rest.len(), |end| end + 3);
            continue;
        }
        if let Some(tag) = ["<script", "<style"].iter().find(|t| rest.starts_with(**t)) {
            let close = format!("</{}", &tag[1..]);
            i += match rest.find(&close) {
                Some(at) => at + rest[at..].find('>').map_or(rest.len() - at, |e| e + 1),
                None => rest.len(),
            };
            out.push(' ');
            continue;
        }
        if rest.starts_with('<') {
            i += rest.find('>').map_or(rest.len(), |end| end + 1);
            out.push(' ');
            continue;
        }
        if rest.starts_with('&')
            && let Some((entity, len)) = entity(&html[i..])
        {
            out.push_str(entity);
            i += len;
            continue;
        }
        let Some(c) = html[i..].chars().next() else {
            break;
        };
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn entity(text: &str) -> Option<(&'static str, usize)> {
    const ENTITIES: [(&str, &str); 7] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&apos;", "'"),
        ("&nbsp;", " "),
    ];
    ENTITIES
        .iter()
        .find(|(name, _)| text.starts_with(name))
        .map(|(name, value)| (*value, name.len()))
}

/// An error and its causes as one line, `error: cause: cause`, scrubbed of secrets.
#[must_use]
pub fn error_chain(err: &(dyn std::error::Error + '_)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    one_line(&text, usize::MAX)
}

/// A body that did not parse as the JSON expected. serde's message may quote the offending
/// value, which came from the server: it is kept scrubbed and cut, never raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadJson(String);

impl BadJson {
    /// A message for a decode failure that has no serde error behind it.
    #[must_use]
    pub fn new(message: &str) -> Self {
        BadJson(one_line(message, MAX_ERROR_TEXT))
    }
}

impl From<serde_json::Error> for BadJson {
    fn from(err: serde_json::Error) -> Self {
        BadJson::new(&err.to_string())
    }
}

impl fmt::Display for BadJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadJson {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_becomes_one_line_of_at_most_200_characters() {
        let body = format!("first line\r\n\tsecond   line\n{}", "x".repeat(1_000));
        let text = error_text(body.as_bytes());
        assert!(text.starts_with("first line second line x"), "{text}");
        assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
        assert!(text.ends_with('…'));
        assert!(!text.contains('\n') && !text.contains('\t'));
        assert_eq!(error_text(b"short"), "short");
        assert_eq!(error_text(b""), "");
    }

    #[test]
    fn an_html_error_page_is_reduced_to_its_text() {
        let page = br#"<!DOCTYPE html>
<html><head><title>Service Unavailable</title>
<style>body { color: red; }</style><script>var x = "<b>";</script></head>
<body><!-- trace 42 --><h1>503 &amp; sorry</h1>
<p>Try&nbsp;again   later.</p></body></html>"#;
        assert_eq!(
            error_text(page),
            "Service Unavailable 503 & sorry Try again later."
        );
    }

    #[test]
    fn cutting_counts_characters_not_bytes() {
        let text = one_line(&"界".repeat(300), 10);
        assert_eq!(text.chars().count(), 10);
        assert!(text.ends_with('…'));
        assert_eq!(one_line("abc", 3), "abc");
        assert_eq!(one_line("abcd", 3), "ab…");
    }

    #[test]
    fn invalid_utf8_does_not_fail() {
        assert_eq!(error_text(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn an_error_chain_is_one_scrubbed_line() {
        crate::secrets::register("chain-test-secret-42");
        #[derive(Debug, thiserror::Error)]
        #[error("outer failed")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::other("inner\nsaw chain-test-secret-42"));
        assert_eq!(error_chain(&err), "outer failed: inner saw [redacted]");
    }

    #[test]
    fn a_decode_error_keeps_no_echoed_secret() {
        crate::secrets::register("json-test-secret-43");
        let err = serde_json::from_str::<u32>(r#""json-test-secret-43""#).unwrap_err();
        assert!(err.to_string().contains("json-test-secret-43"), "{err}");
        let safe = BadJson::from(err);
        assert!(!safe.to_string().contains("json-test-secret-43"), "{safe}");
    }
}
