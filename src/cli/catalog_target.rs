//! The catalog target's settings from the environment: Port credentials and base URL.
//!
//! This is the one place `PORT_CLIENT_ID`, `PORT_CLIENT_SECRET` and `PORT_BASE_URL` are
//! read; the library gets them as a `PortAccess` through `catalog::open`.

use anyhow::bail;

use adoport::catalog::{self, Catalog};
use adoport::port::{Credentials, PortAccess};

/// Port access from `PORT_CLIENT_ID` and `PORT_CLIENT_SECRET` (both or neither), at
/// `PORT_BASE_URL` when set (else Port's EU API).
pub(crate) fn port_access_from_env() -> anyhow::Result<Option<PortAccess>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (id, secret) = (var("PORT_CLIENT_ID"), var("PORT_CLIENT_SECRET"));
    let credentials = match (id, secret) {
        (Some(id), Some(secret)) => Credentials::new(id.trim(), secret.trim()),
        (None, None) => return Ok(None),
        (Some(_), None) => bail!("PORT_CLIENT_ID is set but PORT_CLIENT_SECRET is not"),
        (None, Some(_)) => bail!("PORT_CLIENT_SECRET is set but PORT_CLIENT_ID is not"),
    };
    let mut access = PortAccess::new(credentials);
    if let Some(url) = var("PORT_BASE_URL") {
        access.base_url = url.trim().to_owned();
    }
    Ok(Some(access))
}

/// Opens the catalog `target` names (or the default: `port` when Port credentials are set,
/// else the embedded SQLite catalog) for `datasource`.
pub(crate) fn open_catalog(
    target: Option<&str>,
    datasource: &str,
) -> anyhow::Result<Box<dyn Catalog>> {
    let access = port_access_from_env()?;
    let target = target.unwrap_or_else(|| catalog::target::default_target(access.is_some()));
    if access.is_none() && (target == "port" || target.starts_with("port:")) {
        bail!(
            "the `{target}` catalog needs Port credentials: set PORT_CLIENT_ID and \
             PORT_CLIENT_SECRET (and PORT_BASE_URL for the US region or another host)"
        );
    }
    Ok(catalog::open(target, datasource, access)?)
}
