//! The FHIR client: posts transaction Bundles to the EHR's server and sorts each answer into
//! delivered, try again later, or rejected for good. It decides nothing else; retry timing and the
//! dead-letter store are the deliverer's.

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use thiserror::Error;

use std::sync::Arc;

use super::smart_auth::SmartAuth;
use crate::delivery::config::{FhirAuth, FhirConfig};

const FHIR_JSON: &str = "application/fhir+json";

/// What became of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The server committed the transaction (every entry answered 2xx).
    Delivered,
    /// The server is unreachable, overloaded or failing: send the same Bundle again later (after
    /// `after` when it said so).
    Retry { reason: String, after: Option<Duration> },
    /// The server refused the Bundle itself (4xx): sending it again will not help.
    Rejected { status: u16, body: String },
}

#[derive(Debug, Error)]
#[error("FHIR client: {0}")]
pub struct ClientError(String);

/// How requests are authorized.
#[derive(Clone)]
enum Authorization {
    None,
    Bearer(String),
    Smart(Arc<SmartAuth>),
}

/// A client for one FHIR server.
#[derive(Clone)]
pub struct FhirClient {
    http: reqwest::Client,
    base_url: String,
    auth: Authorization,
}

impl FhirClient {
    pub fn new(base_url: &str, config: &FhirConfig) -> Result<FhirClient, ClientError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(Duration::from_secs(10).min(config.timeout()))
            // A redirect would turn the POST into a GET without body; answered 3xx, it is retried.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fhirgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        let auth = match &config.auth {
            FhirAuth::None => Authorization::None,
            FhirAuth::Bearer { token } => Authorization::Bearer(token.clone()),
            FhirAuth::Smart(settings) => {
                Authorization::Smart(Arc::new(SmartAuth::new(settings, http.clone()).map_err(ClientError)?))
            }
        };
        Ok(FhirClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Adds the configured authorization to a request; `Err` when no access token can be had.
    async fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, String> {
        Ok(match &self.auth {
            Authorization::None => request,
            Authorization::Bearer(token) => request.bearer_auth(token),
            Authorization::Smart(smart) => {
                request.bearer_auth(smart.token().await.map_err(|r| format!("no access token: {r}"))?)
            }
        })
    }

    /// The id of the one Patient with this identifier on the server; `None` when there is none or more
    /// than one (then the reading keeps its logical reference by identifier). `Err` when the server
    /// cannot be asked now.
    pub async fn find_patient(&self, system: &str, value: &str) -> Result<Option<String>, String> {
        let request = self
            .http
            .get(format!(
                "{}/Patient?{}&_elements=id",
                self.base_url,
                crate::fhir::search::identifier_query(system, value)
            ))
            .header(reqwest::header::ACCEPT, FHIR_JSON);
        let response = self
            .authorize(request)
            .await?
            .send()
            .await
            .map_err(|e| format!("patient lookup: {}", describe_send_error(&e)))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            if let Authorization::Smart(smart) = &self.auth {
                smart.invalidate().await;
            }
        }
        if status.is_server_error() || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS) {
            // The identifier is in the URL: name only the status.
            return Err(format!("patient lookup: the FHIR server answered {status}"));
        }
        if !status.is_success() {
            // The server will not look patients up (no search support, no Patient.read scope): the
            // readings keep their reference by identifier rather than wait forever.
            tracing::warn!(%status, "patient lookup refused; the reading keeps its reference by identifier");
            return Ok(None);
        }
        let found: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("patient lookup: {}", describe_send_error(&e)))?;
        let ids: Vec<&str> = found
            .get("entry")
            .and_then(|e| e.as_array())
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e.pointer("/resource/id")?.as_str())
                    .collect()
            })
            .unwrap_or_default();
        Ok(match ids.as_slice() {
            [id] => Some((*id).to_string()),
            _ => None,
        })
    }

    /// Reads `path` (`Observation/{id}`, or a search such as `Device?identifier=…`) relative to the
    /// base URL: the resource or search Bundle, `None` when the server has no such resource (404,
    /// 410). A failure the server may recover from is `Answer::Retry`; another 4xx is
    /// `Answer::Rejected`. Errors never name the path (it can carry an identifier).
    pub async fn read(&self, path: &str) -> Result<Option<serde_json::Value>, Answer> {
        let request = self
            .http
            .get(format!("{}/{path}", self.base_url))
            .header(reqwest::header::ACCEPT, FHIR_JSON);
        let request = self
            .authorize(request)
            .await
            .map_err(|reason| Answer::Retry { reason, after: None })?;
        let response = request.send().await.map_err(|e| Answer::Retry {
            reason: format!("read: {}", describe_send_error(&e)),
            after: None,
        })?;
        let status = response.status();
        if let (StatusCode::UNAUTHORIZED, Authorization::Smart(smart)) = (status, &self.auth) {
            smart.invalidate().await;
        }
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(None);
        }
        let after = retry_after(response.headers());
        let body = response.text().await.map_err(|e| Answer::Retry {
            reason: format!(
                "read: the server's answer ({status}) broke off: {}",
                describe_send_error(&e)
            ),
            after,
        })?;
        if !status.is_success() {
            return Err(match classify(status, after, body, 0) {
                Answer::Retry { reason, after } => Answer::Retry {
                    reason: format!("read: {reason}"),
                    after,
                },
                other => other,
            });
        }
        serde_json::from_str(&body).map(Some).map_err(|_| Answer::Retry {
            reason: format!("read: the FHIR server answered {status} with a body that is not JSON"),
            after,
        })
    }

    /// Posts a transaction Bundle (FHIR JSON) to the server's base URL.
    pub async fn transaction(&self, bundle_json: String, entries: usize) -> Answer {
        let request = self
            .http
            .post(&self.base_url)
            .header(CONTENT_TYPE, FHIR_JSON)
            .header(reqwest::header::ACCEPT, FHIR_JSON)
            .body(bundle_json);
        let request = match self.authorize(request).await {
            Ok(request) => request,
            Err(reason) => return Answer::Retry { reason, after: None },
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer::Retry {
                    reason: describe_send_error(&error),
                    after: None,
                }
            }
        };
        let status = response.status();
        if let (StatusCode::UNAUTHORIZED, Authorization::Smart(smart)) = (status, &self.auth) {
            // Revoked or expired early: the next attempt gets a new token.
            smart.invalidate().await;
        }
        let after = retry_after(response.headers());
        let body = match response.text().await {
            Ok(body) => body,
            Err(error) => {
                return Answer::Retry {
                    reason: format!(
                        "the server's answer ({status}) broke off: {}",
                        describe_send_error(&error)
                    ),
                    after,
                }
            }
        };
        classify(status, after, body, entries)
    }
}

/// Sorts a complete answer. Authentication failures are retried, not dead-lettered: they are the
/// bridge's configuration at fault, and every reading would otherwise be buried until it is fixed.
///
/// A 2xx counts as delivered only with a transaction-response holding one 2xx answer per entry sent:
/// anything else (a login page from a proxy, a search Bundle) could mean nothing was stored. 404, 405,
/// 409 and 415 are retried: they usually mean a wrong base URL or proxy, or a race between conditional
/// creates, not a bad reading.
fn classify(status: StatusCode, after: Option<Duration>, body: String, entries: usize) -> Answer {
    if status.is_success() {
        return match transaction_response(&body, entries) {
            Ok(()) => Answer::Delivered,
            Err(TransactionResponse::EntryFailed(entry_status)) => Answer::Rejected {
                status: status.as_u16(),
                body: format!("transaction answered {status} but an entry answered {entry_status}: {body}"),
            },
            Err(TransactionResponse::NotOne(what)) => Answer::Retry {
                reason: format!("the FHIR server answered {status} without a transaction-response: {what}"),
                after,
            },
        };
    }
    let retryable = status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::CONFLICT
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    if retryable {
        Answer::Retry {
            reason: format!("the FHIR server answered {status}"),
            after,
        }
    } else if status.is_client_error() {
        Answer::Rejected {
            status: status.as_u16(),
            body,
        }
    } else {
        // 1xx/3xx: redirects are not followed (a POST must not turn into a GET).
        Answer::Retry {
            reason: format!("the FHIR server answered an unexpected {status}"),
            after,
        }
    }
}

enum TransactionResponse {
    /// An entry's status is not 2xx.
    EntryFailed(String),
    /// The body is not a transaction-response for the Bundle sent.
    NotOne(String),
}

/// Checks a 2xx body: a transaction-response Bundle with `entries` entries, each answered 2xx.
fn transaction_response(body: &str, entries: usize) -> Result<(), TransactionResponse> {
    let response: serde_json::Value =
        serde_json::from_str(body).map_err(|_| TransactionResponse::NotOne("the body is not JSON".into()))?;
    if response.get("resourceType").and_then(|t| t.as_str()) != Some("Bundle")
        || response.get("type").and_then(|t| t.as_str()) != Some("transaction-response")
    {
        return Err(TransactionResponse::NotOne("not a transaction-response Bundle".into()));
    }
    let answered = response
        .get("entry")
        .and_then(|e| e.as_array())
        .map_or(&[][..], |e| e.as_slice());
    if answered.len() != entries {
        return Err(TransactionResponse::NotOne(format!(
            "{} entries answered, {entries} sent",
            answered.len()
        )));
    }
    for entry in answered {
        let status = entry
            .pointer("/response/status")
            .and_then(|s| s.as_str())
            .unwrap_or_default();
        if !status.trim_start().starts_with('2') {
            return Err(TransactionResponse::EntryFailed(status.to_string()));
        }
    }
    Ok(())
}

/// `Retry-After` in seconds (the HTTP-date form is rare from FHIR servers and treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

fn describe_send_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // Without the URL: a search URL carries a patient identifier.
    let cause = std::error::Error::source(error)
        .map(|s| s.to_string())
        .unwrap_or_default();
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_by_status() {
        let ok = r#"{"resourceType":"Bundle","type":"transaction-response","entry":[
            {"response":{"status":"201 Created"}},{"response":{"status":"200 OK"}}]}"#;
        assert_eq!(classify(StatusCode::OK, None, ok.into(), 2), Answer::Delivered);
        assert!(
            matches!(classify(StatusCode::OK, None, ok.into(), 3), Answer::Retry { reason, .. } if reason.contains("2 entries answered, 3 sent")),
            "an answer that does not cover every entry is not a delivery"
        );
        assert!(matches!(
            classify(StatusCode::OK, None, "<html>Sign in</html>".into(), 2),
            Answer::Retry { .. }
        ));
        let partial = r#"{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"412 Precondition Failed"}}]}"#;
        assert!(matches!(
            classify(StatusCode::OK, None, partial.into(), 1),
            Answer::Rejected { status: 200, body } if body.contains("412")
        ));
        for wrong_place in [
            StatusCode::NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED,
            StatusCode::MOVED_PERMANENTLY,
        ] {
            assert!(matches!(
                classify(wrong_place, None, String::new(), 1),
                Answer::Retry { .. }
            ));
        }
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                String::new(),
                1
            ),
            Answer::Retry {
                reason: "the FHIR server answered 429 Too Many Requests".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None, String::new(), 1),
            Answer::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, String::new(), 1),
            Answer::Retry { .. }
        ));
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, None, "outcome".into(), 1),
            Answer::Rejected {
                status: 422,
                body: "outcome".into()
            }
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(5)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
