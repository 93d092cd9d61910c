//! The configuration of `fhirgate serve`: built-in defaults, then a TOML file (`--config`), then
//! environment variables `FHIRGATE_<SECTION>__<KEY>` (double underscore between section and key, e.g.
//! `FHIRGATE_FHIR__BASE_URL`), each overriding the one before. Unknown keys in the file are errors, so a
//! typo does not silently leave a default in place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::pipeline::AdapterName;

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
    pub http: HttpConfig,
    pub mllp: MllpSettings,
    pub mqtt: MqttConfig,
    pub fhir: FhirConfig,
    pub mapping: MappingConfig,
    pub medtech: MedtechConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the embedded store (outbox and dead letters).
    pub data_dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("data"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MllpSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub max_message_bytes: usize,
    pub idle_timeout_secs: u64,
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
            tls_cert: None,
            tls_key: None,
            client_ca: None,
        }
    }
}

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
                adapter: AdapterName::Ble,
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
    pub adapter: AdapterName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FhirConfig {
    /// The FHIR server's base URL (e.g. `https://ehr.example.org/fhir`). Without one, readings are
    /// accepted and stored, and wait.
    pub base_url: Option<String>,
    pub auth: FhirAuth,
    /// Most stored payloads sent in one transaction Bundle.
    pub batch_size: usize,
    /// How long to wait for a batch to fill before sending what there is.
    pub linger_ms: u64,
    pub timeout_secs: u64,
    /// First retry delay; doubled on each failure up to `max_backoff_secs`, with jitter.
    pub initial_backoff_ms: u64,
    pub max_backoff_secs: u64,
    /// Look each patient up by identifier (`Patient?identifier=`) and reference the one found as
    /// `Patient/{id}`; without a unique match the reading keeps its reference by identifier.
    pub resolve_patients: bool,
}

impl Default for FhirConfig {
    fn default() -> Self {
        FhirConfig {
            base_url: None,
            auth: FhirAuth::None,
            batch_size: 50,
            linger_ms: 50,
            timeout_secs: 30,
            initial_backoff_ms: 500,
            max_backoff_secs: 60,
            resolve_patients: true,
        }
    }
}

impl FhirConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// How the bridge authenticates to the FHIR server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FhirAuth {
    None,
    /// A static bearer token.
    Bearer {
        token: String,
    },
    /// SMART Backend Services: client credentials with a signed JWT assertion.
    Smart(SmartSettings),
}

/// SMART Backend Services (client credentials grant, `private_key_jwt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmartSettings {
    /// The authorization server's token endpoint.
    pub token_url: String,
    /// The client id registered with the EHR; also the assertion's `iss` and `sub`.
    pub client_id: String,
    /// The private key (PKCS#8 PEM; RSA for RS384, P-384 for ES384) whose public half the EHR holds.
    pub key_file: PathBuf,
    /// `RS384` or `ES384`.
    pub algorithm: String,
    /// The key id (`kid`) in the JWKS the EHR holds, if it needs one.
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default = "default_smart_scope")]
    pub scope: String,
}

fn default_smart_scope() -> String {
    "system/Observation.write system/Device.write system/Patient.read".into()
}

/// Azure MedTech templates the `medtech` adapter runs (README, "Azure MedTech templates").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedtechConfig {
    /// The device mapping (`CollectionContent` JSON), unchanged from MedTech.
    pub device_mapping: Option<PathBuf>,
    /// The FHIR destination mapping (`CollectionFhir` JSON), unchanged from MedTech.
    pub fhir_mapping: Option<PathBuf>,
    /// MedTech's resolution type: `create` (make the Patient and Device when missing) or `lookup`
    /// (the Device must exist, and its `patient` names the patient).
    pub identity: IdentityMode,
    /// The identifier system of device ids (MedTech's default device identifier system); unset: none.
    pub device_identifier_system: Option<String>,
}

/// MedTech's resolution type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    #[default]
    Create,
    Lookup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// UTC offset of device-local times when the payload states none.
    pub default_utc_offset: String,
    pub gateway_id_system: String,
    /// Device↔patient associations (JSON file).
    pub associations: Option<PathBuf>,
    /// Vendor mapping files (a file or directory) for the `json` adapter. Unset: `./mappings` when it
    /// exists.
    pub vendor_mappings: Option<PathBuf>,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            default_utc_offset: "+00:00".into(),
            gateway_id_system: crate::mapping::DEFAULT_GATEWAY_ID_SYSTEM.into(),
            associations: None,
            vendor_mappings: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter (`info`, `fhirgate=debug`); `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `FHIRGATE_<SECTION>__<KEY>` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::figment(file, Env::prefixed("FHIRGATE_"))
    }

    fn figment(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!("{}: no such file", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only sectioned variables: the `map` command's FHIRGATE_DEFAULT_UTC_OFFSET and the like are not
        // configuration of the server.
        let env = env.split("__").filter(|key| key.as_str().contains('.'));
        let config: Config = figment.merge(env).extract().map_err(|e| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let authenticated = !self.http.gateways.is_empty() || self.http.client_ca.is_some();
        if self.http.enabled && !self.http.listen.ip().is_loopback() && !authenticated {
            return Err(ConfigError(format!(
                "http.listen is {}, which is not loopback, and neither gateway tokens (http.gateways) nor \
                 mutual TLS (http.client_ca) are configured: the bridge accepts unauthenticated requests on \
                 loopback only",
                self.http.listen
            )));
        }
        check_tls("http", &self.http.tls_cert, &self.http.tls_key, &self.http.client_ca)?;
        if self.mllp.enabled && !self.mllp.listen.ip().is_loopback() && self.mllp.client_ca.is_none() {
            return Err(ConfigError(format!(
                "mllp.listen is {}: MLLP itself has no authentication, so beyond loopback it needs mutual TLS \
                 (mllp.tls_cert, mllp.tls_key, mllp.client_ca)",
                self.mllp.listen
            )));
        }
        check_tls("mllp", &self.mllp.tls_cert, &self.mllp.tls_key, &self.mllp.client_ca)?;
        for gateway in &self.http.gateways {
            if gateway.token_sha256.len() != 64 || hex::decode(&gateway.token_sha256).is_err() {
                return Err(ConfigError(format!(
                    "http.gateways: the token_sha256 of gateway {:?} is not 64 hex digits",
                    gateway.id
                )));
            }
        }
        crate::adapters::ble::envelope::parse_utc_offset(&self.mapping.default_utc_offset)
            .map_err(|e| ConfigError(format!("mapping.default_utc_offset: {e}")))?;
        if self.fhir.batch_size == 0 {
            return Err(ConfigError("fhir.batch_size must be at least 1".into()));
        }
        if self.fhir.initial_backoff_ms < 10 || self.fhir.timeout_secs == 0 {
            return Err(ConfigError(
                "fhir.initial_backoff_ms must be at least 10 and fhir.timeout_secs at least 1".into(),
            ));
        }
        if let FhirAuth::Smart(smart) = &self.fhir.auth {
            if !matches!(smart.algorithm.as_str(), "RS384" | "ES384") {
                return Err(ConfigError(format!(
                    "fhir.auth.algorithm must be RS384 or ES384 (SMART Backend Services), not {:?}",
                    smart.algorithm
                )));
            }
        }
        if let Some(url) = &self.fhir.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "fhir.base_url must be an http(s) URL, not {url:?}"
                )));
            }
        }
        Ok(())
    }
}

/// A listener's TLS files: certificate and key together, and a client CA only with them.
fn check_tls(
    section: &str,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
    client_ca: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    if cert.is_some() != key.is_some() {
        return Err(ConfigError(format!(
            "{section}.tls_cert and {section}.tls_key go together"
        )));
    }
    if client_ca.is_some() && cert.is_none() {
        return Err(ConfigError(format!(
            "{section}.client_ca (mutual TLS) needs {section}.tls_cert and {section}.tls_key"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fhirgate-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn defaults_are_loopback_with_a_local_store() {
        let config = Config::figment(None, Env::prefixed("FHIRGATE_TEST_NONE_")).unwrap();
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.mllp.listen.to_string(), "127.0.0.1:2575");
        assert_eq!(config.store.data_dir, PathBuf::from("data"));
        assert!(!config.mqtt.enabled);
        assert_eq!(config.fhir.base_url, None);
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let file = temp_file(
            "layers.toml",
            "[fhir]\nbase_url = \"http://127.0.0.1:9000/fhir\"\nbatch_size = 7\n\n\
             [fhir.auth]\nkind = \"bearer\"\ntoken = \"abc\"\n\n\
             [[mqtt.subscriptions]]\nfilter = \"wards/+/pumps\"\nadapter = \"hl7v2\"\n",
        );
        std::env::set_var("FHIRGATE_TEST_LAYERS_FHIR__BATCH_SIZE", "9");
        std::env::set_var("FHIRGATE_TEST_LAYERS_STORE__DATA_DIR", "/var/lib/fhirgate");
        std::env::set_var("FHIRGATE_TEST_LAYERS_DEFAULT_UTC_OFFSET", "+01:00");
        let config = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_LAYERS_")).unwrap();
        assert_eq!(config.fhir.base_url.as_deref(), Some("http://127.0.0.1:9000/fhir"));
        assert_eq!(config.fhir.batch_size, 9, "the environment wins over the file");
        assert_eq!(config.fhir.auth, FhirAuth::Bearer { token: "abc".into() });
        assert_eq!(config.store.data_dir, PathBuf::from("/var/lib/fhirgate"));
        assert_eq!(config.fhir.linger_ms, 50, "untouched settings keep their defaults");
        assert_eq!(
            config.mqtt.subscriptions,
            vec![MqttSubscription {
                filter: "wards/+/pumps".into(),
                adapter: AdapterName::Hl7v2
            }]
        );
    }

    #[test]
    fn smart_backend_services_settings_are_read_with_their_kind() {
        let file = temp_file(
            "smart.toml",
            "[fhir.auth]\nkind = \"smart\"\ntoken_url = \"https://auth.example.org/token\"\n\
             client_id = \"fhirgate\"\nkey_file = \"/etc/fhirgate/key.pem\"\nalgorithm = \"ES384\"\n",
        );
        let config = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_SMART_")).unwrap();
        let FhirAuth::Smart(smart) = config.fhir.auth else {
            panic!("not smart: {:?}", config.fhir.auth)
        };
        assert_eq!(smart.algorithm, "ES384");
        assert_eq!(smart.kid, None);
        assert!(smart.scope.contains("system/Observation.write"));
        let file = temp_file(
            "smart-hs.toml",
            "[fhir.auth]\nkind = \"smart\"\ntoken_url = \"x\"\nclient_id = \"x\"\nkey_file = \"k\"\nalgorithm = \"HS256\"\n",
        );
        let error = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_SMARTHS_")).unwrap_err();
        assert!(error.0.contains("RS384 or ES384"), "{error}");
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_naming_the_key() {
        let file = temp_file("typo.toml", "[fhir]\nbase_ur = \"http://x\"\n");
        let error = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_TYPO_")).unwrap_err();
        assert!(error.0.contains("base_ur"), "{error}");
    }

    #[test]
    fn open_listeners_without_tokens_are_refused() {
        let file = temp_file("open.toml", "[http]\nlisten = \"0.0.0.0:8080\"\n");
        let error = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_OPEN_")).unwrap_err();
        assert!(error.0.contains("not loopback"), "{error}");
        let file = temp_file(
            "tokens.toml",
            &format!(
                "[http]\nlisten = \"0.0.0.0:8080\"\n[[http.gateways]]\nid = \"hub-7\"\ntoken_sha256 = \"{}\"\n",
                hex::encode(Sha256::digest(b"s3cret"))
            ),
        );
        let config = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_TOKENS_")).unwrap();
        assert_eq!(
            config.http.gateway_for_token("s3cret").map(|g| g.id.as_str()),
            Some("hub-7")
        );
        assert_eq!(config.http.gateway_for_token("s3cret "), None);
    }
}
