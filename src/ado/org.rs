//! Organization URLs and the service hosts derived from them.
//!
//! ADO serves one organization from several hosts: the core API, `vsrm.` (classic
//! releases), `vssps.` (graph), `vsaex.` (user entitlements) and `advsec.` (Advanced
//! Security). Where each lives depends on the URL form:
//!
//! | organization URL | service `sub` |
//! |---|---|
//! | `https://dev.azure.com/{org}` | `https://{sub}.dev.azure.com/{org}` |
//! | `https://{org}.visualstudio.com` | `https://{org}.{sub}.visualstudio.com` (Advanced Security: `https://advsec.dev.azure.com/{org}`) |
//! | on-premises `https://host/tfs/Collection` | the collection URL itself, for every service |
//! | loopback `http://127.0.0.1:PORT/{org}` (tests) | `http://127.0.0.1:PORT/{sub}/{org}`, so one fake server serves every host |
//!
//! Port's integration derives Advanced Security by replacing `dev.` in the URL, which
//! does nothing for `*.visualstudio.com` and mangles organizations whose name contains
//! `dev.`; here each form is parsed, not patched.

use std::fmt;

use url::Url;

/// Errors parsing an organization URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not an absolute URL.
    #[error("{0:?} is not a valid organization URL")]
    Invalid(String, #[source] url::ParseError),
    /// The URL is not `http`/`https`, carries credentials, a query or a fragment.
    #[error(
        "{0:?} is not an organization URL (expected https://dev.azure.com/ORG, https://ORG.visualstudio.com or https://HOST/COLLECTION)"
    )]
    Unsupported(String),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An ADO service host family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// The core API (projects, git, builds, work items, boards).
    Core,
    /// `vsrm.`: classic release management.
    Release,
    /// `vssps.`: graph users, groups and memberships.
    Graph,
    /// `vsaex.`: user entitlements.
    Entitlements,
    /// `advsec.`: Advanced Security alerts.
    AdvancedSecurity,
}

impl Service {
    /// The host label ADO uses for the service (`None` for the core API).
    #[must_use]
    pub fn subdomain(self) -> Option<&'static str> {
        match self {
            Service::Core => None,
            Service::Release => Some("vsrm"),
            Service::Graph => Some("vssps"),
            Service::Entitlements => Some("vsaex"),
            Service::AdvancedSecurity => Some("advsec"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Form {
    DevAzure,
    VisualStudio,
    OnPremises,
    Loopback,
}

/// A parsed organization (or on-premises collection) URL.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgUrl {
    base: String,
    name: String,
    form: Form,
    scheme_host: String,
}

impl fmt::Debug for OrgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OrgUrl").field(&self.base).finish()
    }
}

impl fmt::Display for OrgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl OrgUrl {
    /// Parses any supported form; a trailing `/` is dropped.
    pub fn parse(text: &str) -> Result<Self> {
        let trimmed = text.trim().trim_end_matches('/');
        let url = Url::parse(trimmed).map_err(|e| Error::Invalid(text.to_owned(), e))?;
        let ok_scheme = matches!(url.scheme(), "http" | "https");
        if !ok_scheme
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(Error::Unsupported(text.to_owned()));
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Err(Error::Unsupported(text.to_owned()));
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let scheme_host = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        let base = if segments.is_empty() {
            scheme_host.clone()
        } else {
            format!("{scheme_host}/{}", segments.join("/"))
        };
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
        let (form, name) = if host == "dev.azure.com" {
            match segments.as_slice() {
                [org] => (Form::DevAzure, (*org).to_owned()),
                _ => return Err(Error::Unsupported(text.to_owned())),
            }
        } else if let Some(org) = host.strip_suffix(".visualstudio.com") {
            if org.contains('.') || org.is_empty() {
                return Err(Error::Unsupported(text.to_owned()));
            }
            // `https://org.visualstudio.com/DefaultCollection` is the same organization.
            (Form::VisualStudio, org.to_owned())
        } else if loopback {
            match segments.as_slice() {
                [org] => (Form::Loopback, (*org).to_owned()),
                _ => return Err(Error::Unsupported(text.to_owned())),
            }
        } else {
            let name = segments
                .last()
                .map_or_else(|| host.clone(), |s| (*s).to_owned());
            (Form::OnPremises, name)
        };
        Ok(OrgUrl {
            base,
            name,
            form,
            scheme_host,
        })
    }

    /// The organization URL as given (normalized, no trailing `/`): `__organizationUrl`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// The organization (or collection) name, as service hosts use it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The organization as its items name it (`__organizationUrl`, `__organizationName`).
    ///
    /// The name is Port's: the path's first segment on `dev.azure.com` (and on the loopback
    /// form that stands for it), the host's first label on `visualstudio.com`, and the
    /// whole URL for a server collection, so that mappings written for Port's integration
    /// produce the same identifiers.
    #[must_use]
    pub fn organization(&self) -> crate::ado::source::Organization {
        let name = match self.form {
            Form::OnPremises => self.base.clone(),
            Form::DevAzure | Form::VisualStudio | Form::Loopback => self.name.clone(),
        };
        crate::ado::source::Organization {
            url: self.base.clone(),
            name,
        }
    }

    /// The base URL of `service` for this organization, without a trailing `/`.
    #[must_use]
    pub fn service_base(&self, service: Service) -> String {
        let Some(sub) = service.subdomain() else {
            return self.base.clone();
        };
        let org = &self.name;
        match self.form {
            Form::DevAzure => format!("https://{sub}.dev.azure.com/{org}"),
            Form::VisualStudio if service == Service::AdvancedSecurity => {
                format!("https://advsec.dev.azure.com/{org}")
            }
            Form::VisualStudio => format!("https://{org}.{sub}.visualstudio.com"),
            Form::OnPremises => self.base.clone(),
            Form::Loopback => format!("{}/{sub}/{org}", self.scheme_host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str, service: Service) -> String {
        OrgUrl::parse(url).unwrap().service_base(service)
    }

    #[test]
    fn dev_azure_com_services_live_on_subdomains() {
        let org = "https://dev.azure.com/acme/";
        assert_eq!(base(org, Service::Core), "https://dev.azure.com/acme");
        assert_eq!(
            base(org, Service::Release),
            "https://vsrm.dev.azure.com/acme"
        );
        assert_eq!(
            base(org, Service::Graph),
            "https://vssps.dev.azure.com/acme"
        );
        assert_eq!(
            base(org, Service::Entitlements),
            "https://vsaex.dev.azure.com/acme"
        );
        assert_eq!(
            base(org, Service::AdvancedSecurity),
            "https://advsec.dev.azure.com/acme"
        );
        assert_eq!(OrgUrl::parse(org).unwrap().name(), "acme");
    }

    #[test]
    fn visualstudio_com_services_insert_the_label_after_the_org() {
        let org = "https://acme.visualstudio.com";
        assert_eq!(base(org, Service::Core), "https://acme.visualstudio.com");
        assert_eq!(
            base(org, Service::Release),
            "https://acme.vsrm.visualstudio.com"
        );
        assert_eq!(
            base(org, Service::Graph),
            "https://acme.vssps.visualstudio.com"
        );
        assert_eq!(
            base(org, Service::Entitlements),
            "https://acme.vsaex.visualstudio.com"
        );
        assert_eq!(
            base(org, Service::AdvancedSecurity),
            "https://advsec.dev.azure.com/acme"
        );
        assert_eq!(OrgUrl::parse(org).unwrap().name(), "acme");
        assert_eq!(
            OrgUrl::parse("https://acme.visualstudio.com/DefaultCollection/")
                .unwrap()
                .organization(),
            crate::ado::source::Organization {
                url: "https://acme.visualstudio.com/DefaultCollection".into(),
                name: "acme".into(),
            }
        );
    }

    #[test]
    fn an_org_named_like_a_host_is_not_mangled() {
        let org = "https://dev.azure.com/dev.team";
        assert_eq!(
            base(org, Service::AdvancedSecurity),
            "https://advsec.dev.azure.com/dev.team"
        );
    }

    #[test]
    fn on_premises_collections_serve_every_service_themselves() {
        let org = "https://tfs.example.com/tfs/DefaultCollection";
        for service in [
            Service::Core,
            Service::Release,
            Service::Graph,
            Service::Entitlements,
        ] {
            assert_eq!(
                base(org, service),
                "https://tfs.example.com/tfs/DefaultCollection"
            );
        }
        assert_eq!(OrgUrl::parse(org).unwrap().name(), "DefaultCollection");
        // Port names a server collection by its whole URL.
        assert_eq!(
            OrgUrl::parse(org).unwrap().organization().name,
            "https://tfs.example.com/tfs/DefaultCollection"
        );
        let with_port = "http://ado-server:8080/tfs/Main";
        assert_eq!(
            base(with_port, Service::Release),
            "http://ado-server:8080/tfs/Main"
        );
    }

    #[test]
    fn loopback_orgs_map_every_service_back_to_the_same_server() {
        let org = "http://127.0.0.1:4100/acme";
        assert_eq!(base(org, Service::Core), "http://127.0.0.1:4100/acme");
        assert_eq!(
            base(org, Service::Release),
            "http://127.0.0.1:4100/vsrm/acme"
        );
        assert_eq!(
            base(org, Service::AdvancedSecurity),
            "http://127.0.0.1:4100/advsec/acme"
        );
    }

    #[test]
    fn urls_with_credentials_or_queries_are_refused() {
        assert!(OrgUrl::parse("https://user:pw@dev.azure.com/acme").is_err());
        assert!(OrgUrl::parse("https://dev.azure.com/acme?x=1").is_err());
        assert!(OrgUrl::parse("https://dev.azure.com").is_err());
        assert!(OrgUrl::parse("ftp://dev.azure.com/acme").is_err());
        assert!(OrgUrl::parse("not a url").is_err());
    }
}
