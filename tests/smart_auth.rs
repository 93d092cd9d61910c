//! SMART Backend Services against a hand-written authorization server and FHIR endpoint: the client
//! assertion is a JWT signed with the configured key (RS384 and ES384), verified here with the public
//! key and its claims checked; the access token is sent to the FHIR server and reused until it expires;
//! a 401 makes the client fetch a new one. The key pairs in `fixtures/smart/` are test keys only.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Router};
use fhirgate::config::{FhirAuth, FhirConfig, SmartSettings};
use fhirgate::delivery::fhir_server::{Answer, FhirClient};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

#[derive(Default)]
struct Seen {
    /// Verified assertions' claims.
    assertions: Vec<serde_json::Value>,
    /// Authorization headers the FHIR endpoint received.
    authorizations: Vec<String>,
    /// How many FHIR requests to refuse with 401 before accepting.
    refuse: usize,
    tokens_issued: usize,
}

struct Fake {
    algorithm: Algorithm,
    public_key: Vec<u8>,
    token_url: String,
    seen: Mutex<Seen>,
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    scope: String,
    client_assertion_type: String,
    client_assertion: String,
}

async fn token(State(fake): State<Arc<Fake>>, Form(request): Form<TokenRequest>) -> (StatusCode, String) {
    let key = match fake.algorithm {
        Algorithm::RS384 => DecodingKey::from_rsa_pem(&fake.public_key).unwrap(),
        _ => DecodingKey::from_ec_pem(&fake.public_key).unwrap(),
    };
    let mut validation = Validation::new(fake.algorithm);
    validation.set_audience(&[&fake.token_url]);
    validation.set_issuer(&["fhirgate-test"]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let decoded = match jsonwebtoken::decode::<serde_json::Value>(&request.client_assertion, &key, &validation) {
        Ok(decoded) => decoded,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("{{\"error\":\"invalid_client\",\"detail\":\"{error}\"}}"),
            )
        }
    };
    assert_eq!(request.grant_type, "client_credentials");
    assert_eq!(
        request.client_assertion_type,
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(
        request.scope,
        "system/Observation.write system/Device.write system/Patient.read"
    );
    assert_eq!(decoded.header.kid.as_deref(), Some("key-1"));
    assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
    let mut seen = fake.seen.lock().unwrap();
    seen.assertions.push(decoded.claims);
    seen.tokens_issued += 1;
    let body = format!(
        "{{\"access_token\":\"token-{}\",\"token_type\":\"bearer\",\"expires_in\":300,\"scope\":\"system/Observation.write\"}}",
        seen.tokens_issued
    );
    (StatusCode::OK, body)
}

async fn fhir(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> (StatusCode, String) {
    let mut seen = fake.seen.lock().unwrap();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    seen.authorizations.push(authorization);
    if seen.refuse > 0 {
        seen.refuse -= 1;
        return (
            StatusCode::UNAUTHORIZED,
            "{\"resourceType\":\"OperationOutcome\"}".into(),
        );
    }
    (
        StatusCode::OK,
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction-response\",\"entry\":[]}".into(),
    )
}

async fn run(algorithm: Algorithm, name: &str) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake {
        algorithm,
        public_key: std::fs::read(common::repo_path(&format!("fixtures/smart/test-{name}-public.pem"))).unwrap(),
        token_url: format!("{base}/token"),
        seen: Mutex::new(Seen {
            refuse: 0,
            ..Seen::default()
        }),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/fhir", post(fhir))
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = FhirConfig {
        auth: FhirAuth::Smart(SmartSettings {
            token_url: format!("{base}/token"),
            client_id: "fhirgate-test".into(),
            key_file: common::repo_path(&format!("fixtures/smart/test-{name}-private.pem")),
            algorithm: name.to_uppercase(),
            kid: Some("key-1".into()),
            scope: "system/Observation.write system/Device.write system/Patient.read".into(),
        }),
        ..FhirConfig::default()
    };
    let client = FhirClient::new(&format!("{base}/fhir"), &config).unwrap();
    assert_eq!(client.transaction("{}".into(), 0).await, Answer::Delivered);
    assert_eq!(client.transaction("{}".into(), 0).await, Answer::Delivered);
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.tokens_issued, 1, "the token is reused until it expires");
        assert_eq!(seen.authorizations, vec!["Bearer token-1", "Bearer token-1"]);
        let claims = &seen.assertions[0];
        assert_eq!(claims["sub"], "fhirgate-test");
        let lifetime = claims["exp"].as_u64().unwrap() as i64 - chrono::Utc::now().timestamp();
        assert!(
            (250..=300).contains(&lifetime),
            "exp at most five minutes ahead: {lifetime}"
        );
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
    }
    // A refused token is dropped; the retry fetches a new one.
    fake.seen.lock().unwrap().refuse = 1;
    assert!(matches!(client.transaction("{}".into(), 0).await, Answer::Retry { .. }));
    assert_eq!(client.transaction("{}".into(), 0).await, Answer::Delivered);
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.tokens_issued, 2);
    assert_eq!(seen.authorizations.last().map(String::as_str), Some("Bearer token-2"));
    assert_ne!(
        seen.assertions[0]["jti"], seen.assertions[1]["jti"],
        "every assertion has its own jti"
    );
}

#[tokio::test]
async fn rs384_assertions_get_a_token_that_is_reused_and_renewed() {
    run(Algorithm::RS384, "rs384").await;
}

#[tokio::test]
async fn es384_assertions_get_a_token_that_is_reused_and_renewed() {
    run(Algorithm::ES384, "es384").await;
}

#[test]
fn a_key_that_does_not_fit_the_algorithm_fails_at_start() {
    let config = FhirConfig {
        auth: FhirAuth::Smart(SmartSettings {
            token_url: "http://127.0.0.1:9/token".into(),
            client_id: "x".into(),
            key_file: common::repo_path("fixtures/smart/test-rs384-private.pem"),
            algorithm: "ES384".into(),
            kid: None,
            scope: "system/Observation.write".into(),
        }),
        ..FhirConfig::default()
    };
    let error = FhirClient::new("http://127.0.0.1:9/fhir", &config).err().unwrap();
    assert!(error.to_string().contains("not a ES384 private key"), "{error}");
}
