//! The whole HTTP surface: the generated and the user's routes, then the runtime's own —
//! health, OpenAPI, batch, realtime, auth, files, the `_superusers` records — and 404s for
//! unknown collections.

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use baas_schema::ir::system;

use crate::error::{ApiError, msg};
use crate::limits::{self, BodyLimit, Deadlines};
use crate::state::AppState;
use crate::{accounts, auth, batch, download, files, http, otp, realtime, records};

/// The whole HTTP surface: generated and user routes first, then the runtime's own.
pub fn router(state: AppState, routes: Router<AppState>, openapi: &'static str, deadlines: Deadlines) -> Router {
    // Routes that take a small JSON body get a small limit; record writes and batches keep
    // the file-aware one.
    let small = BodyLimit(limits::JSON_BODY);
    let runtime = Router::new()
        .route(
            "/api/openapi.json",
            get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi) }),
        )
        .route("/api/health", get(http::health).head(http::health))
        .route("/api/batch", post(batch::batch))
        .route("/api/realtime", get(realtime::connect).post(realtime::subscribe).layer(small))
        .route("/api/collections/{c}/auth-with-password", post(auth::auth_with_password).layer(small))
        .route("/api/collections/{c}/auth-refresh", post(auth::auth_refresh).layer(small))
        .route("/api/collections/{c}/auth-methods", get(auth::auth_methods))
        .route("/api/collections/{c}/request-verification", post(accounts::request_verification).layer(small))
        .route("/api/collections/{c}/confirm-verification", post(accounts::confirm_verification).layer(small))
        .route("/api/collections/{c}/request-password-reset", post(accounts::request_password_reset).layer(small))
        .route("/api/collections/{c}/confirm-password-reset", post(accounts::confirm_password_reset).layer(small))
        .route("/api/collections/{c}/request-email-change", post(accounts::request_email_change).layer(small))
        .route("/api/collections/{c}/confirm-email-change", post(accounts::confirm_email_change).layer(small))
        .route("/api/collections/{c}/request-otp", post(otp::request_otp).layer(small))
        .route("/api/collections/{c}/auth-with-otp", post(otp::auth_with_otp).layer(small))
        .route("/api/collections/{c}/impersonate/{id}", post(auth::impersonate).layer(small))
        .route("/api/collections/{c}/auth-with-oauth2", post(accounts::oauth2::auth_with_oauth2).layer(small))
        .route(
            "/api/oauth2-redirect",
            get(accounts::oauth2::redirect_get).post(accounts::oauth2::redirect_post).layer(small),
        )
        .merge(records::routes(system::SUPERUSERS, system::SUPERUSERS_ID))
        .route("/api/collections/{c}/records", get(missing_collection).post(missing_collection_write))
        .route(
            "/api/collections/{c}/records/{id}",
            get(missing_collection).patch(missing_collection_write).delete(missing_collection_write),
        )
        .route("/api/files/token", post(download::file_token).layer(small))
        .route("/api/files/{c}/{id}/{name}", get(download::file).head(download::file))
        .fallback(not_found);
    let most = files::body_limit(state.schema());
    let bounded = routes
        .merge(runtime)
        .layer(DefaultBodyLimit::max(most))
        .layer(BodyLimit(most))
        .layer(middleware::from_fn_with_state(deadlines, limits::bounds))
        .layer(middleware::from_fn_with_state(state.clone(), super::abuse::layer));
    http::layer(bounded.with_state(state))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// `/api/collections/{c}/records…` of a collection the backend does not have.
async fn missing_collection() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_COLLECTION)
}

/// A write to a collection the backend does not have (PocketBase words it differently). The
/// body is read first (within the route's limit): answering before it arrived lets the
/// connection close under a client still sending it.
async fn missing_collection_write(_body: Bytes) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_COLLECTION_WRITE)
}
