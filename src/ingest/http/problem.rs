//! HTTP errors as RFC 9457 problem responses, in one type: handlers return `Result<_, Problem>`.
//! The detail names the field, byte or rule; never a value, a patient or a secret.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// Members beside the standard ones (`index` of a refused batch element).
    extra: Map<String, Value>,
    /// A header the answer carries beside the body.
    header: Advice,
}

/// What a problem answer tells the client in a header.
#[derive(Debug, Clone, Copy)]
enum Advice {
    None,
    /// Ask for a bearer token (`WWW-Authenticate: Bearer`), on a 401.
    Challenge,
    /// Seconds to wait before sending again (`Retry-After`), on a 503.
    RetryAfter(u16),
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
            extra: Map::new(),
            header: Advice::None,
        }
    }

    /// Says when to send again (`Retry-After`, in seconds).
    pub fn retry_after(mut self, seconds: u16) -> Problem {
        self.header = Advice::RetryAfter(seconds);
        self
    }

    /// Adds a member to the problem body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem {
            header: Advice::Challenge,
            ..Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn not_found(title: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, title, detail)
    }

    /// The store failed: the operator's log has the cause.
    pub fn store(error: &impl std::fmt::Display) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Store error", error.to_string())
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(object) = body.as_object_mut() {
            object.extend(self.extra);
        }
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        match self.header {
            Advice::None => {}
            Advice::Challenge => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Advice::RetryAfter(seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_problem_is_an_rfc_9457_body_with_its_members() {
        let response = Problem::new(StatusCode::BAD_REQUEST, "Invalid payload", "element 2: rule")
            .with("index", 2)
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["title"], "Invalid payload");
        assert_eq!(body["status"], 400);
        assert_eq!(body["detail"], "element 2: rule");
        assert_eq!(body["index"], 2);
        let challenge = Problem::unauthorized("token").into_response();
        assert_eq!(challenge.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
}
