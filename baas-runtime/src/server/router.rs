//! The whole HTTP surface: the generated and the user's routes, then the runtime's own —
//! health, OpenAPI, batch, realtime, auth, files, `_superusers` records — and 404s for
//! unknown collections.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use baas_schema::ir::system;
use serde_json::Value;

use crate::collection::Coll;
use crate::error::{ApiError, ApiResult, msg};
use crate::limits::{self, BodyLimit, Deadlines};
use crate::request::RequestCx;
use crate::state::AppState;
use crate::{auth, batch, download, files, http, realtime, records};

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
        .route("/api/collections/{c}/request-verification", post(auth::request_email).layer(small))
        .route("/api/collections/{c}/request-password-reset", post(auth::request_email).layer(small))
        .route("/api/collections/{c}/request-otp", post(auth::request_otp).layer(small))
        .route("/api/collections/{c}/records", get(list_any).post(create_any))
        .route("/api/collections/{c}/records/{id}", get(view_any).patch(update_any).delete(delete_any))
        .route("/api/files/token", post(download::file_token).layer(small))
        .route("/api/files/{c}/{id}/{name}", get(download::file).head(download::file))
        .fallback(not_found);
    let most = files::body_limit(state.schema());
    let bounded = routes
        .merge(runtime)
        .layer(DefaultBodyLimit::max(most))
        .layer(BodyLimit(most))
        .layer(middleware::from_fn_with_state(deadlines, limits::bounds));
    http::layer(bounded.with_state(state))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The collection a runtime route names: only collections without generated handlers
/// (`_superusers`) are served here; anything else is unknown.
fn dynamic(app: &AppState, name: &str, write: bool) -> ApiResult<Arc<Coll>> {
    match app.collection(name) {
        Some(c) if c.ir.name == system::SUPERUSERS => Ok(c),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            if write { msg::MISSING_COLLECTION_WRITE } else { msg::MISSING_COLLECTION },
        )),
    }
}

async fn list_any(State(app): State<AppState>, Path(c): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
    let coll = dynamic(&app, &c, false)?;
    records::list(&app, coll, Arc::new(req)).await.map(Json)
}

async fn view_any(
    State(app): State<AppState>,
    Path((c, id)): Path<(String, String)>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = dynamic(&app, &c, false)?;
    records::view(&app, coll, id, Arc::new(req)).await.map(Json)
}

async fn create_any(State(app): State<AppState>, Path(c): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
    let coll = dynamic(&app, &c, true)?;
    records::create(&app, coll, Arc::new(req)).await.map(Json)
}

async fn update_any(
    State(app): State<AppState>,
    Path((c, id)): Path<(String, String)>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = dynamic(&app, &c, true)?;
    records::update(&app, coll, id, Arc::new(req)).await.map(Json)
}

async fn delete_any(
    State(app): State<AppState>,
    Path((c, id)): Path<(String, String)>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    let coll = dynamic(&app, &c, true)?;
    records::delete(&app, coll, id, Arc::new(req)).await.map(|()| StatusCode::NO_CONTENT)
}
