//! `[fhir]`: the FHIR server delivery posts to, how it authenticates, and how the deliverer batches
//! and retries.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FhirConfig {
    /// The FHIR server's base URL (e.g. `https://ehr.example.org/fhir`). Without one, resources are
    /// delivered into the embedded NDJSON destination (`files_dir`).
    pub base_url: Option<String>,
    /// Where the embedded destination writes its NDJSON files when no `base_url` is set; default
    /// `fhir` under `store.data_dir`.
    pub files_dir: Option<PathBuf>,
    pub auth: FhirAuth,
    /// Most stored payloads sent in one transaction Bundle.
    pub batch_size: usize,
    /// How long to wait for a batch to fill before sending what there is.
    pub linger_ms: u64,
    pub timeout_secs: u64,
    /// First retry delay; doubled on each failure up to `max_backoff_secs`, with jitter.
    pub initial_backoff_ms: u64,
    pub max_backoff_secs: u64,
    /// While a retry waits longer than this (and the server gave no `Retry-After`), the server is asked
    /// every so often whether it answers again (`GET [base]/metadata?_summary=true`), and delivery
    /// resumes as soon as it does; 0 never asks.
    pub probe_interval_ms: u64,
    /// Look each patient up by identifier (`Patient?identifier=`) and reference the one found as
    /// `Patient/{id}`; without a unique match the reading keeps its reference by identifier.
    pub resolve_patients: bool,
}

impl Default for FhirConfig {
    fn default() -> Self {
        FhirConfig {
            base_url: None,
            files_dir: None,
            auth: FhirAuth::None,
            batch_size: 50,
            linger_ms: 50,
            timeout_secs: 30,
            initial_backoff_ms: 500,
            max_backoff_secs: 60,
            probe_interval_ms: 2000,
            resolve_patients: true,
        }
    }
}

impl FhirConfig {
    /// The embedded destination's directory, for a store in `data_dir`.
    pub fn files_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.files_dir.clone().unwrap_or_else(|| data_dir.join("fhir"))
    }

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

impl FhirConfig {
    /// What a configuration must not say: an empty batch, a backoff that would spin, a SMART key
    /// algorithm SMART does not allow, a base URL that is not HTTP(S).
    pub fn check(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("fhir.batch_size must be at least 1".into());
        }
        if self.initial_backoff_ms < 10 || self.timeout_secs == 0 {
            return Err("fhir.initial_backoff_ms must be at least 10 and fhir.timeout_secs at least 1".into());
        }
        if let FhirAuth::Smart(smart) = &self.auth {
            if !matches!(smart.algorithm.as_str(), "RS384" | "ES384") {
                return Err(format!(
                    "fhir.auth.algorithm must be RS384 or ES384 (SMART Backend Services), not {:?}",
                    smart.algorithm
                ));
            }
        }
        if let Some(url) = &self.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                // Not the URL itself: it may carry credentials (`https://user:password@host`).
                return Err("fhir.base_url must be an http(s) URL".into());
            }
        }
        Ok(())
    }
}
