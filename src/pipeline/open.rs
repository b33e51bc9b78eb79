//! Opening what a pipeline runs over, from the names a user gives (`--source`, `--target`)
//! and what the environment provides ([`Access`]): the raw items and the catalog.
//!
//! Every entry point opens them here, so `plan`, `apply`, `watch`, review, `--follow` and
//! `serve` agree on the defaults and on precedence: a flag over the environment over
//! `adoport.yaml` over the built-in default. The environment itself is read by the CLI
//! (the one place that may); it arrives here as an [`Access`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::ado::orgs::Organizations;
use crate::ado::{
    self, AdoSource, Client, ClientOptions, Credential, OrgUrl, Pat, ServicePrincipal,
    ServicePrincipalConfig, Snapshot, SourceOptions,
};
use crate::catalog::{self, Catalog, OpenMode};
use crate::config::Settings;
use crate::desired::{Items, LiveItems, SnapshotItems};
use crate::port::auth::{EU_BASE_URL, US_BASE_URL};
use crate::port::{Credentials, PortAccess};

/// Errors opening a source or a catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--source` names nothing known.
    #[error("unknown source `{0}`; use snapshot:DIR or ado")]
    UnknownSource(String),
    /// No `--source`, and no organization to read live.
    #[error(
        "say where items come from: --source snapshot:DIR (recorded by `adoport fetch`), or \
         --source ado with AZURE_DEVOPS_ORG_URL and AZURE_DEVOPS_PAT set"
    )]
    NoSource,
    /// The live source needs an organization URL.
    #[error(
        "set AZURE_DEVOPS_ORG_URL (or organizationUrl or organizationUrls in adoport.yaml) for --source ado"
    )]
    NoOrganization,
    /// The live source needs credentials.
    #[error(
        "set AZURE_DEVOPS_PAT to a personal access token with read scopes, or AZURE_TENANT_ID, \
         AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to an Entra ID service principal, for --source ado"
    )]
    NoPat,
    /// The organization URL is not one ADO serves.
    #[error("the organization URL is not valid")]
    BadOrganization(#[source] ado::org::Error),
    /// Two configured URLs name the same organization.
    #[error("{0} is configured twice (organizationUrls names each organization once)")]
    DuplicateOrganization(String),
    /// The ADO client could not be set up.
    #[error("could not set up the Azure DevOps client")]
    AdoClient(#[source] ado::client::Error),
    /// The snapshot folder could not be opened.
    #[error("could not open the snapshot {}", .path.display())]
    Snapshot {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: ado::snapshot::Error,
    },
    /// The runtime for live fetches could not be started.
    #[error("could not start the runtime for live fetches")]
    Runtime(#[source] std::io::Error),
    /// The `port` target needs credentials.
    #[error(
        "the `{0}` catalog needs Port credentials: set PORT_CLIENT_ID and PORT_CLIENT_SECRET \
         (and port.baseUrl or port.region in adoport.yaml, or PORT_BASE_URL, for another host)"
    )]
    NoPortCredentials(String),
    /// The catalog could not be opened.
    #[error(transparent)]
    Catalog(#[from] catalog::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use crate::desired::EnvLookup;

/// What the environment provides: the secrets and the overrides of `adoport.yaml`. Read
/// once by the CLI; the library never reads the environment itself.
#[derive(Clone)]
pub struct Access {
    /// `AZURE_DEVOPS_ORG_URL`: one organization URL, or several separated by commas; wins
    /// over the settings' `organizationUrl` and `organizationUrls`.
    pub ado_org_url: Option<String>,
    /// `AZURE_DEVOPS_PAT`.
    pub ado_pat: Option<Pat>,
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (and
    /// `AZURE_AUTHORITY_HOST`): an Entra ID service principal, used when no PAT is set.
    pub ado_service_principal: Option<ServicePrincipalConfig>,
    /// `PORT_CLIENT_ID` and `PORT_CLIENT_SECRET`.
    pub port_credentials: Option<Credentials>,
    /// `PORT_BASE_URL`: wins over the settings' `port.baseUrl` and `port.region`.
    pub port_base_url: Option<String>,
    /// The values of the variables a mapping's `jq.envAllowList` names.
    pub env: EnvLookup,
}

impl Default for Access {
    /// Nothing: no secrets, no overrides, an empty environment for jq.
    fn default() -> Self {
        Access {
            ado_org_url: None,
            ado_pat: None,
            ado_service_principal: None,
            port_credentials: None,
            port_base_url: None,
            env: Arc::new(|_| None),
        }
    }
}

impl std::fmt::Debug for Access {
    /// The secrets redacted, and so are credentials a URL carries (`https://user:pw@host`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = |u: &Option<String>| u.as_deref().map(|u| crate::secrets::scrub(u).into_owned());
        f.debug_struct("Access")
            .field("ado_org_url", &url(&self.ado_org_url))
            .field("ado_pat", &self.ado_pat.as_ref().map(|_| "[redacted]"))
            .field("ado_service_principal", &self.ado_service_principal)
            .field(
                "port_credentials",
                &self.port_credentials.as_ref().map(|_| "[redacted]"),
            )
            .field("port_base_url", &url(&self.port_base_url))
            .finish_non_exhaustive()
    }
}

/// Where raw items come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// A snapshot folder recorded by `adoport fetch`.
    Snapshot(PathBuf),
    /// The live REST API.
    Ado,
}

impl std::str::FromStr for SourceSpec {
    type Err = Error;

    /// `snapshot:DIR` or `ado`.
    fn from_str(s: &str) -> Result<Self> {
        match s.split_once(':') {
            Some(("snapshot", dir)) if !dir.is_empty() => Ok(SourceSpec::Snapshot(dir.into())),
            None if s == "ado" => Ok(SourceSpec::Ado),
            _ => Err(Error::UnknownSource(s.to_owned())),
        }
    }
}

impl SourceSpec {
    /// `--source` when given, else `ado` when the environment names an organization.
    pub fn or_default(given: Option<SourceSpec>, access: &Access) -> Result<SourceSpec> {
        match given {
            Some(spec) => Ok(spec),
            None if access.ado_org_url.is_some() => Ok(SourceSpec::Ado),
            None => Err(Error::NoSource),
        }
    }
}

/// The organizations to read: the environment's `AZURE_DEVOPS_ORG_URL` (comma-separated),
/// else the settings' `organizationUrls`, else their `organizationUrl`; each parsed, none
/// named twice.
pub fn organizations(settings: &Settings, access: &Access) -> Result<Vec<OrgUrl>> {
    let given: Vec<String> = match &access.ado_org_url {
        Some(env) => env
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
        None => settings.organizations(),
    };
    if given.is_empty() {
        return Err(Error::NoOrganization);
    }
    let mut orgs: Vec<OrgUrl> = Vec::with_capacity(given.len());
    for url in &given {
        let org = OrgUrl::parse(url).map_err(Error::BadOrganization)?;
        let name = org.organization().name;
        if orgs.iter().any(|o| o.organization().name == name) {
            return Err(Error::DuplicateOrganization(org.to_string()));
        }
        orgs.push(org);
    }
    Ok(orgs)
}

/// The credential every organization's client signs with: the PAT when one is set, else the
/// service principal (one token cache shared by all organizations).
pub fn credential(access: &Access) -> Result<Credential> {
    if let Some(pat) = &access.ado_pat {
        return Ok(Credential::Pat(pat.clone()));
    }
    match &access.ado_service_principal {
        Some(config) => Ok(Credential::ServicePrincipal(
            ServicePrincipal::new(config.clone()).map_err(Error::AdoClient)?,
        )),
        None => Err(Error::NoPat),
    }
}

/// One live ADO client per configured organization, in order, sharing one credential.
pub fn ado_clients(
    settings: &Settings,
    access: &Access,
    options: ClientOptions,
) -> Result<Vec<Client>> {
    let orgs = organizations(settings, access)?;
    let credential = credential(access)?;
    orgs.into_iter()
        .map(|org| {
            Client::with_credential(org, credential.clone(), options.clone())
                .map_err(Error::AdoClient)
        })
        .collect()
}

/// The live source over every configured organization, with `source_options` (the
/// settings' `excludedTags`: [`source_options`]).
pub fn ado_source(
    settings: &Settings,
    access: &Access,
    options: ClientOptions,
    source_options: &SourceOptions,
) -> Result<Organizations> {
    let clients = ado_clients(settings, access, options)?;
    Ok(Organizations::new(
        clients
            .into_iter()
            .map(|client| AdoSource::new(client, source_options.clone()))
            .collect(),
    ))
}

/// The source-wide options the settings set (`excludedTags`).
pub fn source_options(settings: &Settings) -> SourceOptions {
    SourceOptions {
        excluded_tags: settings
            .excluded_tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        ..SourceOptions::default()
    }
}

/// The raw items `spec` names, each listing read on first use and kept: a snapshot kind by
/// kind, the live API per (kind, selector).
pub fn items(spec: &SourceSpec, settings: &Settings, access: &Access) -> Result<Box<dyn Items>> {
    match spec {
        SourceSpec::Snapshot(dir) => {
            let snapshot = Snapshot::open(dir).map_err(|source| Error::Snapshot {
                path: dir.clone(),
                source,
            })?;
            Ok(Box::new(SnapshotItems::new(snapshot)))
        }
        SourceSpec::Ado => {
            let source = ado_source(
                settings,
                access,
                ClientOptions::default(),
                &source_options(settings),
            )?;
            Ok(Box::new(
                LiveItems::new(Arc::new(source)).map_err(Error::Runtime)?,
            ))
        }
    }
}

/// The catalog a run reads and writes, and the datasource it is opened for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetSpec {
    /// `--target`: `sqlite:PATH`, `port`, `port:eu`, `port:us`, `port:URL`.
    pub target: Option<String>,
    /// `--datasource`: wins over the settings' `datasource`.
    pub datasource: Option<String>,
}

impl TargetSpec {
    /// The datasource writes are stamped with: the flag, else the settings', else the default.
    pub fn datasource(&self, settings: &Settings) -> String {
        self.datasource
            .clone()
            .unwrap_or_else(|| settings.datasource().to_owned())
    }
}

/// Opens the catalog: `--target`, else the settings' `catalog`, else `port` when Port
/// credentials are set, else the embedded SQLite catalog. `mode` says whether the run may
/// write (a read-only run never creates a SQLite file).
///
/// Port's base URL: `port:eu|us|URL` in the target, else `PORT_BASE_URL`, else the settings'
/// `port.baseUrl`, else their `port.region`, else Port's EU API.
pub fn catalog(
    spec: &TargetSpec,
    settings: &Settings,
    access: &Access,
    mode: OpenMode,
) -> Result<Arc<dyn Catalog>> {
    let target = spec
        .target
        .clone()
        .or_else(|| settings.catalog.clone())
        .unwrap_or_else(|| {
            catalog::target::default_target(access.port_credentials.is_some()).to_owned()
        });
    let port = if target == "port" || target.starts_with("port:") {
        let credentials = access
            .port_credentials
            .clone()
            .ok_or_else(|| Error::NoPortCredentials(target.clone()))?;
        Some(PortAccess {
            credentials,
            base_url: port_base_url(settings, access),
        })
    } else {
        None
    };
    let datasource = spec.datasource(settings);
    Ok(Arc::from(catalog::open(&target, &datasource, port, mode)?))
}

/// Port's API: the environment's `PORT_BASE_URL`, else the settings' `port.baseUrl`, else
/// their `port.region` (`eu`, `us`), else the EU API.
pub fn port_base_url(settings: &Settings, access: &Access) -> String {
    if let Some(url) = &access.port_base_url {
        return url.clone();
    }
    if let Some(url) = &settings.port.base_url {
        return url.clone();
    }
    match settings.port.region.as_deref() {
        Some("us") => US_BASE_URL.to_owned(),
        _ => EU_BASE_URL.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::PortSettings;

    fn settings(base_url: Option<&str>, region: Option<&str>) -> Settings {
        Settings {
            port: PortSettings {
                base_url: base_url.map(str::to_owned),
                region: region.map(str::to_owned),
            },
            ..Settings::default()
        }
    }

    #[test]
    fn the_environment_wins_over_base_url_which_wins_over_region() {
        let none = Access::default();
        assert_eq!(port_base_url(&settings(None, None), &none), EU_BASE_URL);
        assert_eq!(
            port_base_url(&settings(None, Some("us")), &none),
            US_BASE_URL
        );
        assert_eq!(
            port_base_url(&settings(Some("http://h:1"), Some("us")), &none),
            "http://h:1"
        );
        let env = Access {
            port_base_url: Some("http://env:2".into()),
            ..Access::default()
        };
        assert_eq!(
            port_base_url(&settings(Some("http://h:1"), Some("us")), &env),
            "http://env:2"
        );
    }

    #[test]
    fn a_source_is_a_snapshot_or_ado_and_defaults_to_ado_only_with_an_organization() {
        assert_eq!(
            "snapshot:dir".parse::<SourceSpec>().unwrap(),
            SourceSpec::Snapshot("dir".into())
        );
        assert_eq!("ado".parse::<SourceSpec>().unwrap(), SourceSpec::Ado);
        assert!("snapshot:".parse::<SourceSpec>().is_err());
        assert!("http://x".parse::<SourceSpec>().is_err());
        assert!(matches!(
            SourceSpec::or_default(None, &Access::default()),
            Err(Error::NoSource)
        ));
        let org = Access {
            ado_org_url: Some("https://dev.azure.com/acme".into()),
            ..Access::default()
        };
        assert_eq!(SourceSpec::or_default(None, &org).unwrap(), SourceSpec::Ado);
    }

    #[test]
    fn organizations_come_from_the_environment_else_organization_urls_else_organization_url() {
        let one = Settings {
            organization_url: Some("https://dev.azure.com/acme".into()),
            ..Settings::default()
        };
        let names = |s: &Settings, a: &Access| -> Vec<String> {
            organizations(s, a)
                .unwrap()
                .iter()
                .map(|o| o.organization().name)
                .collect()
        };
        assert_eq!(names(&one, &Access::default()), ["acme"]);
        let two = Settings {
            organization_urls: vec![
                "https://dev.azure.com/acme".into(),
                "https://labs.visualstudio.com".into(),
            ],
            ..Settings::default()
        };
        assert_eq!(names(&two, &Access::default()), ["acme", "labs"]);
        let env = Access {
            ado_org_url: Some(" https://dev.azure.com/a , https://dev.azure.com/b,".into()),
            ..Access::default()
        };
        assert_eq!(names(&two, &env), ["a", "b"]);
        let twice = Access {
            ado_org_url: Some("https://dev.azure.com/a,https://a.visualstudio.com".into()),
            ..Access::default()
        };
        assert!(matches!(
            organizations(&one, &twice),
            Err(Error::DuplicateOrganization(_))
        ));
        assert!(matches!(
            organizations(&Settings::default(), &Access::default()),
            Err(Error::NoOrganization)
        ));
    }

    #[test]
    fn the_pat_wins_over_a_service_principal_and_neither_is_an_error_naming_both() {
        let principal =
            ServicePrincipalConfig::new("tenant", "open-test-client", "open-test-secret");
        let both = Access {
            ado_pat: Some(Pat::new("open-test-pat-0001")),
            ado_service_principal: Some(principal.clone()),
            ..Access::default()
        };
        assert!(matches!(credential(&both), Ok(Credential::Pat(_))));
        let entra = Access {
            ado_service_principal: Some(principal),
            ..Access::default()
        };
        assert!(matches!(
            credential(&entra),
            Ok(Credential::ServicePrincipal(_))
        ));
        let err = credential(&Access::default()).unwrap_err().to_string();
        assert!(
            err.contains("AZURE_DEVOPS_PAT") && err.contains("AZURE_CLIENT_SECRET"),
            "{err}"
        );
        assert!(!format!("{entra:?}").contains("open-test-secret"));
    }

    #[test]
    fn the_port_target_without_credentials_says_which_variables_to_set() {
        let err = catalog(
            &TargetSpec {
                target: Some("port".into()),
                datasource: None,
            },
            &Settings::default(),
            &Access::default(),
            OpenMode::ReadOnly,
        )
        .err()
        .expect("an error");
        assert!(err.to_string().contains("PORT_CLIENT_ID"), "{err}");
    }
}
