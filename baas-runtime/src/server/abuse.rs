//! The rate-limit middleware: which rules of the [`Limiter`](crate::ratelimit::Limiter) a
//! request matches (by path, method and `collection:action`), counted per client address.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ratelimit::matches;
use crate::state::AppState;
use crate::token;

/// The middleware: counts the request against every rule whose label it matches (and whose
/// audience it belongs to), and answers 429 past a rule's allowance.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let limiter = app.limiter();
    if limiter.rules().is_empty() {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let tags = tags(&app, request.method(), path);
    let matching: Vec<usize> =
        (0..limiter.rules().len()).filter(|&i| matches(&limiter.rules()[i], request.method(), path, &tags)).collect();
    if matching.is_empty() {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = limiter.client(peer, request.headers());
    let signed_in = match matching.iter().any(|&i| !limiter.rules()[i].audience.is_empty()) {
        true => signed_in(&app, request.headers()).await,
        false => false,
    };
    for i in matching {
        let rule = &limiter.rules()[i];
        let applies = match rule.audience.as_str() {
            "@guest" => !signed_in,
            "@auth" => signed_in,
            _ => true,
        };
        if applies && !limiter.admit(i, client) {
            return too_many();
        }
    }
    next.run(request).await
}

/// PocketBase's answer past a limit.
fn too_many() -> Response {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests.").into_response()
}

/// Whether the request carries a valid auth token.
async fn signed_in(app: &AppState, headers: &HeaderMap) -> bool {
    let raw = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(token::from_header);
    match raw {
        Some(raw) => crate::extract::caller_from_token(app, raw, token::AUTH).await.is_some(),
        None => false,
    }
}

/// The `collection:action` tags of a request (the collection by name), as labels name them.
fn tags(app: &AppState, method: &Method, path: &str) -> Vec<(String, &'static str)> {
    let Some(rest) = path.strip_prefix("/api/collections/") else { return Vec::new() };
    let mut parts = rest.split('/');
    let (Some(collection), Some(what)) = (parts.next(), parts.next()) else { return Vec::new() };
    let id = parts.next();
    let action = match (method.as_str(), what, id) {
        ("GET", "records", None) => "list",
        ("POST", "records", None) => "create",
        ("GET", "records", Some(_)) => "view",
        ("PATCH", "records", Some(_)) => "update",
        ("DELETE", "records", Some(_)) => "delete",
        ("POST", "auth-with-password", None) => "authWithPassword",
        ("POST", "auth-with-otp", None) => "authWithOTP",
        ("POST", "auth-with-oauth2", None) => "authWithOAuth2",
        ("POST", "auth-refresh", None) => "authRefresh",
        ("GET", "auth-methods", None) => "listAuthMethods",
        ("POST", "request-otp", None) => "requestOTP",
        ("POST", "request-verification", None) => "requestVerification",
        ("POST", "confirm-verification", None) => "confirmVerification",
        ("POST", "request-password-reset", None) => "requestPasswordReset",
        ("POST", "confirm-password-reset", None) => "confirmPasswordReset",
        ("POST", "request-email-change", None) => "requestEmailChange",
        ("POST", "confirm-email-change", None) => "confirmEmailChange",
        _ => return Vec::new(),
    };
    let name = app.collection_ref(collection).map_or_else(|| collection.to_owned(), |c| c.ir.name.clone());
    let mut tags = vec![(name.clone(), action)];
    if action.starts_with("authWith") {
        tags.push((name, "auth"));
    }
    tags
}
