//! TLS to the brokers: the same rustls as rskafka, with its ring provider.

use std::sync::Arc;

use crate::error::KafkaError;

/// TLS with the Mozilla root store (Amazon Trust Services signs MSK's certificates), plus the
/// authorities in `ca_file` when one is given.
/// Settings that cannot work are [`KafkaError::Refused`]: no retry reads a CA file better.
pub fn tls_config(
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, KafkaError> {
    let refused = |e: &dyn std::fmt::Display| KafkaError::Refused(format!("tls: {e}"));
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = ca_file {
        let in_file = |e: &dyn std::fmt::Display| refused(&format!("{}: {e}", file.display()));
        let certs = CertificateDer::pem_file_iter(file).map_err(|e| in_file(&e))?;
        for cert in certs {
            let cert = cert.map_err(|e| in_file(&e))?;
            roots.add(cert).map_err(|e| in_file(&e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| refused(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_config_builds_with_the_ring_provider() {
        assert!(tls_config(None).is_ok());
        let missing = tls_config(Some(std::path::Path::new("/nonexistent/ca.pem")));
        assert!(missing.is_err_and(|e| e.to_string().contains("/nonexistent/ca.pem")));
    }
}
