//! One-time passwords (pocketbase-api.md §3.3, `request-otp` / `auth-with-otp`), for auth
//! collections whose schema enables them (`auth: { otp: { enabled: true } }`).
//!
//! A request mails a code of `length` digits and answers its `otpId`; the code is kept only
//! as an argon2 hash in `_otps`, for `duration` seconds and [`MAX_ATTEMPTS`] wrong tries. An
//! unknown address gets an `otpId` too (one that matches nothing), after the same hashing
//! work, so the answer does not tell which addresses have accounts. Signing in with the code
//! spends it, and marks the account verified when the code went to its current address.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use baas_schema::ir::system;
use serde_json::{Value, json};

use crate::collection::Coll;
use crate::db::SqlValue;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::mail::templates::{Kind, Values};
use crate::request::RequestCx;
use crate::state::AppState;
use crate::{accounts, auth, id, outbox, password, records};

/// The table of outstanding codes (part of the runtime's bookkeeping tables).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _otps (
    id TEXT PRIMARY KEY NOT NULL,
    collection TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL,
    sent_to TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created BIGINT NOT NULL
);
";

/// Wrong codes an `otpId` takes before it is spent.
pub const MAX_ATTEMPTS: i64 = 5;

const DISABLED: &str = "The collection is not configured to allow OTP authentication.";

/// The auth collection `name`, if OTP is enabled for it.
fn otp_collection(app: &AppState, name: &str) -> ApiResult<Arc<Coll>> {
    let coll = accounts::auth_collection(app, name)?;
    if !coll.ir.auth.otp.enabled {
        return Err(ApiError::forbidden(DISABLED));
    }
    Ok(coll)
}

/// `POST /api/collections/{c}/request-otp` `{email}`: `{otpId}`, and a mail with the code
/// when the address has an account.
pub async fn request_otp(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Json<Value>> {
    let coll = otp_collection(&app, &name)?;
    let email = accounts::text(&req, "email");
    let mut errors = FieldErrors::new();
    if let Some(error) = accounts::email_error(&email) {
        errors.insert("email".into(), error);
    }
    accounts::field_errors(errors)?;
    let length = coll.ir.auth.otp.length.clamp(4, 16) as usize;
    let code = id::random_string(length, b"0123456789");
    let otp_id = id::new_id();
    // hashed whether or not the address has an account: the answer takes as long either way
    let plain = code.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&plain)).await.map_err(ApiError::internal)?;
    let (state, id_for_row) = (app.clone(), otp_id.clone());
    let written = app
        .db()
        .write(move |conn| {
            conn.transaction(|conn| -> ApiResult<bool> {
                let Some(record) = records::fetch_by(conn, &coll, system::EMAIL, &email)? else { return Ok(false) };
                let record_id = accounts::str_of(&record, system::ID).to_owned();
                let values = conn.placeholders(6);
                let sql = format!(
                    "INSERT INTO _otps (id, collection, record, hash, sent_to, created, attempts) VALUES ({values}, 0)"
                );
                conn.execute(
                    &sql,
                    &[
                        SqlValue::Text(id_for_row.clone()),
                        SqlValue::Text(coll.ir.id.clone()),
                        SqlValue::Text(record_id.clone()),
                        SqlValue::Text(hash),
                        SqlValue::Text(email.clone()),
                        SqlValue::Int(crate::time::unix_secs()),
                    ],
                )?;
                let settings = state.mail();
                let shown = accounts::without_secrets(&record);
                let values = Values {
                    app_name: &settings.app_name,
                    app_url: &settings.app_url,
                    token: "",
                    otp: &code,
                    otp_id: &id_for_row,
                    record: &shown,
                };
                let mail = Kind::Otp.template(&coll.ir.auth.templates).render(&email, &values);
                outbox::enqueue(conn, &mail.message(format!("otp:{record_id}")))?;
                Ok(true)
            })
        })
        .await?;
    if written {
        app.outbox().wake();
    }
    Ok(Json(json!({"otpId": otp_id})))
}

/// `POST /api/collections/{c}/auth-with-otp` `{otpId, password}`: the auth response, as for
/// a password (or, with MFA, the second step).
pub async fn auth_with_otp(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<axum::response::Response> {
    let coll = otp_collection(&app, &name)?;
    let (otp_id, code) = (accounts::text(&req, "otpId"), accounts::text(&req, "password"));
    let mut errors = FieldErrors::new();
    if otp_id.is_empty() {
        errors.insert("otpId".into(), FieldError::required());
    }
    if code.is_empty() {
        errors.insert("password".into(), FieldError::required());
    }
    accounts::field_errors(errors)?;
    let failed = || ApiError::bad_request(msg::AUTH_FAILED);
    let (coll2, otp2) = (coll.clone(), otp_id.clone());
    let row = app
        .db()
        .read(move |conn| {
            let sql = format!(
                "SELECT record, hash, sent_to, created FROM _otps WHERE id = {} AND collection = {}",
                conn.placeholder(1),
                conn.placeholder(2)
            );
            conn.query(&sql, &[SqlValue::Text(otp2), SqlValue::Text(coll2.ir.id.clone())])
        })
        .await?
        .pop()
        .ok_or_else(failed)?;
    let text = |i: usize| row.get(i).and_then(SqlValue::as_str).unwrap_or_default().to_owned();
    let (record_id, hash, sent_to) = (text(0), text(1), text(2));
    let created = row.get(3).and_then(SqlValue::as_i64).unwrap_or(0);
    if crate::time::unix_secs() - created > i64::from(coll.ir.auth.otp.duration) {
        return Err(failed());
    }
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&code, &hash)).await.map_err(ApiError::internal)?;
    // spend the code (or one of its tries), in one statement each
    let (otp3, ok) = (otp_id.clone(), matches);
    app.db()
        .write(move |conn| -> ApiResult<()> {
            let p1 = conn.placeholder(1);
            let sql = match ok {
                true => format!("DELETE FROM _otps WHERE id = {p1}"),
                false => format!("UPDATE _otps SET attempts = attempts + 1 WHERE id = {p1}"),
            };
            conn.execute(&sql, &[SqlValue::Text(otp3.clone())])?;
            if !ok {
                let sql = format!("DELETE FROM _otps WHERE id = {p1} AND attempts >= {MAX_ATTEMPTS}");
                conn.execute(&sql, &[SqlValue::Text(otp3)])?;
            }
            Ok(())
        })
        .await?;
    if !matches {
        return Err(failed());
    }
    let coll2 = coll.clone();
    let record =
        app.db().read(move |conn| records::fetch_unchecked(conn, &coll2, &record_id)).await?.ok_or_else(failed)?;
    // the code reached the address: an unverified account on it is verified now
    let record = match record.get(system::VERIFIED) == Some(&Value::Bool(false))
        && accounts::str_of(&record, system::EMAIL) == sent_to
    {
        true => accounts::mark_verified(&app, &coll, &record).await?,
        false => record,
    };
    auth::signed_in(&app, coll, record, "otp", req).await
}
