//! The transport conventions every response follows (pocketbase-api.md §1): PocketBase's
//! default CORS (any origin; preflights answered 204 with the methods it allows and the request
//! headers echoed back) and its fixed security headers, every error as PocketBase's error JSON
//! (axum's extractor rejections and 405s included), plus the health endpoint.
//!
//! A small `from_fn` middleware rather than tower-http's `CorsLayer`: `CorsLayer` answers
//! preflights with 200 and varies on the request method and headers too, where PocketBase
//! answers 204 with `Vary: Origin`.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName,
    HeaderValue, ORIGIN, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS, X_XSS_PROTECTION,
};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, InternalCause, msg};

/// The methods a preflight is told are allowed.
pub const ALLOWED_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

const CROSS_ORIGIN_OPENER_POLICY: HeaderName = HeaderName::from_static("cross-origin-opener-policy");

/// The headers PocketBase sends on every response, whatever its status.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "SAMEORIGIN"),
    (X_XSS_PROTECTION, "1; mode=block"),
    (CROSS_ORIGIN_OPENER_POLICY, "same-origin"),
];

/// Wraps `router` so that every response it produces — handler results, errors, 405s, and the
/// fallback's 404s — carries the §1 headers, and CORS preflights are answered before routing.
///
/// Apply it last: routes added to the router afterwards are not covered.
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(middleware::from_fn(json_errors)).layer(middleware::from_fn(transport_headers))
}

/// Makes every error PocketBase's error JSON: what axum's extractors refuse (a bad path,
/// query or JSON body), 405s and any other error that is not JSON keep their status (a 422
/// becomes 400, as PocketBase answers invalid bodies) and get `{"status", "message", "data"}`.
/// Internal errors are logged here, with the request they failed, and only here.
async fn json_errors(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, path = uri.path(), %cause, "internal error");
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
    let message = match status {
        StatusCode::BAD_REQUEST => msg::BAD_REQUEST.to_owned(),
        StatusCode::NOT_FOUND => msg::NOT_FOUND.to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => msg::INTERNAL.to_owned(),
        other => format!("{}.", other.canonical_reason().unwrap_or("Error")),
    };
    let (mut parts, _) = response.into_parts();
    let error = ApiError::new(status, message).into_response();
    parts.status = status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, error.into_body())
}

/// `GET`/`HEAD /api/health`: 200 `{"message":"API is healthy.","code":200,"data":{}}` (`code`,
/// not `status`, in this one body). Routed with `axum::routing::get`, which answers `HEAD` too.
pub async fn health() -> impl IntoResponse {
    Json(json!({"message": "API is healthy.", "code": 200, "data": {}}))
}

async fn transport_headers(request: Request, next: Next) -> Response {
    let has_origin = request.headers().contains_key(ORIGIN);
    let mut response =
        if has_origin && is_preflight(&request) { preflight(request.headers()) } else { next.run(request).await };
    let headers = response.headers_mut();
    if has_origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    vary_on_origin(headers);
    response
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS && request.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// 204 with the allowed methods and, when the browser asked for some, the requested headers.
fn preflight(request_headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
    // The requested header names are echoed as sent, whatever they are: `HeaderValue` already
    // guarantees they are a valid header value.
    for value in request_headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.append(ACCESS_CONTROL_ALLOW_HEADERS, value.clone());
    }
    response
}

/// Adds `Vary: Origin`, keeping any `Vary` a handler set (e.g. `Accept-Encoding`).
fn vary_on_origin(headers: &mut HeaderMap) {
    let already = headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|name| {
        let name = name.trim();
        name == "*" || name.eq_ignore_ascii_case("origin")
    });
    if !already {
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        let router = Router::new()
            .route("/api/health", get(health))
            .route("/api/fail", get(|| async { (StatusCode::BAD_REQUEST, "nope") }))
            .route("/api/vary", get(|| async { ([(VARY, "Accept-Encoding")], "ok") }))
            .route("/api/frame", get(|| async { ([(X_FRAME_OPTIONS, "DENY")], "ok") }));
        layer(router)
    }

    async fn send(request: Request<Body>) -> Response {
        app().oneshot(request).await.expect("the router is infallible")
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn assert_security_headers(response: &Response) {
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(response, "x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(header(response, "x-xss-protection"), Some("1; mode=block"));
        assert_eq!(header(response, "cross-origin-opener-policy"), Some("same-origin"));
        assert_eq!(header(response, "vary"), Some("Origin"));
    }

    #[tokio::test]
    async fn get_with_origin() {
        let request = Request::get("/api/health").header("origin", "http://localhost:5173").body(Body::empty());
        let response = send(request.expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_security_headers(&response);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value, json!({"message": "API is healthy.", "code": 200, "data": {}}));
    }

    #[tokio::test]
    async fn no_origin_no_cors_header() {
        let response = send(Request::get("/api/health").body(Body::empty()).expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert_security_headers(&response);
    }

    #[tokio::test]
    async fn head_health() {
        let response = send(Request::head("/api/health").body(Body::empty()).expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_security_headers(&response);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn preflight_answers_204() {
        let request = Request::options("/api/collections/posts/records")
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .expect("valid request");
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&response, "access-control-allow-methods"), Some("GET,HEAD,PUT,PATCH,POST,DELETE"));
        assert_eq!(header(&response, "access-control-allow-headers"), Some("authorization,content-type"));
        assert_security_headers(&response);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn preflight_without_requested_headers() {
        let request = Request::options("/api/health")
            .header("origin", "http://example.com")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("valid request");
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&response, "access-control-allow-headers"), None);
    }

    #[tokio::test]
    async fn options_without_origin_is_routed() {
        let request = Request::options("/api/health")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("valid request");
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&response, "access-control-allow-methods"), None);
        assert_security_headers(&response);
    }

    #[tokio::test]
    async fn fallback_404_and_errors_carry_the_headers() {
        let request = Request::get("/nope").header("origin", "http://example.com").body(Body::empty());
        let response = send(request.expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_security_headers(&response);

        let response = send(Request::get("/api/fail").body(Body::empty()).expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_security_headers(&response);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value, json!({"status": 400, "message": msg::BAD_REQUEST, "data": {}}));

        let response = send(Request::delete("/api/health").body(Body::empty()).expect("valid request")).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_security_headers(&response);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value, json!({"status": 405, "message": "Method Not Allowed.", "data": {}}));
    }

    #[tokio::test]
    async fn handler_headers_are_kept() {
        let response = send(Request::get("/api/vary").body(Body::empty()).expect("valid request")).await;
        let vary: Vec<&str> = response.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);
        let response = send(Request::get("/api/frame").body(Body::empty()).expect("valid request")).await;
        assert_eq!(header(&response, "x-frame-options"), Some("DENY"));
    }

    #[tokio::test]
    async fn custom_fallback_is_covered() {
        let router = layer(Router::new().fallback(|| async { (StatusCode::IM_A_TEAPOT, "custom") }));
        let response = router.oneshot(Request::get("/x").body(Body::empty()).expect("valid request")).await;
        let response = response.expect("the router is infallible");
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_security_headers(&response);
    }
}
