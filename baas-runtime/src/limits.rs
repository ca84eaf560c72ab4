//! Bounds on what one request may take: the size of its body (per route, judged on
//! `Content-Length` before anything is read and enforced again while a body without one
//! streams in), the time to receive that body and to produce a response, and the length of the
//! URI. Every refusal is PocketBase's error JSON.

use std::convert::Infallible;
use std::error::Error;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http_body_util::LengthLimitError;
use tower::{Layer, Service};
use tower_http::timeout::{DeadlineBody, TimeoutError};

use crate::error::ApiError;

/// The body limit of routes that take a small JSON body: realtime subscriptions, auth, file
/// tokens. Record writes and batches keep the file-aware limit (`files::body_limit`).
pub const JSON_BODY: usize = 1 << 20;

/// The longest URI (path and query string) answered; PocketBase's longest filter, 3,500
/// characters, takes at most 10.5 KiB percent-encoded.
pub const MAX_URI: usize = 32 << 10;

/// 413, for a body over its route's limit.
pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large.")
}

/// The answer to a body that could not be read: 413 past the limit, 408 past the body
/// deadline, 400 otherwise.
pub fn body_error(e: &(dyn Error + 'static)) -> ApiError {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return too_large();
        }
        if e.is::<TimeoutError>() {
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request Timeout.");
        }
        cause = e.source();
    }
    ApiError::invalid_request()
}

/// A layer that refuses bodies over `0` bytes: on `Content-Length` before the handler runs,
/// and while reading when the body has no length.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl<S> Layer<S> for BodyLimit {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited { inner, max: self.0 }
    }
}

/// The service [`BodyLimit`] makes.
#[derive(Clone, Debug)]
pub struct Limited<S> {
    inner: S,
    max: usize,
}

impl<S> Service<Request> for Limited<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> <Self as Service<Request>>::Future {
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max as u64) {
            return Either::Left(ready(Ok(too_large().into_response())));
        }
        let max = self.max;
        Either::Right(self.inner.call(req.map(|body| Body::new(http_body_util::Limited::new(body, max)))))
    }
}

/// How long a request may take: to send its body, and to be answered (until the response
/// starts; a realtime stream's lifetime is the realtime idle time).
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    pub body: Duration,
    pub response: Duration,
}

/// Middleware: 414 for a URI over [`MAX_URI`], a deadline on the request body, and 503 for a
/// response not ready in time.
pub async fn bounds(State(deadlines): State<Deadlines>, req: Request, next: Next) -> Response {
    if req.uri().path_and_query().map_or(0, |p| p.as_str().len()) > MAX_URI {
        return ApiError::new(StatusCode::URI_TOO_LONG, "URI Too Long.").into_response();
    }
    // (a request without a body needs no deadline on it, nor its timer)
    let has_body = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let req = if has_body { req.map(|body| Body::new(DeadlineBody::new(deadlines.body, body))) } else { req };
    match tokio::time::timeout(deadlines.response, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The request took too long to process.").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::to_bytes;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    async fn echo(body: Body) -> Result<String, ApiError> {
        let bytes = to_bytes(body, usize::MAX).await.map_err(|e| body_error(&e))?;
        Ok(format!("{}", bytes.len()))
    }

    fn app() -> Router {
        Router::new().route("/", post(echo).layer(BodyLimit(10)))
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let request = Request::post("/").header("content-length", "11").body(Body::from("01234567890"));
        let response = app().oneshot(request.expect("valid request")).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value, serde_json::json!({"status": 413, "message": "Request Entity Too Large.", "data": {}}));
    }

    #[tokio::test]
    async fn a_streamed_body_is_cut_at_the_limit() {
        let chunks = futures_util::stream::iter(["0123456", "789012"].map(Ok::<_, Infallible>));
        let request = Request::post("/").body(Body::from_stream(chunks)).expect("valid request");
        let response = app().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let request = Request::post("/").body(Body::from("0123456789")).expect("valid request");
        let response = app().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
