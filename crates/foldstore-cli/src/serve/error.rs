//! Errors as JSON, `{"error": "..."}` (and more members where they help), with a fitting
//! status; and the time limit of a request.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use foldstore::Error;
use serde_json::{json, Map, Value};

use super::REQUEST_TIMEOUT;
use crate::output::error_text;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Map<String, Value>,
}

impl ApiError {
    /// An error with `status` and the message `error`.
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(error.into()));
        ApiError { status, body }
    }

    /// 400, with the reason.
    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    /// 503, with the reason.
    pub fn unavailable(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error)
    }

    /// The error with one more member in its body.
    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.body.insert(key.to_owned(), value);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(Value::Object(self.body))).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let status = match &error {
            Error::OutOfRange { .. } => StatusCode::NOT_FOUND,
            Error::InvalidEvent { .. } | Error::InvalidHeaders { .. } => StatusCode::BAD_REQUEST,
            Error::OutcomeUnknown { .. } | Error::Backend { .. } | Error::Io { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error_text(&anyhow::Error::from(error)))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        match error.downcast::<Error>() {
            Ok(error) => ApiError::from(error),
            Err(error) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error_text(&error)),
        }
    }
}

/// Answers 503 when a request takes longer than [`REQUEST_TIMEOUT`] (its work on the store
/// goes on to its end on a blocking thread; the client is told not to wait).
pub async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s; ask for less (a smaller range or limit)",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// 404 for a path the API does not have.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such path: see docs/api.md for the API's paths (they begin with /api/)",
    )
}

/// A JSON value for a list of commit numbers.
pub fn numbers(numbers: &[u64]) -> Value {
    json!(numbers)
}
