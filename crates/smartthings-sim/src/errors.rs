//! SmartThings REST error bodies: `{"requestId","error":{"code","message","details"}}`.
//!
//! Clients branch on `error.code`, so each helper reproduces the code and status the
//! real API uses for that situation.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::ids::request_id;

/// A JSON response with `Content-Type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Any SmartThings API error.
pub(crate) fn st_error(status: StatusCode, code: &str, message: &str, details: Vec<Value>) -> Response {
    json_response(
        status,
        &json!({
            "requestId": request_id(),
            "error": { "code": code, "message": message, "details": details }
        }),
    )
}

/// 401: missing, unknown or expired bearer token.
pub(crate) fn unauthorized() -> Response {
    st_error(StatusCode::UNAUTHORIZED, "UnauthorizedError", "Unauthorized", vec![])
}

/// 403: a missing scope, or an object of another location.
pub(crate) fn forbidden() -> Response {
    st_error(StatusCode::FORBIDDEN, "ForbiddenError", "Access is denied", vec![])
}

/// 404 with a message naming what was not found.
pub(crate) fn not_found(message: &str) -> Response {
    st_error(StatusCode::NOT_FOUND, "NotFoundError", message, vec![])
}

/// 422 `ConstraintViolationError` with per-field details.
pub(crate) fn constraint_violation(details: Vec<Value>) -> Response {
    st_error(StatusCode::UNPROCESSABLE_ENTITY, "ConstraintViolationError", "The request is malformed.", details)
}

/// One entry of a 422's `details`: `"<target>: <problem>"` as the real API words it.
pub(crate) fn detail(target: &str, problem: &str) -> Value {
    detail_with("UnprocessableEntityError", target, problem)
}

/// A `details` entry with one of SmartThings' documented detail codes (`NotNullError`,
/// `NotEmptyError`, `SizeError`, `PatternError`, ...), worded like [`detail`].
pub(crate) fn detail_with(code: &str, target: &str, problem: &str) -> Value {
    json!({
        "code": code,
        "target": target,
        "message": format!("{target}: {problem}"),
        "details": []
    })
}

/// 400 for a body that is not JSON at all.
pub(crate) fn bad_request(message: &str) -> Response {
    st_error(StatusCode::BAD_REQUEST, "BadRequestError", message, vec![])
}
