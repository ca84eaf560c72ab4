//! Auth endpoints of auth collections (pocketbase-api.md §3.3): password sign-in, token
//! refresh, the auth methods document. The account lifecycle (verification, password reset,
//! email change) is in [`crate::accounts`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use baas_schema::ir::system;
use serde_json::{Value, json};

use crate::collection::{Coll, Record};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::records::{self, expand};
use crate::request::{Caller, RequestCx};
use crate::state::AppState;
use crate::{password, token};

fn auth_collection(app: &AppState, name: &str) -> ApiResult<Arc<Coll>> {
    app.collection(name)
        .filter(|c| c.ir.is_auth())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_AUTH_COLLECTION))
}

/// A signed token for `record` of `coll`.
pub fn issue_token(app: &AppState, coll: &Coll, record: &Record) -> String {
    let lifetime = if coll.ir.name == system::SUPERUSERS {
        app.settings().superuser_token_duration
    } else {
        app.settings().auth_token_duration
    };
    let id = record.get(system::ID).and_then(Value::as_str).unwrap_or_default();
    let key = record.get(system::TOKEN_KEY).and_then(Value::as_str).unwrap_or_default();
    let claims = token::auth_claims(id, &coll.ir.id, lifetime as i64);
    token::issue(&claims, &token::signing_key(app.secret(), key))
}

/// `{token, record}` as the record itself sees it, shaped by `fields`/`expand`.
async fn auth_response(app: &AppState, coll: Arc<Coll>, record: Record, req: RequestCx) -> ApiResult<Json<Value>> {
    let token = issue_token(app, &coll, &record);
    let mut req = req;
    req.auth = Some(Caller { collection: coll.clone(), record: record.clone() });
    let req = Arc::new(req);
    let app2 = app.clone();
    let req2 = req.clone();
    let record = app
        .db()
        .read(move |conn| -> ApiResult<_> {
            let record = records::present(&coll, record, &req2);
            let mut out = expand::expand_all(&app2, conn, vec![record], &coll, &req2)?;
            Ok(out.pop().unwrap_or_default())
        })
        .await?;
    let body = json!({"token": token, "record": record});
    Ok(Json(req.shape(body)))
}

/// `POST /api/collections/{c}/auth-with-password`
pub async fn auth_with_password(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = auth_collection(&app, &name)?;
    let body = req.body.clone().unwrap_or_default();
    let text = |k: &str| body.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let (identity, password) = (text("identity"), text("password"));
    let mut errors = FieldErrors::new();
    if identity.is_none() {
        errors.insert("identity".into(), FieldError::required());
    }
    if password.is_none() {
        errors.insert("password".into(), FieldError::required());
    }
    let (Some(identity), Some(password)) = (identity, password) else {
        return Err(ApiError::fields(msg::VALIDATION, errors));
    };
    if let Some(field) = text("identityField").filter(|f| f != system::EMAIL) {
        tracing::debug!(%field, "unsupported identity field");
        return Err(ApiError::bad_request(msg::AUTH_FAILED));
    }
    // an account that failed too many sign-ins waits, from whichever address
    if !app.limiter().may_sign_in(&coll.ir.name, &identity) {
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests."));
    }
    let (coll2, wanted) = (coll.clone(), identity.clone());
    let record = app.db().read(move |conn| records::fetch_by(conn, &coll2, system::EMAIL, &wanted)).await?;
    // Verify even when nobody has this identity, so timing does not tell which emails exist.
    let stored = record.as_ref().and_then(|r| r.get(system::PASSWORD)).and_then(Value::as_str).map(str::to_owned);
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => password::verify(&password, &hash),
        None => {
            let _ = password::verify(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(ApiError::internal)?;
    match record {
        Some(record) if ok => auth_response(&app, coll, record, req).await,
        _ => {
            app.limiter().failed_sign_in(&coll.ir.name, &identity);
            Err(ApiError::bad_request(msg::AUTH_FAILED))
        }
    }
}

/// A hash of a random password, verified against when the identity is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash(&crate::id::token_key()))
}

/// `POST /api/collections/{c}/auth-refresh`
pub async fn auth_refresh(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = auth_collection(&app, &name)?;
    let caller = req.auth.clone().ok_or_else(ApiError::unauthorized)?;
    if caller.collection.ir.name != coll.ir.name {
        return Err(ApiError::unauthorized());
    }
    auth_response(&app, coll, caller.record, req).await
}

/// `GET /api/collections/{c}/auth-methods`
pub async fn auth_methods(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    auth_collection(&app, &name)?;
    let body = json!({
        "mfa": {"enabled": false, "duration": 0},
        "otp": {"enabled": false, "duration": 0},
        "password": {"identityFields": ["email"], "enabled": true},
        "oauth2": {"providers": [], "enabled": false},
        "authProviders": [],
        "usernamePassword": false,
        "emailPassword": true,
    });
    Ok(Json(req.shape(body)))
}

/// `POST .../request-otp`: OTP is not enabled.
pub async fn request_otp(State(app): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    auth_collection(&app, &name)?;
    Err(ApiError::forbidden("The collection is not configured to allow OTP authentication."))
}
