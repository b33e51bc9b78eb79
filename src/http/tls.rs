//! Which certificate authorities every HTTPS client trusts.
//!
//! reqwest (rustls) verifies servers with the platform verifier, which on Linux reads the
//! system's CA files and refuses to build a client when there are none — as in a `scratch`
//! container image. So every client also trusts the Mozilla root set compiled into the
//! binary (`webpki-root-certs`): the binary needs no CA file, and the system's roots (an
//! internal CA of an on-premises Azure DevOps Server, `SSL_CERT_FILE`) still count.

use std::sync::LazyLock;

/// The bundled Mozilla roots, parsed once.
static BUNDLED: LazyLock<Vec<reqwest::Certificate>> = LazyLock::new(|| {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
        .collect()
});

/// The roots compiled into the binary, as reqwest certificates.
#[must_use]
pub fn bundled_roots() -> Vec<reqwest::Certificate> {
    BUNDLED.clone()
}

/// `builder`, trusting the bundled roots as well as the system's.
pub fn trust_bundled_roots(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder.tls_certs_merge(bundled_roots())
}

/// Transport options for gix's https fetches (its own blocking reqwest client) that trust
/// the bundled roots as well as the system's, on top of the repository's git configuration
/// for `url`.
pub fn git_transport_options(
    repo: &gix::Repository,
    url: &str,
) -> Result<Option<Box<dyn std::any::Any>>, gix::Error> {
    use gix::protocol::transport::client::blocking_io::http;
    use std::sync::{Arc, Mutex};
    let Some(mut options) = repo.transport_options(url, None)? else {
        // Not http(s): nothing to configure.
        return Ok(None);
    };
    if let Some(http) = options.downcast_mut::<http::Options>() {
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(|builder: reqwest::blocking::ClientBuilder| {
                Ok(builder.tls_certs_merge(bundled_roots()))
            })),
            ..Default::default()
        };
        http.backend = Some(Arc::new(Mutex::new(backend)));
    }
    Ok(Some(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_roots_all_parse() {
        let roots = bundled_roots();
        assert!(roots.len() > 100, "only {} roots", roots.len());
        assert_eq!(roots.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }

    #[test]
    fn a_client_builds_with_them() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        trust_bundled_roots(reqwest::Client::builder())
            .build()
            .expect("client with bundled roots");
    }
}
