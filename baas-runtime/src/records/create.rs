//! `create`: a new record, validated and checked against the create rule inside the write
//! transaction.

use std::sync::Arc;

use baas_schema::ir::{Action, FieldType, system};
use baas_schema::sql::quote;
use serde_json::{Map, Value};

use crate::collection::{Coll, Event, Hook, Record};
use crate::db::{Conn, SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::files::{self};
use crate::input::{self, Mode, Prepared, Writer};
use crate::request::RequestCx;
use crate::state::{AppState, ChangeKind};
use crate::{id, password, time};

use super::expand;

use super::*;

/// A create's validated input: the values and the password hash, or the field errors.
pub type PreparedCreate = Result<(Prepared, Option<String>), FieldErrors>;

/// Validates a create body and its uploads, decides the record's id (its files are stored
/// under it) and hashes its password (slow on purpose: call off the runtime).
pub fn prepare_create(coll: &Coll, req: &RequestCx) -> PreparedCreate {
    let body = req.body.clone().unwrap_or_default();
    let caller = Writer { superuser: req.is_superuser(), is_self: false };
    let prepared = input::prepare(&coll.ir, &body, Mode::Create, &caller);
    let (mut prepared, files) = match (prepared, files::resolve(&coll.ir, &body, &req.uploads, None)) {
        (Ok(p), Ok(files)) => (p, files),
        (Err(mut errors), Err(file_errors)) => {
            errors.extend(file_errors);
            return Err(errors);
        }
        (Err(errors), Ok(_)) | (Ok(_), Err(errors)) => return Err(errors),
    };
    prepared.values.extend(files);
    prepared.values.entry(system::ID).or_insert_with(|| Value::String(id::new_id()));
    let hash = prepared.password.as_deref().map(password::hash);
    Ok((prepared, hash))
}

/// Whether preparing this write hashes a password: argon2 takes tens of milliseconds of CPU on
/// purpose, which must not stall the async runtime's threads.
pub(super) fn hashes_password(coll: &Coll, req: &RequestCx) -> bool {
    coll.ir.is_auth() && req.body.as_ref().is_some_and(|b| b.contains_key(system::PASSWORD))
}

/// Runs `f` on the blocking pool when it is `slow`, here otherwise: validating a body takes
/// microseconds, and the hop to another thread and back costs two thread wake-ups.
pub(super) async fn off_runtime_if<T: Send + 'static>(
    slow: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    if slow { tokio::task::spawn_blocking(f).await.map_err(ApiError::internal) } else { Ok(f()) }
}

/// `POST /api/collections/{c}/records`
pub async fn create(app: &AppState, coll: Arc<Coll>, req: Arc<RequestCx>) -> ApiResult<Value> {
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::CREATE_FAILED));
    }
    gate(&coll, Action::Create, &req, app.db().dialect())?;
    // Validation and hashing happen before the writer is taken.
    let (coll2, req2) = (coll.clone(), req.clone());
    let prepared = off_runtime_if(hashes_password(&coll, &req), move || prepare_create(&coll2, &req2)).await?;
    // New files are stored before the record that names them is committed.
    let written = match &prepared {
        Ok((p, _)) => {
            let id = p.values.get(system::ID).and_then(Value::as_str).unwrap_or_default();
            files::store(app, &coll, id, &files::referenced(&coll, &p.values, &req.uploads)).await?
        }
        Err(_) => Vec::new(),
    };
    let req2 = req.clone();
    let record = write(app, written, move |txn| create_in(txn, &coll, &req2, prepared)).await?;
    Ok(shape(record, &req))
}

/// The create itself, inside the caller's transaction: the rule, the hooks (in the
/// transaction, and after its commit), relation checks, realtime.
pub fn create_in(txn: &Txn<'_, '_>, coll: &Coll, req: &RequestCx, prepared: PreparedCreate) -> ApiResult<Record> {
    let (conn, app) = (txn.conn, txn.app);
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::CREATE_FAILED));
    }
    let gate = gate(coll, Action::Create, req, conn.dialect())?;
    let (prepared, hash) = match prepared {
        Ok(p) => p,
        Err(errors) => {
            // The rule is judged first: a failing rule hides the field errors.
            let lenient = lenient_record(coll, req.body.as_ref());
            if !rule_admits(conn, coll, &lenient, &gate, req)? {
                return Err(ApiError::bad_request(msg::CREATE_FAILED));
            }
            return Err(ApiError::fields(msg::CREATE_FAILED, errors));
        }
    };
    let mut record = new_record(coll, prepared, hash);
    if !rule_admits(conn, coll, &record, &gate, req)? {
        return Err(ApiError::bad_request(msg::CREATE_FAILED));
    }
    let engine = Engine::new(txn, req);
    let tx = hook_tx(&engine, false);
    before_hook(coll, Hook::BeforeCreate, &mut record, msg::CREATE_FAILED, |r| coll.hooks.before_create(r, &tx))?;
    check_relations(conn, app, coll, &record, msg::CREATE_FAILED)?;
    insert(conn, coll, &record).map_err(|e| write_error(e, msg::CREATE_FAILED))?;
    app.changes().changed(conn, coll, ChangeKind::Create, &record);
    coll.hooks.after_create(&record, &tx).map_err(|e| e.stopped(msg::CREATE_FAILED))?;
    committed(txn, coll, Event::Create, &record, req)?;
    let record = present(coll, record, req);
    let mut out = expand::expand_all(app, conn, vec![record], coll, req)?;
    Ok(out.pop().unwrap_or_default())
}

/// A complete new record from validated values.
fn new_record(coll: &Coll, prepared: Prepared, hash: Option<String>) -> Record {
    let now = time::now();
    let mut record = Map::new();
    for field in &coll.ir.fields {
        let value = match (&field.ty, field.name.as_str()) {
            (_, system::ID) => prepared.values.get(system::ID).cloned().unwrap_or_else(|| Value::String(id::new_id())),
            (FieldType::Autodate { on_create: true, .. }, _) => Value::String(now.clone()),
            (FieldType::Password, _) => Value::String(hash.clone().unwrap_or_default()),
            (_, system::TOKEN_KEY) => Value::String(id::token_key()),
            _ => prepared.values.get(&field.name).cloned().unwrap_or_else(|| input::zero(&field.ty)),
        };
        record.insert(field.name.clone(), value);
    }
    record
}

/// The body read loosely, for judging a create rule when validation failed.
fn lenient_record(coll: &Coll, body: Option<&Record>) -> Record {
    coll.ir
        .fields
        .iter()
        .map(|f| {
            let zero = input::zero(&f.ty);
            let v = body.and_then(|b| b.get(&f.name)).filter(|v| same_kind(v, &zero)).cloned().unwrap_or(zero);
            (f.name.clone(), v)
        })
        .collect()
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) || b.is_null()
}

/// Every relation id must name an existing record.
pub(super) fn check_relations(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    record: &Record,
    message: &str,
) -> ApiResult<()> {
    let mut errors = FieldErrors::new();
    for field in &coll.ir.fields {
        let FieldType::Relation { collection: target, .. } = &field.ty else { continue };
        let ids: Vec<&str> = match record.get(&field.name) {
            Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        if ids.is_empty() {
            continue;
        }
        let Some(target) = app.collection(target) else { continue };
        let list = (1..=ids.len()).map(|i| placeholder(conn.dialect(), i)).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT COUNT(*) FROM {} WHERE \"id\" IN ({list})", quote(&target.ir.name));
        let params: Vec<SqlValue> = ids.iter().map(|s| SqlValue::Text((*s).to_owned())).collect();
        let found = conn.query(&sql, &params)?.first().and_then(|r| r.first()).and_then(SqlValue::as_i64).unwrap_or(0);
        let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
        if (found as usize) < distinct {
            errors.insert(
                field.name.clone(),
                FieldError::new(
                    "validation_missing_rel_records",
                    "Failed to find all relation records with the provided ids.",
                ),
            );
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::fields(message, errors)) }
}
