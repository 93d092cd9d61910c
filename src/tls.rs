//! TLS, in one place: the crypto provider every TLS user of the bridge shares (the FHIR client, the
//! MQTT connection, the listeners), and the listeners' server configuration (HTTP, MLLP): the server's
//! certificate and key, and with a client CA mutual TLS, where a client without a certificate from
//! that CA cannot connect. rustls with the ring provider, as everywhere in the bridge.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// reqwest and rumqttc are built without a TLS crypto provider of their own; both use the process
/// default, which is ring (no C toolchain or cmake needed, unlike aws-lc).
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A listener's TLS files (`{section}.tls_cert`, `tls_key`, `client_ca`): certificate and key
/// together, and a client CA only with them.
pub fn check_listener_files(
    section: &str,
    cert: &Option<std::path::PathBuf>,
    key: &Option<std::path::PathBuf>,
    client_ca: &Option<std::path::PathBuf>,
) -> Result<(), String> {
    if cert.is_some() != key.is_some() {
        return Err(format!("{section}.tls_cert and {section}.tls_key go together"));
    }
    if client_ca.is_some() && cert.is_none() {
        return Err(format!(
            "{section}.client_ca (mutual TLS) needs {section}.tls_cert and {section}.tls_key"
        ));
    }
    Ok(())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))
}

/// The server configuration, or `None` when no certificate is configured.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    install_crypto_provider();
    let chain = certificates(cert)?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(ca)? {
                roots
                    .add(certificate)
                    .map_err(|e| format!("{}: not a usable CA certificate: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "{}: the certificate and key do not make a TLS identity: {e}",
            cert.display()
        )
    })?;
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Some(Arc::new(server)))
}
