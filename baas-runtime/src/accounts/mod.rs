//! The account lifecycle of auth collections (pocketbase-api.md §3.3): verification, password
//! reset and email change. Each is a request that mails a token, written to the outbox in the
//! request's transaction, and a confirmation that spends the token through the records
//! engine's update (rules bypassed, hooks and realtime as for any update).
//!
//! Tokens are PocketBase's (`type` `verification`, `passwordReset`, `emailChange`, with the
//! address they were sent to), signed with a key per collection and kind plus the record's
//! `tokenKey`: a password or email change rotates the `tokenKey`, so every token outstanding
//! for the record dies. A request for an unknown address answers as for a known one.

pub mod oauth2;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use baas_schema::ir::system;
use serde_json::{Map, Value, json};

use crate::collection::{Coll, Record};
use crate::data::{Access, Store};
use crate::db::Conn;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::input::{PASSWORD_CONFIRM, password_error};
use crate::mail::templates::{Kind, Values};
use crate::records::{self, Engine};
use crate::request::RequestCx;
use crate::state::AppState;
use crate::{outbox, password, token};

/// Lifetimes of the tokens, in seconds (PocketBase's defaults).
const VERIFICATION_SECS: i64 = 259_200;
const PASSWORD_RESET_SECS: i64 = 1_800;
const EMAIL_CHANGE_SECS: i64 = 1_800;

/// How long after a verification or reset mail another one for the same account is not sent.
const RESEND_AFTER: Duration = Duration::from_secs(120);

/// One of the mailed tokens: its `type` claim, template, default lifetime, and the error code
/// a bad one gets.
#[derive(Clone, Copy)]
struct Purpose {
    kind: &'static str,
    template: Kind,
    lifetime: i64,
    invalid: &'static str,
}

impl Purpose {
    /// The token's lifetime for `coll`: the schema's `auth.tokens`, or the default.
    fn lifetime(&self, coll: &Coll) -> i64 {
        let tokens = &coll.ir.auth.tokens;
        let own = match self.template {
            Kind::Verification => tokens.verification,
            Kind::PasswordReset => tokens.password_reset,
            Kind::EmailChange => tokens.email_change,
            Kind::Otp => None,
        };
        own.map_or(self.lifetime, i64::from)
    }
}

const VERIFY: Purpose = Purpose {
    kind: token::VERIFICATION,
    template: Kind::Verification,
    lifetime: VERIFICATION_SECS,
    invalid: "validation_invalid_token_claims",
};
const RESET: Purpose = Purpose {
    kind: token::PASSWORD_RESET,
    template: Kind::PasswordReset,
    lifetime: PASSWORD_RESET_SECS,
    invalid: "validation_invalid_token",
};
const CHANGE_EMAIL: Purpose = Purpose {
    kind: token::EMAIL_CHANGE,
    template: Kind::EmailChange,
    lifetime: EMAIL_CHANGE_SECS,
    invalid: "validation_invalid_token",
};

pub(crate) fn auth_collection(app: &AppState, name: &str) -> ApiResult<Arc<Coll>> {
    app.collection(name)
        .filter(|c| c.ir.is_auth())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_AUTH_COLLECTION))
}

/// The body's text under `key` (`""` when absent).
pub(crate) fn text(req: &RequestCx, key: &str) -> String {
    req.body.as_ref().and_then(|b| b.get(key)).and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub(crate) fn field_errors(errors: FieldErrors) -> ApiResult<()> {
    if errors.is_empty() { Ok(()) } else { Err(ApiError::fields(msg::VALIDATION, errors)) }
}

/// What is wrong with `email` as an address, if anything.
pub(crate) fn email_error(email: &str) -> Option<FieldError> {
    if email.is_empty() {
        return Some(FieldError::required());
    }
    (!crate::input::is_email(email)).then(|| FieldError::new("validation_is_email", "Must be a valid email address."))
}

pub(crate) fn str_of<'r>(record: &'r Record, key: &str) -> &'r str {
    record.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `record` for a template's `{RECORD:field}`: never a password hash or `tokenKey`.
pub(crate) fn without_secrets(record: &Record) -> Record {
    let mut shown = record.clone();
    shown.remove(system::PASSWORD);
    shown.remove(system::TOKEN_KEY);
    shown
}

/// Marks `record` of `coll` verified through the records engine (as the system: hooks and
/// realtime as for any update), and returns it as it is now.
pub(crate) async fn mark_verified(app: &AppState, coll: &Arc<Coll>, record: &Record) -> ApiResult<Record> {
    let (name, id) = (coll.ir.name.clone(), str_of(record, system::ID).to_owned());
    let coll2 = coll.clone();
    records::write(app, Vec::new(), move |txn| {
        let req = RequestCx::system();
        Engine::new(txn, &req).update(Access::System, &name, &id, body(&[(system::VERIFIED, json!(true))]))?;
        records::fetch_unchecked(txn.conn, &coll2, &id)?.ok_or_else(ApiError::not_found)
    })
    .await
}

/// The mail carrying a `purpose` token for `record`, to `to` (for an email change, the new
/// address, which the token also names).
fn mail_token(app: &AppState, coll: &Coll, record: &Record, purpose: Purpose, to: &str) -> crate::mail::Mail {
    let id = str_of(record, system::ID);
    let mut claims =
        token::account_claims(purpose.kind, id, &coll.ir.id, str_of(record, system::EMAIL), purpose.lifetime(coll));
    if purpose.kind == token::EMAIL_CHANGE {
        claims.new_email = Some(to.to_owned());
    }
    let key = token::account_key(app.secret(), purpose.kind, &coll.ir.id, str_of(record, system::TOKEN_KEY));
    let token = token::issue(&claims, &key);
    let shown = without_secrets(record);
    let settings = app.mail();
    let values = Values {
        app_name: &settings.app_name,
        app_url: &settings.app_url,
        token: &token,
        otp: "",
        otp_id: "",
        record: &shown,
    };
    purpose.template.template(&coll.ir.auth.templates).render(to, &values)
}

/// Writes the `purpose` mail for the account of `email`, unless there is none, it needs none
/// (a verified account asking for verification) or one went out within [`RESEND_AFTER`]; then
/// wakes the outbox once it committed.
async fn request_mail(app: &AppState, coll: Arc<Coll>, email: String, purpose: Purpose) -> ApiResult<()> {
    let state = app.clone();
    let written = app
        .db()
        .write(move |conn| {
            conn.transaction(|conn| -> ApiResult<bool> {
                let Some(record) = records::fetch_by(conn, &coll, system::EMAIL, &email)? else { return Ok(false) };
                if purpose.kind == token::VERIFICATION && record.get(system::VERIFIED) == Some(&Value::Bool(true)) {
                    return Ok(false);
                }
                let topic = format!("{}:{}", purpose.kind, str_of(&record, system::ID));
                if outbox::recently(conn, &topic, RESEND_AFTER)? {
                    return Ok(false);
                }
                let mail = mail_token(&state, &coll, &record, purpose, &email);
                outbox::enqueue(conn, &mail.message(topic))?;
                Ok(true)
            })
        })
        .await?;
    if written {
        app.outbox().wake();
    }
    Ok(())
}

/// The record a `purpose` token names, read in `conn`'s transaction, if the token is valid
/// for it: signed with its current key, unexpired, for this collection, and sent to the
/// address the record still has. Otherwise the field error `token` gets.
fn spend(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    raw: &str,
    purpose: Purpose,
) -> ApiResult<(Record, token::Claims)> {
    let invalid = |code: &'static str| ApiError::invalid("token", code, "Invalid or expired token.");
    let peeked = token::peek(raw).filter(|c| c.kind == purpose.kind).ok_or_else(|| invalid(purpose.invalid))?;
    if peeked.collection_id != coll.ir.id {
        return Err(invalid("validation_token_collection_mismatch"));
    }
    let record = records::fetch_unchecked(conn, coll, &peeked.id)?.ok_or_else(|| invalid(purpose.invalid))?;
    let key = token::account_key(app.secret(), purpose.kind, &coll.ir.id, str_of(&record, system::TOKEN_KEY));
    let claims = token::verify(raw, &key).ok_or_else(|| invalid(purpose.invalid))?;
    if claims.id != str_of(&record, system::ID) || claims.email.as_deref() != Some(str_of(&record, system::EMAIL)) {
        return Err(invalid(purpose.invalid));
    }
    Ok((record, claims))
}

/// Spends a `purpose` token and applies the update `change` makes of the record and the
/// token's claims, in one transaction, as the system (hooks and realtime as for any update).
async fn confirm(
    app: &AppState,
    coll: Arc<Coll>,
    raw: String,
    purpose: Purpose,
    change: impl FnOnce(&Record, &token::Claims) -> ApiResult<Option<Record>> + Send + 'static,
) -> ApiResult<()> {
    let state = app.clone();
    records::write(app, Vec::new(), move |txn| {
        let (record, claims) = spend(txn.conn, &state, &coll, &raw, purpose)?;
        let Some(body) = change(&record, &claims)? else { return Ok(()) };
        let req = RequestCx::system();
        Engine::new(txn, &req).update(Access::System, &coll.ir.name, &claims.id, body).map(drop)
    })
    .await
}

fn body(pairs: &[(&str, Value)]) -> Record {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Map<_, _>>()
}

/// `POST /api/collections/{c}/request-verification` `{email}`: 204, mail or not.
pub async fn request_verification(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    request(app, name, req, VERIFY).await
}

/// `POST /api/collections/{c}/request-password-reset` `{email}`: 204, mail or not.
pub async fn request_password_reset(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    request(app, name, req, RESET).await
}

async fn request(app: AppState, name: String, req: RequestCx, purpose: Purpose) -> ApiResult<StatusCode> {
    let coll = auth_collection(&app, &name)?;
    let email = text(&req, "email");
    let mut errors = FieldErrors::new();
    if let Some(error) = email_error(&email) {
        errors.insert("email".into(), error);
    }
    field_errors(errors)?;
    request_mail(&app, coll, email, purpose).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{c}/confirm-verification` `{token}`: the account is verified.
pub async fn confirm_verification(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    let coll = auth_collection(&app, &name)?;
    let raw = text(&req, "token");
    if raw.is_empty() {
        return Err(ApiError::invalid("token", "validation_required", "Cannot be blank."));
    }
    confirm(&app, coll, raw, VERIFY, |record, _| {
        let verified = record.get(system::VERIFIED) == Some(&Value::Bool(true));
        Ok((!verified).then(|| body(&[(system::VERIFIED, json!(true))])))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{c}/confirm-password-reset` `{token, password, passwordConfirm}`:
/// the new password is set (and the address, which the mail reached, counts as verified).
pub async fn confirm_password_reset(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    let coll = auth_collection(&app, &name)?;
    let (raw, password, confirmation) = (text(&req, "token"), text(&req, "password"), text(&req, PASSWORD_CONFIRM));
    let mut errors = FieldErrors::new();
    if raw.is_empty() {
        errors.insert("token".into(), FieldError::required());
    }
    match password_error(&password) {
        _ if password.is_empty() => drop(errors.insert("password".into(), FieldError::required())),
        Some(error) => drop(errors.insert("password".into(), error)),
        None => {}
    }
    if confirmation.is_empty() {
        errors.insert(PASSWORD_CONFIRM.into(), FieldError::required());
    } else if confirmation != password {
        errors.insert(PASSWORD_CONFIRM.into(), FieldError::new("validation_values_mismatch", "Values don't match."));
    }
    field_errors(errors)?;
    confirm(&app, coll, raw, RESET, move |_, _| {
        Ok(Some(body(&[
            (system::PASSWORD, json!(password)),
            (PASSWORD_CONFIRM, json!(password)),
            (system::VERIFIED, json!(true)),
        ])))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{c}/request-email-change` `{newEmail}` (signed in): a mail to the
/// new address.
pub async fn request_email_change(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    let coll = auth_collection(&app, &name)?;
    let caller = req.auth.clone().ok_or_else(ApiError::unauthorized)?;
    if caller.collection.ir.name != coll.ir.name {
        return Err(ApiError::forbidden(msg::NOT_ALLOWED));
    }
    let new_email = text(&req, "newEmail");
    let mut errors = FieldErrors::new();
    if let Some(error) = email_error(&new_email) {
        errors.insert("newEmail".into(), error);
    }
    field_errors(errors)?;
    let state = app.clone();
    app.db()
        .write(move |conn| {
            conn.transaction(|conn| -> ApiResult<()> {
                if records::fetch_by(conn, &coll, system::EMAIL, &new_email)?.is_some() {
                    return Err(ApiError::invalid(
                        "newEmail",
                        "validation_record_email_exists",
                        "User email already exists.",
                    ));
                }
                let id = str_of(&caller.record, system::ID);
                let record = records::fetch_unchecked(conn, &coll, id)?.ok_or_else(ApiError::unauthorized)?;
                let mail = mail_token(&state, &coll, &record, CHANGE_EMAIL, &new_email);
                outbox::enqueue(conn, &mail.message(format!("{}:{id}", token::EMAIL_CHANGE)))?;
                Ok(())
            })
        })
        .await?;
    app.outbox().wake();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{c}/confirm-email-change` `{token, password}`: the account moves to
/// the new address (verified: the mail reached it), with the account's password as proof.
pub async fn confirm_email_change(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<StatusCode> {
    let coll = auth_collection(&app, &name)?;
    let (raw, given) = (text(&req, "token"), text(&req, "password"));
    let mut errors = FieldErrors::new();
    if raw.is_empty() {
        errors.insert("token".into(), FieldError::required());
    }
    if given.is_empty() {
        errors.insert("password".into(), FieldError::required());
    }
    field_errors(errors)?;
    // the password is checked first, outside the write (hashing is slow)
    let (state, coll2, raw2) = (app.clone(), coll.clone(), raw.clone());
    let (record, _) = app.db().read(move |conn| spend(conn, &state, &coll2, &raw2, CHANGE_EMAIL)).await?;
    let hash = str_of(&record, system::PASSWORD).to_owned();
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&given, &hash)).await.map_err(ApiError::internal)?;
    if !matches {
        return Err(ApiError::invalid(
            "password",
            "validation_invalid_password",
            "Missing or invalid auth record password.",
        ));
    }
    confirm(&app, coll, raw, CHANGE_EMAIL, move |_, claims| {
        let new_email = claims.new_email.clone().unwrap_or_default();
        Ok(Some(body(&[(system::EMAIL, json!(new_email)), (system::VERIFIED, json!(true))])))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::email_error;

    #[test]
    fn addresses_are_checked_before_anything_is_looked_up() {
        assert_eq!(email_error("").map(|e| e.code), Some("validation_required"));
        assert_eq!(email_error("nobody").map(|e| e.code), Some("validation_is_email"));
        assert_eq!(email_error("a@b").map(|e| e.code), Some("validation_is_email"));
        assert_eq!(email_error("a b@c.d").map(|e| e.code), Some("validation_is_email"));
        assert!(email_error("ann@example.com").is_none());
    }
}
