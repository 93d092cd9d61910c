//! SMART Backend Services authorization (HL7 SMART App Launch 2.x, "Backend Services"): the bridge
//! proves who it is with a short-lived JWT signed by its private key (RS384 or ES384), trades it at the
//! token endpoint for an access token (client credentials grant), and reuses that token until shortly
//! before it expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::delivery::config::SmartSettings;

/// Fetch a new token this long before the old one expires, so none is used at its last second.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Lifetime of an assertion; the specification allows at most five minutes.
const ASSERTION_LIFETIME_SECS: u64 = 300;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

pub struct SmartAuth {
    settings: SmartSettings,
    key: EncodingKey,
    algorithm: Algorithm,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl SmartAuth {
    /// Reads the private key; fails at start on a missing or unusable key.
    pub fn new(settings: &SmartSettings, http: reqwest::Client) -> Result<SmartAuth, String> {
        let pem = std::fs::read(&settings.key_file)
            .map_err(|e| format!("fhir.auth.key_file {}: {e}", settings.key_file.display()))?;
        let (algorithm, key) = match settings.algorithm.as_str() {
            "RS384" => (Algorithm::RS384, EncodingKey::from_rsa_pem(&pem)),
            "ES384" => (Algorithm::ES384, EncodingKey::from_ec_pem(&pem)),
            other => return Err(format!("fhir.auth.algorithm {other:?}: use RS384 or ES384")),
        };
        let key = key.map_err(|e| {
            format!(
                "fhir.auth.key_file {}: not a {} private key in PEM: {e}",
                settings.key_file.display(),
                settings.algorithm
            )
        })?;
        let auth = SmartAuth {
            settings: settings.clone(),
            key,
            algorithm,
            http,
            cached: Mutex::new(None),
        };
        // Sign once now, so a key that cannot sign (wrong curve, say) fails at start, not at delivery.
        auth.assertion()?;
        Ok(auth)
    }

    /// The signed client assertion.
    fn assertion(&self) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let mut header = Header::new(self.algorithm);
        header.typ = Some("JWT".into());
        header.kid = self.settings.kid.clone();
        let claims = Claims {
            iss: &self.settings.client_id,
            sub: &self.settings.client_id,
            aud: &self.settings.token_url,
            exp: now + ASSERTION_LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| format!("cannot sign the assertion: {e}"))
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn token(&self) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref() {
            if Instant::now() < *valid_until {
                return Ok(token.clone());
            }
        }
        let assertion = self.assertion()?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", self.settings.scope.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        let response = self
            .http
            .post(&self.settings.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token endpoint: {e}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| format!("token endpoint: {e}"))?;
        if !status.is_success() {
            // OAuth error bodies name the error (invalid_client, ...), not secrets.
            return Err(format!("token endpoint answered {status}: {body}"));
        }
        let answer: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| format!("token endpoint: the answer is not a token response: {e}"))?;
        // Without expires_in, keep it five minutes.
        // Capped at a day: a huge `expires_in` must neither overflow nor keep a token forever.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(300).min(86_400));
        let valid_until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        *cached = Some((answer.access_token.clone(), valid_until));
        Ok(answer.access_token)
    }

    /// Forgets the cached token (the FHIR server refused it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
