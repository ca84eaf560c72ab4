//! API errors, shaped exactly as PocketBase answers them (pocketbase-api.md §5):
//! `{"status": 400, "message": "...", "data": {...}}`. Internal detail never reaches the
//! client: database and I/O failures are answered with a generic 500 and their cause travels
//! in the response's extensions to the one place that logs it (`http::layer`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The messages PocketBase uses, kept in one place.
pub mod msg {
    pub const CREATE_FAILED: &str = "Failed to create record.";
    pub const UPDATE_FAILED: &str = "Failed to update record.";
    pub const DELETE_REFERENCED: &str =
        "Failed to delete record. Make sure that the record is not part of a required relation reference.";
    pub const AUTH_FAILED: &str = "Failed to authenticate.";
    pub const VALIDATION: &str = "An error occurred while validating the submitted data.";
    pub const BAD_REQUEST: &str = "Something went wrong while processing your request.";
    pub const NEEDS_AUTH: &str = "The request requires valid record authorization token.";
    pub const SUPERUSERS_ONLY: &str = "Only superusers can perform this action.";
    pub const NOT_ALLOWED: &str = "The authorized record is not allowed to perform this action.";
    pub const NOT_FOUND: &str = "The requested resource wasn't found.";
    pub const MISSING_COLLECTION: &str = "Missing collection context.";
    pub const MISSING_COLLECTION_WRITE: &str = "Missing or invalid collection context.";
    pub const MISSING_AUTH_COLLECTION: &str = "Missing or invalid auth collection context.";
    pub const FILTER_REQUEST: &str = "Only superusers can filter by @request.";
    pub const FILTER_COLLECTION: &str = "Only superusers can filter by @collection.";
    pub const BATCH_DISABLED: &str = "Batch requests are not allowed.";
    pub const BATCH_FAILED: &str = "Batch transaction failed.";
    pub const BATCH_INVALID: &str = "Invalid batch request data.";
    pub const INTERNAL: &str = "Something went wrong while processing your request.";
}

/// One field's validation failure: `{"code": "...", "message": "...", "params": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FieldError { code, message: message.into(), params: None }
    }

    pub fn with_param(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.params.get_or_insert_with(Map::new).insert(key.to_owned(), value.into());
        self
    }

    pub fn required() -> Self {
        FieldError::new("validation_required", "Cannot be blank.")
    }
}

/// Field errors by field name, in name order.
pub type FieldErrors = BTreeMap<String, FieldError>;

/// An error answered to the client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub data: Value,
    /// What went wrong inside, for the log (never sent): set by [`ApiError::internal`].
    pub cause: Option<String>,
    /// A body sent instead of `{status, message, data}` (MFA's `401 {"mfaId"}`).
    pub raw: Option<Value>,
}

/// The cause of a 500, carried from [`ApiError::into_response`] to the middleware that logs it.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), data: json!({}), cause: None, raw: None }
    }

    /// An answer with `body` as it is, not PocketBase's error shape.
    pub fn raw(status: StatusCode, body: Value) -> Self {
        ApiError { raw: Some(body), ..ApiError::new(status, "") }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 "Something went wrong while processing your request."
    pub fn invalid_request() -> Self {
        ApiError::bad_request(msg::BAD_REQUEST)
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, msg::NOT_FOUND)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, msg::NEEDS_AUTH)
    }

    /// A 400 with per-field details.
    pub fn fields(message: impl Into<String>, errors: FieldErrors) -> Self {
        let data = serde_json::to_value(errors).unwrap_or_else(|_| json!({}));
        ApiError { data, ..ApiError::new(StatusCode::BAD_REQUEST, message) }
    }

    /// A field custom code refuses: a 400 with PocketBase's `data.<field>.{code, message}`.
    /// Returned by a hook, it is worded as the write it stopped ("Failed to create record.").
    ///
    /// ```ignore
    /// return Err(ApiError::invalid("post", "validation_post_not_published", "The post is not published yet."));
    /// ```
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), FieldError::new(code, message));
        ApiError::fields(msg::VALIDATION, errors)
    }

    /// A validation error from [`ApiError::invalid`] worded as the write it stopped.
    pub fn stopped(self, write: &str) -> Self {
        if self.message == msg::VALIDATION { ApiError { message: write.to_owned(), ..self } } else { self }
    }

    /// A 500 whose cause is logged (once, where the response leaves), never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError { cause: Some(cause.to_string()), ..ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg::INTERNAL) }
    }

    pub fn body(&self) -> Value {
        json!({"status": self.status.as_u16(), "message": self.message, "data": self.data})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)?;
        match &self.cause {
            Some(cause) => write!(f, " ({cause})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.raw.clone() {
            Some(raw) => raw,
            None => self.body(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        if e.is_unstorable_text() {
            return ApiError::invalid_request();
        }
        ApiError::internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_exactly_status_message_data() {
        let mut errors = FieldErrors::new();
        errors.insert("title".into(), FieldError::required());
        errors.insert(
            "views".into(),
            FieldError::new("validation_min_number_constraint", "Must be greater or equal than 0.")
                .with_param("min", 0),
        );
        let body = ApiError::fields(msg::CREATE_FAILED, errors).body();
        assert_eq!(
            body,
            json!({"status": 400, "message": "Failed to create record.", "data": {
                "title": {"code": "validation_required", "message": "Cannot be blank."},
                "views": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 0.", "params": {"min": 0}}
            }})
        );
    }
}
