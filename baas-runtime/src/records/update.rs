//! `update`: a record changed, checked against the update rule before and after.

use std::sync::Arc;

use baas_schema::ir::{Action, FieldType, system};
use serde_json::Value;

use crate::collection::{Coll, Event, Hook, Record};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::files;
use crate::input::{self, Mode, Prepared, Writer};
use crate::request::RequestCx;
use crate::state::{AppState, ChangeKind};
use crate::{id, password, time};

use super::expand;

use super::*;

/// An update's validated input: changed values and a new password hash.
pub type PreparedUpdate = (Prepared, Option<String>);

/// Validates an update body against the stored record (checking `oldPassword`) and hashes a
/// new password.
pub fn prepare_update(coll: &Coll, existing: &Record, req: &RequestCx) -> ApiResult<PreparedUpdate> {
    let body = req.body.clone().unwrap_or_default();
    let is_self = req
        .auth
        .as_ref()
        .is_some_and(|a| a.collection.ir.name == coll.ir.name && a.record.get("id") == existing.get("id"));
    let caller = Writer { superuser: req.is_superuser(), is_self };
    let fail = |errors| ApiError::fields(msg::UPDATE_FAILED, errors);
    let mut prepared = input::prepare(&coll.ir, &body, Mode::Update { existing }, &caller).map_err(fail)?;
    prepared.values.extend(files::resolve(&coll.ir, &body, &req.uploads, Some(existing)).map_err(fail)?);
    if let Some(old) = &prepared.old_password {
        let stored = existing.get(system::PASSWORD).and_then(Value::as_str).unwrap_or_default();
        if !password::verify(old, stored) {
            let mut errors = FieldErrors::new();
            errors.insert(
                input::OLD_PASSWORD.into(),
                FieldError::new("validation_invalid_old_password", "Missing or invalid old password."),
            );
            return Err(fail(errors));
        }
    }
    let hash = prepared.password.as_deref().map(password::hash);
    Ok((prepared, hash))
}

/// `PATCH /api/collections/{c}/records/{id}`
pub async fn update(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<Value> {
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::UPDATE_FAILED));
    }
    gate(&coll, Action::Update, &req, app.db().dialect())?;
    // Read through the update rule first: a hidden record is a 404 before anything else.
    let (coll2, req2, id2) = (coll.clone(), req.clone(), id.clone());
    let existing = app
        .db()
        .read(move |conn| {
            let gate = gate(&coll2, Action::Update, &req2, conn.dialect())?;
            fetch(conn, &coll2, &id2, &gate, &req2)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    let (coll2, req2) = (coll.clone(), req.clone());
    let prepared =
        off_runtime_if(hashes_password(&coll, &req), move || prepare_update(&coll2, &existing, &req2)).await??;
    let written = files::store(app, &coll, &id, &files::referenced(&coll, &prepared.0.values, &req.uploads)).await?;
    let req2 = req.clone();
    let record = write(app, written, move |txn| update_in(txn, &coll, &id, &req2, Some(prepared))).await?;
    Ok(shape(record, &req))
}

/// The update itself, inside the caller's transaction. `prepared` may be `None` when the
/// stored record was not known beforehand (batch, custom code); it is then validated here.
/// Files the update leaves unreferenced go to the transaction's trash, for deletion once it
/// commits.
pub fn update_in(
    txn: &Txn<'_, '_>,
    coll: &Coll,
    id: &str,
    req: &RequestCx,
    prepared: Option<PreparedUpdate>,
) -> ApiResult<Record> {
    let (conn, app) = (txn.conn, txn.app);
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::UPDATE_FAILED));
    }
    // Re-read inside the transaction: the record may have changed or gone.
    let gate = gate(coll, Action::Update, req, conn.dialect())?;
    let old = fetch_for_update(conn, coll, id, &gate, req)?.ok_or_else(ApiError::not_found)?;
    let (prepared, hash) = match prepared {
        Some(p) => p,
        None => prepare_update(coll, &old, req)?,
    };
    let mut record = old.clone();
    for (k, v) in prepared.values {
        record.insert(k, v);
    }
    // File fields are settled against the record as it is now: only names it still holds are kept.
    let body = req.body.clone().unwrap_or_default();
    let files = files::resolve(&coll.ir, &body, &req.uploads, Some(&old))
        .map_err(|errors| ApiError::fields(msg::UPDATE_FAILED, errors))?;
    record.extend(files);
    // a new password or email ends every token outstanding for the record
    let hash_set = hash.is_some();
    let moved = coll.ir.is_auth() && record.get(system::EMAIL) != old.get(system::EMAIL);
    if let Some(hash) = hash {
        record.insert(system::PASSWORD.into(), Value::String(hash));
    }
    if hash_set || moved {
        record.insert(system::TOKEN_KEY.into(), Value::String(id::token_key()));
    }
    let now = time::now();
    for f in &coll.ir.fields {
        if let FieldType::Autodate { on_update: true, .. } = f.ty {
            record.insert(f.name.clone(), Value::String(now.clone()));
        }
    }
    let engine = Engine::new(txn, req);
    let tx = hook_tx(&engine, false);
    let edit = |r: &mut Record| coll.hooks.before_update(&old, r, &tx);
    before_hook(coll, Hook::BeforeUpdate, &mut record, msg::UPDATE_FAILED, edit)?;
    check_relations(conn, app, coll, &record, msg::UPDATE_FAILED)?;
    update_row(conn, coll, &record).map_err(|e| write_error(e, msg::UPDATE_FAILED))?;
    txn.trash().replaced(coll, &old, &record);
    app.changes().changed(conn, coll, ChangeKind::Update, &record);
    coll.hooks.after_update(&old, &record, &tx).map_err(|e| e.stopped(msg::UPDATE_FAILED))?;
    committed(txn, coll, Event::Update, &record, req)?;
    let record = present(coll, record, req);
    let mut out = expand::expand_all(app, conn, vec![record], coll, req)?;
    Ok(out.pop().unwrap_or_default())
}
