//! `[mllp]`: the MLLP listener's address, limits and TLS, as configured ([`MllpSettings`]) and as the
//! listener runs with them ([`MllpConfig`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MllpSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub max_message_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout_secs: u64,
    /// A message must arrive whole within this from its first byte (a sender trickling bytes cannot
    /// hold a frame open), and a TLS handshake within it too.
    pub frame_timeout_secs: u64,
    /// Most connections held at once; one more is closed at once.
    pub max_connections: usize,
    /// Most message checks at once; 0 for one per core.
    pub max_concurrent_checks: usize,
    /// MLLP over TLS: the listener's certificate chain and private key (PEM).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS (IHE ATNA's node authentication): only gateways with a certificate from this CA
    /// connect. Required for any address but loopback.
    pub client_ca: Option<PathBuf>,
}

impl Default for MllpSettings {
    fn default() -> Self {
        MllpSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 2575)),
            max_message_bytes: 1024 * 1024,
            idle_timeout_secs: 300,
            frame_timeout_secs: 60,
            max_connections: 64,
            max_concurrent_checks: 0,
            tls_cert: None,
            tls_key: None,
            client_ca: None,
        }
    }
}

impl MllpSettings {
    /// What a configuration must not say: an open address without mutual TLS (MLLP has no
    /// authentication of its own), TLS files that do not go together.
    pub fn check(&self) -> Result<(), String> {
        if self.enabled && !self.listen.ip().is_loopback() && self.client_ca.is_none() {
            return Err(format!(
                "mllp.listen is {}: MLLP itself has no authentication, so beyond loopback it needs mutual TLS \
                 (mllp.tls_cert, mllp.tls_key, mllp.client_ca)",
                self.listen
            ));
        }
        crate::tls::check_listener_files("mllp", &self.tls_cert, &self.tls_key, &self.client_ca)
    }

    /// The listener's limits, with its TLS files read.
    pub fn resolve(&self) -> Result<MllpConfig, String> {
        if self.max_connections == 0 {
            return Err("mllp.max_connections must be at least 1".into());
        }
        Ok(MllpConfig {
            max_message_bytes: self.max_message_bytes,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            frame_timeout: Duration::from_secs(self.frame_timeout_secs.max(1)),
            max_connections: self.max_connections,
            max_concurrent_checks: self.max_concurrent_checks,
            tls: crate::tls::server_config(
                self.tls_cert.as_deref(),
                self.tls_key.as_deref(),
                self.client_ca.as_deref(),
                &[],
            )?,
        })
    }
}

/// Listener limits, and TLS.
#[derive(Debug, Clone)]
pub struct MllpConfig {
    /// The largest message accepted; a larger one is answered `AR` and the connection closed.
    pub max_message_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A frame (and a TLS handshake) must complete within this from its first byte.
    pub frame_timeout: Duration,
    pub max_connections: usize,
    /// 0 for one per core.
    pub max_concurrent_checks: usize,
    /// MLLP over TLS (with a client CA in it, mutual TLS); `None` for plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for MllpConfig {
    fn default() -> Self {
        MllpConfig {
            max_message_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(60),
            max_connections: 64,
            max_concurrent_checks: 0,
            tls: None,
        }
    }
}
