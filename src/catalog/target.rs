//! Choosing a catalog from a target string: `port` (Port's REST API) or `sqlite:PATH`.
//!
//! It owns the target syntax and the check that a target has what it needs (Port
//! credentials for `port`). Reading those credentials from the environment is the CLI's
//! job: they arrive here as a `PortAccess`.
//!
//! | target | catalog |
//! |---|---|
//! | `port` | Port's API at `PortAccess::base_url` |
//! | `port:eu`, `port:us` | Port's EU or US API |
//! | `port:URL` | Port's API (or an emulator) at `URL` |
//! | `sqlite:PATH` | the embedded SQLite catalog at `PATH` |

use super::{Catalog, Error as CatalogError, Result};
use crate::port::auth::{EU_BASE_URL, US_BASE_URL};
use crate::port::{PortAccess, PortClient, PortClientOptions};

/// Where the embedded catalog lives when no target is given and no Port credentials are set.
pub const DEFAULT_SQLITE_TARGET: &str = "sqlite:.adoport/catalog.sqlite";

/// Why a target could not be opened (the source of `catalog::Error::Open`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target names no known kind of catalog.
    #[error(
        "unknown catalog target; use `port`, `port:eu`, `port:us`, `port:URL` or `sqlite:PATH`"
    )]
    UnknownTarget,
    /// `port` was chosen but no credentials were given.
    #[error("the port target needs Port client credentials, and none were given")]
    MissingPortCredentials,
    /// `sqlite:` was given without a path.
    #[error("the sqlite target needs a path, as in sqlite:.adoport/catalog.sqlite")]
    MissingPath,
    /// The SQLite catalog could not be opened.
    #[error("the sqlite catalog could not be opened")]
    Sqlite(#[source] super::sqlite::Error),
    /// The Port client could not be set up.
    #[error("the Port client could not be set up")]
    Port(#[source] crate::port::client::Error),
}

/// The target to use when none is given: Port when credentials are set, else the embedded
/// catalog (so a fresh machine works with nothing else running).
pub fn default_target(port_credentials_set: bool) -> &'static str {
    if port_credentials_set {
        "port"
    } else {
        DEFAULT_SQLITE_TARGET
    }
}

/// Whether a run may write to the catalog it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `apply`, `watch --apply`, `serve`: writes, creating the SQLite file if needed.
    ReadWrite,
    /// `plan` and review: reads only; a SQLite file that does not exist is an empty catalog
    /// and is not created.
    ReadOnly,
}

/// Opens the catalog `target` names, for `datasource` (the id every write is stamped with and
/// `list_owned` filters on). `port` needs `port`; the others ignore it.
pub fn open(
    target: &str,
    datasource: &str,
    port: Option<PortAccess>,
    mode: OpenMode,
) -> Result<Box<dyn Catalog>> {
    let failed = |source: Error| CatalogError::Open {
        target: shown(target),
        source: Box::new(source),
    };
    let (kind, rest) = match target.split_once(':') {
        Some((kind, rest)) => (kind, Some(rest)),
        None => (target, None),
    };
    match kind {
        "port" => {
            let access = port.ok_or_else(|| failed(Error::MissingPortCredentials))?;
            let base_url = match rest {
                None => access.base_url,
                Some("eu") => EU_BASE_URL.to_owned(),
                Some("us") => US_BASE_URL.to_owned(),
                Some(url) => url.to_owned(),
            };
            let options =
                PortClientOptions::new(access.credentials, datasource).with_base_url(base_url);
            let client = PortClient::new(options).map_err(|e| failed(Error::Port(e)))?;
            Ok(Box::new(client))
        }
        "sqlite" => {
            let path = rest
                .filter(|p| !p.is_empty())
                .ok_or_else(|| failed(Error::MissingPath))?;
            let opened = match mode {
                OpenMode::ReadWrite => super::sqlite::SqliteCatalog::open(path, datasource),
                OpenMode::ReadOnly => {
                    super::sqlite::SqliteCatalog::open_read_only(path, datasource)
                }
            };
            opened
                .map(|c| Box::new(c) as Box<dyn Catalog>)
                .map_err(|e| failed(Error::Sqlite(e)))
        }
        _ => Err(failed(Error::UnknownTarget)),
    }
}

/// The target for error text, with any `user:password@` in a URL removed.
fn shown(target: &str) -> String {
    match (target.find("://"), target.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}[redacted]{}", &target[..scheme + 3], &target[at..])
        }
        _ => target.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::Credentials;

    fn access() -> PortAccess {
        PortAccess::new(Credentials::new("id-123456", "secret-123456"))
    }

    fn open_error(target: &str, port: Option<PortAccess>) -> String {
        let err = open(target, "mine", port, OpenMode::ReadWrite)
            .err()
            .expect("an error");
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    #[test]
    fn port_targets_open_a_port_client_at_the_right_url() {
        let cases = [
            ("port", "port:https://api.getport.io"),
            ("port:us", "port:https://api.us.getport.io"),
            ("port:eu", "port:https://api.getport.io"),
            ("port:http://127.0.0.1:4000", "port:http://127.0.0.1:4000"),
        ];
        for (target, described) in cases {
            let catalog = open(target, "mine", Some(access()), OpenMode::ReadWrite).expect(target);
            assert_eq!(catalog.describe(), described);
        }
    }

    #[test]
    fn the_port_target_without_credentials_says_so() {
        assert!(open_error("port", None).contains("needs Port client credentials"));
    }

    #[test]
    fn unknown_and_incomplete_targets_are_refused_with_a_hint() {
        assert!(open_error("postgres:x", None).contains("use `port`"));
        assert!(open_error("sqlite:", None).contains("needs a path"));
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let under_a_file = format!("sqlite:{}/x.sqlite", blocked.display());
        assert!(open_error(&under_a_file, None).contains("could not open the sqlite catalog"));
        let text = open_error("port:https://u:pw@example.com", Some(access()));
        assert!(!text.contains("pw"), "{text}");
        assert!(
            !text.contains("secret-123456") && !text.contains("id-123456"),
            "{text}"
        );
    }

    #[test]
    fn a_sqlite_target_opens_the_embedded_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let target = format!("sqlite:{}", dir.path().join("c.sqlite").display());
        assert_eq!(
            open(&target, "mine", None, OpenMode::ReadWrite)
                .unwrap()
                .describe(),
            target
        );
    }

    #[test]
    fn the_default_target_is_port_only_with_credentials() {
        assert_eq!(default_target(true), "port");
        assert_eq!(default_target(false), DEFAULT_SQLITE_TARGET);
    }
}
