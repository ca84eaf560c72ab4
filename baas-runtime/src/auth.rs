//! Auth endpoints of auth collections (pocketbase-api.md §3.3): password sign-in, token
//! refresh, the auth methods document. The account lifecycle (verification, password reset,
//! email change) is in the `accounts` module.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baas_schema::ir::system;
use serde_json::{Value, json};

use crate::collection::{Coll, Record};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::records::{self, expand};
use crate::request::{Caller, RequestCx};
use crate::state::AppState;
use crate::{mfa, password, token};

fn auth_collection(app: &AppState, name: &str) -> ApiResult<Arc<Coll>> {
    app.collection(name)
        .filter(|c| c.ir.is_auth())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_AUTH_COLLECTION))
}

/// A signed token for `record` of `coll`: for `lifetime` seconds (the collection's default
/// when `None`), refreshable or not (an impersonation's is not).
pub fn issue_token(app: &AppState, coll: &Coll, record: &Record, lifetime: Option<i64>, refreshable: bool) -> String {
    let default = match coll.ir.auth.tokens.auth {
        Some(own) => u64::from(own),
        None if coll.ir.name == system::SUPERUSERS => app.settings().superuser_token_duration,
        None => app.settings().auth_token_duration,
    };
    let lifetime = lifetime.unwrap_or(i64::try_from(default).unwrap_or(i64::MAX));
    let id = record.get(system::ID).and_then(Value::as_str).unwrap_or_default();
    let key = record.get(system::TOKEN_KEY).and_then(Value::as_str).unwrap_or_default();
    let mut claims = token::auth_claims(id, &coll.ir.id, lifetime);
    claims.refreshable = Some(refreshable);
    token::issue(&claims, &token::signing_key(app.secret(), key))
}

/// `{token, record}` as the record itself sees it, shaped by `fields`/`expand`; `token` is
/// what [`issue_token`] made.
async fn auth_response(
    app: &AppState,
    coll: Arc<Coll>,
    record: Record,
    token: String,
    req: RequestCx,
    meta: Option<Value>,
) -> ApiResult<Json<Value>> {
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
    let mut body = json!({"token": token, "record": record});
    if let Some(meta) = meta {
        body["meta"] = meta;
    }
    Ok(Json(req.shape(body)))
}

/// The answer to a sign-in with `method` (`password`, `otp`): the token and record, unless
/// the collection's MFA asks for a second method (`401 {"mfaId"}`, see [`crate::mfa`]).
pub async fn signed_in(
    app: &AppState,
    coll: Arc<Coll>,
    record: Record,
    method: &'static str,
    req: RequestCx,
) -> ApiResult<Response> {
    signed_in_with(app, coll, record, method, req, None).await
}

/// [`signed_in`], with the `meta` an OAuth2 sign-in reports.
pub async fn signed_in_with(
    app: &AppState,
    coll: Arc<Coll>,
    record: Record,
    method: &'static str,
    req: RequestCx,
    meta: Option<Value>,
) -> ApiResult<Response> {
    let id = record.get(system::ID).and_then(Value::as_str).unwrap_or_default().to_owned();
    mfa::check(app, &coll, &id, method, &req).await?;
    let token = issue_token(app, &coll, &record, None, true);
    Ok(auth_response(app, coll, record, token, req, meta).await?.into_response())
}

/// `POST /api/collections/{c}/auth-with-password`
pub async fn auth_with_password(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Response> {
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
    // the fields to look the identity up in: the one asked for, or each identity field in turn
    let fields: Vec<String> = match text("identityField") {
        Some(field) if coll.ir.auth.identity_fields().contains(&field.as_str()) => vec![field],
        Some(field) => {
            tracing::debug!(%field, "not an identity field");
            return Err(ApiError::bad_request(msg::AUTH_FAILED));
        }
        None => coll.ir.auth.identity_fields().into_iter().map(str::to_owned).collect(),
    };
    // an account that failed too many sign-ins waits, from whichever address
    if !app.limiter().may_sign_in(&coll.ir.name, &identity) {
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests."));
    }
    let (coll2, wanted) = (coll.clone(), identity.clone());
    let record = app
        .db()
        .read(move |conn| -> ApiResult<Option<Record>> {
            for field in &fields {
                if let Some(record) = records::fetch_by(conn, &coll2, field, &wanted)? {
                    return Ok(Some(record));
                }
            }
            Ok(None)
        })
        .await?;
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
        Some(record) if ok => signed_in(&app, coll, record, "password", req).await,
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
    let raw = req.headers.get("authorization").and_then(|v| token::from_header(v));
    if raw.and_then(token::peek).and_then(|c| c.refreshable) != Some(true) {
        return Err(ApiError::forbidden("The current auth token is not refreshable."));
    }
    let token = issue_token(&app, &coll, &caller.record, None, true);
    auth_response(&app, coll, caller.record, token, req, None).await
}

/// `POST /api/collections/{c}/impersonate/{id}` `{duration}` (superusers): a token for the
/// record, as if it had signed in, that cannot be refreshed; it lasts `duration` seconds (the
/// collection's default when absent or 0).
pub async fn impersonate(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    if req.auth.is_none() {
        return Err(ApiError::unauthorized());
    }
    if !req.is_superuser() {
        return Err(ApiError::forbidden(msg::SUPERUSERS_ONLY));
    }
    let coll = auth_collection(&app, &name)?;
    let duration = req.body.as_ref().and_then(|b| b.get("duration")).and_then(Value::as_i64).unwrap_or(0);
    if duration < 0 {
        return Err(ApiError::invalid(
            "duration",
            "validation_min_greater_equal_than_required",
            "Must be no less than 0.",
        ));
    }
    let coll2 = coll.clone();
    let record = app
        .db()
        .read(move |conn| records::fetch_unchecked(conn, &coll2, &id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let token = issue_token(&app, &coll, &record, (duration > 0).then_some(duration), false);
    let mut as_record = RequestCx::anonymous();
    as_record.query = req.query.clone();
    auth_response(&app, coll, record, token, as_record, None).await
}

/// `GET /api/collections/{c}/auth-methods`
pub async fn auth_methods(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = auth_collection(&app, &name)?;
    let method =
        |enabled: bool, duration: u32| json!({"enabled": enabled, "duration": if enabled { duration } else { 0 }});
    let providers = app.oauth2().methods(&coll).await;
    let body = json!({
        "mfa": method(coll.ir.auth.mfa.enabled, coll.ir.auth.mfa.duration),
        "otp": method(coll.ir.auth.otp.enabled, coll.ir.auth.otp.duration),
        "password": {"identityFields": coll.ir.auth.identity_fields(), "enabled": true},
        "oauth2": {"providers": providers, "enabled": !coll.ir.auth.oauth2.providers.is_empty()},
        "authProviders": providers,
        "usernamePassword": false,
        "emailPassword": true,
    });
    Ok(Json(req.shape(body)))
}
