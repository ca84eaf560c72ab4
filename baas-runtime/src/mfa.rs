//! Multi-factor authentication, as PocketBase does it, for auth collections whose schema
//! enables it (`auth: { mfa: { enabled: true } }`): a first sign-in method that succeeds
//! answers `401 {"mfaId": …}` instead of a token; a sign-in with a different method that
//! carries that `mfaId` (in the body or the query, as the SDK sends options) within
//! `duration` seconds completes it. The pending sessions are rows of `_mfas`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::collection::Coll;
use crate::db::SqlValue;
use crate::error::{ApiError, ApiResult};
use crate::id;
use crate::request::RequestCx;
use crate::state::AppState;

/// The table of pending MFA sessions (part of the runtime's bookkeeping tables).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _mfas (
    id TEXT PRIMARY KEY NOT NULL,
    collection TEXT NOT NULL,
    record TEXT NOT NULL,
    method TEXT NOT NULL,
    created BIGINT NOT NULL
);
";

/// Whether record `record_id` of `coll`, just signed in with `method` (`password`, `otp`,
/// `oauth2`), may have its token: always without MFA; with MFA, when the request carries the
/// `mfaId` of an earlier sign-in with another method (which is spent). Otherwise the error to
/// answer: `401 {"mfaId"}` opening a session, or 400 for a bad `mfaId`.
pub async fn check(
    app: &AppState,
    coll: &Coll,
    record_id: &str,
    method: &'static str,
    req: &RequestCx,
) -> ApiResult<()> {
    let mfa = &coll.ir.auth.mfa;
    if !mfa.enabled {
        return Ok(());
    }
    let given = req
        .body
        .as_ref()
        .and_then(|b| b.get("mfaId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| req.query.get("mfaId").cloned())
        .filter(|s| !s.is_empty());
    let (collection, record, duration) = (coll.ir.id.clone(), record_id.to_owned(), i64::from(mfa.duration));
    match given {
        None => {
            let session = id::new_id();
            let row = session.clone();
            app.db()
                .write(move |conn| -> ApiResult<()> {
                    let values = conn.placeholders(5);
                    let sql = format!("INSERT INTO _mfas (id, collection, record, method, created) VALUES ({values})");
                    let params = [
                        SqlValue::Text(row),
                        SqlValue::Text(collection),
                        SqlValue::Text(record),
                        SqlValue::Text(method.to_owned()),
                        SqlValue::Int(crate::time::unix_secs()),
                    ];
                    conn.execute(&sql, &params)?;
                    Ok(())
                })
                .await?;
            Err(ApiError::raw(StatusCode::UNAUTHORIZED, json!({"mfaId": session})))
        }
        Some(session) => {
            // spent by the sign-in that completes it
            let spent = app
                .db()
                .write(move |conn| -> ApiResult<bool> {
                    let p = |i| conn.placeholder(i);
                    let sql = format!(
                        "DELETE FROM _mfas WHERE id = {} AND collection = {} AND record = {} AND method <> {} \
                         AND created >= {}",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5)
                    );
                    let params = [
                        SqlValue::Text(session),
                        SqlValue::Text(collection),
                        SqlValue::Text(record),
                        SqlValue::Text(method.to_owned()),
                        SqlValue::Int(crate::time::unix_secs() - duration),
                    ];
                    Ok(conn.execute(&sql, &params)? == 1)
                })
                .await?;
            match spent {
                true => Ok(()),
                false => Err(ApiError::invalid("mfaId", "validation_invalid_mfa", "Invalid or expired MFA session.")),
            }
        }
    }
}
