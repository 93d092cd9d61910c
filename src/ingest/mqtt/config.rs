//! `[mqtt]`: the broker, the bridge's session, and the topics it subscribes to with the adapter of
//! each.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::adapters::AdapterKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// Must be unique per bridge instance: the broker keeps the persistent session under it.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Connect with TLS, trusting `ca_file` (PEM) or, without it, the system's roots.
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub keep_alive_secs: u64,
    /// A larger message is kept in the dead-letter store instead of being stored for delivery.
    pub max_payload_bytes: usize,
    pub subscriptions: Vec<MqttSubscription>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: default_client_id(),
            username: None,
            password: None,
            tls: false,
            ca_file: None,
            keep_alive_secs: 30,
            max_payload_bytes: 1024 * 1024,
            subscriptions: vec![MqttSubscription {
                filter: "$share/fhirgate/hubs/+/ble".into(),
                adapter: AdapterKind::Ble,
            }],
        }
    }
}

/// `fhirgate-<host name>`: instances on different machines get different sessions without
/// configuration (two clients with one id knock each other off the broker).
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty());
    match host {
        Some(host) => format!("fhirgate-{host}"),
        None => "fhirgate".into(),
    }
}

/// A topic filter and the adapter that parses what arrives on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSubscription {
    pub filter: String,
    pub adapter: AdapterKind,
}
