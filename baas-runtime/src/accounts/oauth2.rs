//! OAuth2 sign-in endpoints (see [`crate::oauth2`] for the providers): `auth-with-oauth2`,
//! and `/api/oauth2-redirect` for the SDK's popup flow.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Response};
use baas_schema::ir::system;
use serde_json::{Map, Value, json};

use crate::collection::{Coll, Record};
use crate::data::{Access, Store};
use crate::db::{Conn, DbError, SqlValue};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::oauth2::{TOPIC, provider};
use crate::records::{self, Engine};
use crate::request::RequestCx;
use crate::state::AppState;
use crate::{auth, id};

/// `POST /api/collections/{c}/auth-with-oauth2`
pub async fn auth_with_oauth2(
    State(app): State<AppState>,
    Path(name): Path<String>,
    req: RequestCx,
) -> ApiResult<Response> {
    let coll = super::auth_collection(&app, &name)?;
    let (provider_name, code) = (super::text(&req, "provider"), super::text(&req, "code"));
    let verifier = super::text(&req, "codeVerifier");
    let redirect = Some(super::text(&req, "redirectURL"))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| super::text(&req, "redirectUrl"));
    let mut errors = FieldErrors::new();
    for (key, value) in [("provider", &provider_name), ("code", &code), ("redirectURL", &redirect)] {
        if value.is_empty() {
            errors.insert(key.into(), FieldError::required());
        }
    }
    super::field_errors(errors)?;
    let oauth2 = app.oauth2();
    let Some(provider) = oauth2.of(&coll).find(|p| p.name == provider_name) else {
        return Err(ApiError::invalid(
            "provider",
            "validation_invalid_provider",
            format!("Provider with name {provider_name} is missing or is not enabled."),
        ));
    };
    let user = provider.sign_in(&oauth2.http, &code, &verifier, &redirect).await.map_err(|why| {
        tracing::warn!("oauth2: {why}");
        ApiError::bad_request(msg::AUTH_FAILED)
    })?;
    let create_data =
        req.body.as_ref().and_then(|b| b.get("createData")).and_then(Value::as_object).cloned().unwrap_or_default();
    let (record, is_new) = link(&app, &coll, &provider.name, &user, create_data, &req).await?;
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::seconds(user.expires_in.max(0));
    let meta = json!({
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "email": user.email,
        "isNew": is_new,
        "avatarURL": user.avatar_url,
        "rawUser": user.raw,
        "accessToken": user.access_token,
        "refreshToken": user.refresh_token,
        "expiry": crate::time::format(expiry),
    });
    auth::signed_in_with(&app, coll, record, "oauth2", req, Some(meta)).await
}

/// The record the provider's `user` signs in as, and whether it is new: the one linked to
/// it; else the one with the address the provider vouches for (now linked, and verified);
/// else a new one made from `createData` and that address, through the create pipeline as the
/// caller (the create rule applies), linked in the same transaction.
async fn link(
    app: &AppState,
    coll: &Arc<Coll>,
    provider: &str,
    user: &provider::User,
    create_data: Map<String, Value>,
    req: &RequestCx,
) -> ApiResult<(Record, bool)> {
    let (coll2, provider2, user_id) = (coll.clone(), provider.to_owned(), user.id.clone());
    let linked = app.db().read(move |conn| -> ApiResult<Option<Record>> {
        let Some(record_id) = linked_record(conn, &coll2, &provider2, &user_id)? else { return Ok(None) };
        records::fetch_unchecked(conn, &coll2, &record_id)
    });
    if let Some(record) = linked.await? {
        return Ok((record, false));
    }
    let vouched = user.email_verified && !user.email.is_empty();
    let (coll2, email) = (coll.clone(), user.email.clone());
    let by_email = match vouched {
        true => app.db().read(move |conn| records::fetch_by(conn, &coll2, system::EMAIL, &email)).await?,
        false => None,
    };
    let (coll2, provider2, user_id) = (coll.clone(), provider.to_owned(), user.id.clone());
    let mut body = create_data;
    let (record, is_new) = match by_email {
        Some(record) => {
            let record_id = super::str_of(&record, system::ID).to_owned();
            app.db()
                .write(move |conn| conn.transaction(|conn| insert_link(conn, &coll2, &record_id, &provider2, &user_id)))
                .await?;
            (record, false)
        }
        None => {
            if !user.email.is_empty() && !body.contains_key(system::EMAIL) {
                body.insert(system::EMAIL.into(), json!(user.email));
            }
            let password = id::random_string(40, id::TOKEN_KEY_ALPHABET);
            body.insert(system::PASSWORD.into(), json!(password));
            body.insert(crate::input::PASSWORD_CONFIRM.into(), json!(password));
            let caller = RequestCx { auth: None, ..req.with_body(None) };
            let name = coll.ir.name.clone();
            let record = records::write(app, Vec::new(), move |txn| {
                let created = Engine::new(txn, &caller).create(Access::Caller, &name, body)?;
                let record_id = super::str_of(&created, system::ID).to_owned();
                insert_link(txn.conn, &coll2, &record_id, &provider2, &user_id)?;
                records::fetch_unchecked(txn.conn, &coll2, &record_id)?.ok_or_else(ApiError::not_found)
            })
            .await
            .map_err(|e| e.stopped(msg::CREATE_FAILED))?;
            (record, true)
        }
    };
    // the provider vouches for the address: the account on it counts as verified
    let unverified = record.get(system::VERIFIED) == Some(&Value::Bool(false));
    if vouched && unverified && super::str_of(&record, system::EMAIL) == user.email {
        return Ok((super::mark_verified(app, coll, &record).await?, is_new));
    }
    Ok((record, is_new))
}

fn linked_record(conn: &Conn<'_>, coll: &Coll, provider: &str, user_id: &str) -> Result<Option<String>, DbError> {
    let p = |i| conn.placeholder(i);
    let sql = format!(
        "SELECT recordRef FROM _externalAuths WHERE collectionRef = {} AND provider = {} AND providerId = {}",
        p(1),
        p(2),
        p(3)
    );
    let params = [SqlValue::Text(coll.ir.id.clone()), SqlValue::Text(provider.into()), SqlValue::Text(user_id.into())];
    Ok(conn
        .query(&sql, &params)?
        .pop()
        .and_then(|row| row.into_iter().next())
        .and_then(|c| c.as_str().map(str::to_owned)))
}

fn insert_link(conn: &Conn<'_>, coll: &Coll, record_id: &str, provider: &str, user_id: &str) -> Result<(), DbError> {
    let now = crate::time::now();
    let values = conn.placeholders(7);
    let sql = format!(
        "INSERT INTO _externalAuths (id, collectionRef, recordRef, provider, providerId, created, updated) \
         VALUES ({values}) ON CONFLICT DO NOTHING"
    );
    let params = [
        SqlValue::Text(id::new_id()),
        SqlValue::Text(coll.ir.id.clone()),
        SqlValue::Text(record_id.into()),
        SqlValue::Text(provider.into()),
        SqlValue::Text(user_id.into()),
        SqlValue::Text(now.clone()),
        SqlValue::Text(now),
    ];
    conn.execute(&sql, &params).map(drop)
}

/// `GET /api/oauth2-redirect?code=…&state=…`: where a provider sends the browser back.
pub async fn redirect_get(State(app): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Html<String> {
    redirected(&app, params).await
}

/// `POST /api/oauth2-redirect` (a provider answering with `response_mode=form_post`, as
/// Apple does).
pub async fn redirect_post(State(app): State<AppState>, Form(params): Form<HashMap<String, String>>) -> Html<String> {
    redirected(&app, params).await
}

/// Hands the code to the realtime client `state` names, and answers the browser a page it
/// may close.
async fn redirected(app: &AppState, params: HashMap<String, String>) -> Html<String> {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let (state, code, error) = (get("state"), get("code"), get("error"));
    let data = json!({"state": state, "code": code, "error": error});
    let app2 = app.clone();
    let sent = app
        .db()
        .write(move |conn| {
            conn.transaction(|conn| app2.changes().message(conn, TOPIC, &data).map_err(ApiError::internal))
        })
        .await;
    if let Err(e) = sent {
        tracing::warn!("oauth2: the redirect could not reach its client: {e}");
    }
    let text = match (error.is_empty(), code.is_empty()) {
        (true, false) => "Signed in. You can close this window.".to_owned(),
        (false, _) => format!("Sign-in failed: {}", crate::mail::escape_html(&error)),
        (true, true) => "Sign-in failed: the provider sent no code.".to_owned(),
    };
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Sign-in</title><p>{text}</p><script>window.close()</script>\n"
    ))
}
