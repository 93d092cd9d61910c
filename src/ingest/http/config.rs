//! `[http]`: the HTTP listener's address, limits, gateway tokens and TLS.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Largest request body accepted (413 above it, before any of it is read when the request
    /// declares its length).
    pub max_body_bytes: usize,
    /// Most connections held at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// A request's headers (and a TLS handshake) must arrive within this; an idle keep-alive
    /// connection is closed after it.
    pub header_timeout_secs: u64,
    /// A request's body must arrive within this (408 otherwise).
    pub body_timeout_secs: u64,
    /// Most bytes of request bodies read or held at once (each request reserves its declared length,
    /// or `max_body_bytes`); a request that cannot reserve within `body_timeout_secs` is answered 503.
    pub max_buffered_bytes: usize,
    /// Most payload checks at once; 0 for one per core. A check of a 1 MiB HL7 v2 message holds up
    /// to about 20 MiB.
    pub max_concurrent_checks: usize,
    /// Gateways allowed to post, each with the SHA-256 (hex) of its bearer token. With none configured
    /// (and no `client_ca`) the listener must be on loopback and takes unauthenticated requests.
    pub gateways: Vec<GatewayToken>,
    /// HTTPS: the server's certificate chain and private key (PEM).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: only clients with a certificate issued by this CA (PEM) may connect.
    pub client_ca: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            max_connections: 256,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_buffered_bytes: 32 * 1024 * 1024,
            max_concurrent_checks: 0,
            gateways: Vec::new(),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
        }
    }
}

/// One gateway's credentials. Only the token's hash is stored: `printf %s TOKEN | sha256sum`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayToken {
    pub id: String,
    pub token_sha256: String,
}

impl HttpConfig {
    /// The gateway whose token this is, if any.
    pub fn gateway_for_token(&self, token: &str) -> Option<&GatewayToken> {
        let digest = hex::encode(Sha256::digest(token.as_bytes()));
        self.gateways
            .iter()
            .find(|gateway| gateway.token_sha256.eq_ignore_ascii_case(&digest))
    }

    /// What a configuration must not say: an open address without authentication, TLS files that do
    /// not go together, a token hash that is not one.
    pub fn check(&self) -> Result<(), String> {
        let authenticated = !self.gateways.is_empty() || self.client_ca.is_some();
        if self.enabled && !self.listen.ip().is_loopback() && !authenticated {
            return Err(format!(
                "http.listen is {}, which is not loopback, and neither gateway tokens (http.gateways) nor \
                 mutual TLS (http.client_ca) are configured: the bridge accepts unauthenticated requests on \
                 loopback only",
                self.listen
            ));
        }
        if self.max_buffered_bytes < self.max_body_bytes {
            return Err("http.max_buffered_bytes must be at least http.max_body_bytes".into());
        }
        if self.max_connections == 0 {
            return Err("http.max_connections must be at least 1".into());
        }
        crate::tls::check_listener_files("http", &self.tls_cert, &self.tls_key, &self.client_ca)?;
        for gateway in &self.gateways {
            if gateway.token_sha256.len() != 64 || hex::decode(&gateway.token_sha256).is_err() {
                return Err(format!(
                    "http.gateways: the token_sha256 of gateway {:?} is not 64 hex digits",
                    gateway.id
                ));
            }
        }
        Ok(())
    }
}
