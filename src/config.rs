//! The configuration of `fhirgate serve`: built-in defaults, then a TOML file (`--config`), then
//! environment variables `FHIRGATE_<SECTION>__<KEY>` (double underscore between section and key, e.g.
//! `FHIRGATE_FHIR__BASE_URL`), each overriding the one before. Unknown keys in the file are errors, so a
//! typo does not silently leave a default in place.

//!
//! Each section's type lives beside the component it configures (`[http]` in `ingest/http/config.rs`,
//! `[fhir]` in `delivery/config.rs`, ...) with the checks of its own rules; this file only assembles
//! them and says which layer wins.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::delivery::config::{FhirAuth, FhirConfig, SmartSettings};
pub use crate::delivery::plan::IdentityMode;
pub use crate::ingest::http::config::{GatewayToken, HttpConfig};
pub use crate::ingest::mllp::config::MllpSettings;
pub use crate::ingest::mqtt::config::{MqttConfig, MqttSubscription};
pub use crate::pipeline::config::MappingConfig;
pub use crate::pipeline::medtech::MedtechConfig;
pub use crate::store::StoreConfig;

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

    /// The configuration a TOML text gives over the defaults (no file, no environment): what a
    /// configuration file says, checked by the same rules.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text));
        let config: Config = figment.extract().map_err(|e| ConfigError(described(e)))?;
        config.check()?;
        Ok(config)
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
        let config: Config = figment.merge(env).extract().map_err(|e| ConfigError(described(e)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.http.check().map_err(ConfigError)?;
        self.mllp.check().map_err(ConfigError)?;
        self.mapping.check().map_err(ConfigError)?;
        self.fhir.check().map_err(ConfigError)?;
        Ok(())
    }
}

/// A line of the source that TOML's parser quotes (`2 | token = …`) or its marker line (`  |   ^`).
fn is_snippet(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('|')
        || line
            .split_once(" |")
            .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
}

/// Figment's errors for people, without the values: figment quotes a wrongly typed value
/// (`found unsigned int `123456``) and TOML's parser the line it stopped in, either of which may be a
/// token or a password. The key, the source and the rule are kept.
fn described(error: figment::Error) -> String {
    use figment::error::{Actual, Kind};
    let kind_of = |actual: &Actual| match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "another kind of value",
    };
    error
        .into_iter()
        .map(|e| {
            let rule = match &e.kind {
                // TOML's parser shows the offending line under its position: keep the position and
                // what it expected, not the line.
                Kind::Message(message) => message
                    .lines()
                    .filter(|line| !is_snippet(line))
                    .collect::<Vec<_>>()
                    .join("; "),
                Kind::InvalidType(actual, expected) => format!("expected {expected}, found {}", kind_of(actual)),
                Kind::InvalidValue(actual, expected) => {
                    format!("invalid {} (value withheld), expected {expected}", kind_of(actual))
                }
                Kind::InvalidLength(length, expected) => format!("{length} items, expected {expected}"),
                Kind::UnknownVariant(_, expected) => format!("not one of {}", expected.join(", ")),
                Kind::UnknownField(field, expected) => {
                    format!("unknown key `{field}`; expected one of {}", expected.join(", "))
                }
                Kind::MissingField(field) => format!("missing key `{field}`"),
                Kind::DuplicateField(field) => format!("`{field}` given twice"),
                Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "an integer out of range".into(),
                Kind::Unsupported(actual) => format!("{} is not supported here", kind_of(actual)),
                Kind::UnsupportedKey(actual, expected) => {
                    format!("{} cannot be a key; keys must be {expected}", kind_of(actual))
                }
            };
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("key `{}`: ", e.path.join("."))
            };
            let source = match &e.metadata {
                Some(metadata) => match &metadata.source {
                    Some(source) => format!(" (in {} {source})", metadata.name),
                    None => format!(" (in {})", metadata.name),
                },
                None => String::new(),
            };
            format!("{key}{rule}{source}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::path::PathBuf;

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
                adapter: crate::adapters::AdapterKind::Hl7v2
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
    fn secrets_never_appear_in_configuration_errors() {
        // An all-digit token where a table was expected, a password where a number was, and a
        // line TOML cannot parse: the key and the rule are said, never the value.
        let cases = [
            (
                "[fhir]\nbase_url = 982734619283\n",
                "fhir.base_url",
                "expected a string, found an integer",
            ),
            (
                "[fhir]\ntimeout_secs = \"hunter2-982734619283\"\n",
                "fhir.timeout_secs",
                "found a string",
            ),
            ("[fhir]\nbase_url = 982734619283abc\n", "line 2", "TOML parse error"),
            ("[mqtt]\npassword = 982734619283\n", "mqtt.password", "expected"),
            (
                "[fhir]\nbase_url = \"ftp://user:982734619283@host\"\n",
                "fhir.base_url",
                "http(s) URL",
            ),
        ];
        for (i, (text, key, rule)) in cases.into_iter().enumerate() {
            let file = temp_file(&format!("secret-{i}.toml"), text);
            let error = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_SECRET_")).unwrap_err();
            let message = error.to_string();
            assert!(
                !message.contains("982734619283") && !message.contains("hunter2"),
                "{message}"
            );
            assert!(message.contains(key) && message.contains(rule), "{message}");
        }
        // From the environment too.
        std::env::set_var("FHIRGATE_TEST_SECRETENV_MQTT__PASSWORD", "[982734619283]");
        let error = Config::figment(None, Env::prefixed("FHIRGATE_TEST_SECRETENV_")).unwrap_err();
        assert!(!error.to_string().contains("982734619283"), "{error}");
        assert!(error.to_string().contains("mqtt.password"), "{error}");
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

    #[test]
    fn the_older_names_of_declarative_mappings_are_still_read() {
        let file = temp_file(
            "aliases.toml",
            "[mapping]\nvendor_mappings = \"vendor-dir\"\n\n[[mqtt.subscriptions]]\nfilter = \"clouds/#\"\nadapter = \"json\"\n",
        );
        let config = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_ALIASES_")).unwrap();
        assert_eq!(config.mapping.declarative_mappings, Some(PathBuf::from("vendor-dir")));
        assert_eq!(
            config.mqtt.subscriptions[0].adapter,
            crate::adapters::AdapterKind::Declarative
        );
        let file = temp_file("new-name.toml", "[mapping]\ndeclarative_mappings = \"dir\"\n");
        let config = Config::figment(Some(&file), Env::prefixed("FHIRGATE_TEST_NEWNAME_")).unwrap();
        assert_eq!(config.mapping.declarative_mappings, Some(PathBuf::from("dir")));
    }
}
