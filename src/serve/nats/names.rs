//! How a NATS queue is named: `--queue nats://HOST:PORT[/NAME]` parsed ([`NatsSpec`]), and
//! the streams, subjects and bucket named after NAME.

use base64::Engine as _;

use super::{DEFAULT_NAME, Error, Result};

/// `nats://HOST:PORT[/NAME]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsSpec {
    /// `nats://HOST:PORT`.
    pub server: String,
    /// The queue's name: its streams, subjects and bucket are named after it.
    pub name: String,
}

impl NatsSpec {
    /// Parses `nats://HOST[:PORT][/NAME]` (port 4222 when not given).
    pub fn parse(spec: &str) -> Result<NatsSpec> {
        let shown = || {
            // Never echo credentials, even from a URL that does not parse.
            match (spec.find("://"), spec.rfind('@')) {
                (Some(at), Some(end)) if end > at => {
                    format!("{}…{}", &spec[..at + 3], &spec[end..])
                }
                _ => spec.to_owned(),
            }
        };
        let url = url::Url::parse(spec).map_err(|_| Error::BadSpec(shown()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::CredentialsInUrl);
        }
        let host = url.host_str().filter(|h| !h.is_empty());
        if url.scheme() != "nats" || url.query().is_some() || url.fragment().is_some() {
            return Err(Error::BadSpec(shown()));
        }
        let Some(host) = host else {
            return Err(Error::BadSpec(shown()));
        };
        let name = match url.path().trim_start_matches('/') {
            "" => DEFAULT_NAME.to_owned(),
            name if name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                name.to_owned()
            }
            _ => return Err(Error::BadSpec(shown())),
        };
        Ok(NatsSpec {
            server: format!("nats://{host}:{}", url.port().unwrap_or(4222)),
            name,
        })
    }
}

impl std::fmt::Display for NatsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.server, self.name)
    }
}

/// The names of the queue's streams, subjects and bucket.
#[derive(Clone, Debug)]
pub(super) struct Names {
    /// NAME.
    pub(super) name: String,
}

impl Names {
    pub(super) fn upper(&self) -> String {
        self.name.to_ascii_uppercase().replace('-', "_")
    }
    pub(super) fn signals(&self) -> String {
        format!("{}_SIGNALS", self.upper())
    }
    pub(super) fn dead(&self) -> String {
        format!("{}_DEAD", self.upper())
    }
    pub(super) fn resyncs(&self) -> String {
        format!("{}_RESYNCS", self.upper())
    }
    pub(super) fn lease_bucket(&self) -> String {
        format!("{}_lease", self.name)
    }
    pub(super) fn signal_subject(&self, kind: &str, key: &str) -> String {
        format!("{}.signals.{}.{}", self.name, token(kind), token(key))
    }
    pub(super) fn all_signals(&self) -> String {
        format!("{}.signals.>", self.name)
    }
    pub(super) fn kind_signals(&self, kind: &str) -> String {
        format!("{}.signals.{}.>", self.name, token(kind))
    }
    pub(super) fn dead_subject(&self) -> String {
        format!("{}.dead", self.name)
    }
    pub(super) fn resync_subject(&self, id: i64) -> String {
        format!("{}.resyncs.{id}", self.name)
    }
}

/// A subject token for `text`: itself when it is plain (`work-item`), else `~` and its
/// base64url (entity keys hold `|`, `/`, `.` and spaces, which subjects cannot).
pub(super) fn token(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        text.to_owned()
    } else {
        format!(
            "~{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_the_server_and_the_queue() {
        let spec = NatsSpec::parse("nats://nats.nats.svc:4222").unwrap();
        assert_eq!(spec.server, "nats://nats.nats.svc:4222");
        assert_eq!(spec.name, "adoport");
        let spec = NatsSpec::parse("nats://127.0.0.1/staging_2").unwrap();
        assert_eq!(spec.to_string(), "nats://127.0.0.1:4222/staging_2");
        for bad in [
            "nats://",
            "nats://h:4222/a/b",
            "nats://h:4222/a.b",
            "nats://h?x=1",
            "http://h:4222",
        ] {
            assert!(
                matches!(NatsSpec::parse(bad), Err(Error::BadSpec(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_echoed() {
        let err = NatsSpec::parse("nats://me:hunter2-secret@h:4222").unwrap_err();
        assert!(matches!(err, Error::CredentialsInUrl));
        let err = NatsSpec::parse("nats://me:hunter2-secret@[bad").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn entity_keys_become_subject_tokens() {
        let names = Names {
            name: "adoport".into(),
        };
        assert_eq!(
            names.signal_subject("work-item", "work-item|42"),
            "adoport.signals.work-item.~d29yay1pdGVtfDQy"
        );
        let odd = names.signal_subject("file", "file|repo/a b.txt@main");
        assert_eq!(odd.split('.').count(), 4, "{odd}");
        assert!(!odd.contains(' ') && !odd.contains('*') && !odd.contains('>'));
    }
}
