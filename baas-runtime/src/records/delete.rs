//! `delete`: a record removed, with what references it cascaded or unset.

use std::sync::Arc;

use baas_schema::ir::{Action, FieldType, system};
use baas_schema::sql::{Dialect, quote};
use serde_json::Value;

use crate::collection::{Coll, Event, Hook, Record};
use crate::db::{SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, msg};
use crate::request::RequestCx;
use crate::state::{AppState, ChangeKind};

use super::*;

/// `DELETE /api/collections/{c}/records/{id}`
pub async fn delete(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<()> {
    gate(&coll, Action::Delete, &req, app.db().dialect())?;
    write(app, Vec::new(), move |txn| delete_in(txn, &coll, &id, &req)).await
}

/// The delete itself, inside the caller's transaction, with its hooks; the files of every
/// record it deletes (cascades included) go to the transaction's trash.
pub fn delete_in(txn: &Txn<'_, '_>, coll: &Coll, id: &str, req: &RequestCx) -> ApiResult<()> {
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
    }
    let gate = gate(coll, Action::Delete, req, txn.conn.dialect())?;
    let record = fetch(txn.conn, coll, id, &gate, req)?.ok_or_else(ApiError::not_found)?;
    let engine = Engine::new(txn, req);
    delete_hooked(txn, &engine, coll, &record, 0, false)
}

/// Deletes `record` between its collection's hooks (`cascade`: a system handle for them),
/// settling what references it first.
fn delete_hooked(
    txn: &Txn<'_, '_>,
    engine: &Engine<'_, '_>,
    coll: &Coll,
    record: &Record,
    depth: usize,
    cascade: bool,
) -> ApiResult<()> {
    let tx = hook_tx(engine, cascade);
    let id = record.get(system::ID).and_then(Value::as_str).unwrap_or_default();
    coll.hooks.before_delete(record, &tx)?;
    delete_cascading(txn, engine, coll, id, depth)?;
    txn.app.changes().changed(txn.conn, coll, ChangeKind::Delete, record);
    coll.hooks.after_delete(record, &tx)?;
    committed(txn, coll, Event::Delete, record, engine.request())
}

/// Deletes a record and settles every relation that points at it: cascade (with the
/// referencing collection's hooks), clear (an update, with its hooks), or refuse when a
/// required relation would be left dangling.
fn delete_cascading(txn: &Txn<'_, '_>, engine: &Engine<'_, '_>, coll: &Coll, id: &str, depth: usize) -> ApiResult<()> {
    let (conn, app) = (txn.conn, txn.app);
    if depth > 32 {
        return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
    }
    let dialect = conn.dialect();
    for other in app.collections() {
        if other.ir.is_view() {
            continue;
        }
        for field in &other.ir.fields {
            let FieldType::Relation { collection: target, multiple, cascade_delete } = &field.ty else { continue };
            if target != &coll.ir.name {
                continue;
            }
            let table = quote(&other.ir.name);
            let column = quote(&field.name);
            let matches = if *multiple {
                match dialect {
                    Dialect::Sqlite => {
                        format!("EXISTS (SELECT 1 FROM json_each({table}.{column}) AS e WHERE e.value = ?1)")
                    }
                    Dialect::Postgres => format!("{table}.{column} @> jsonb_build_array($1::text)"),
                }
            } else {
                format!("{table}.{column} = {}", placeholder(dialect, 1))
            };
            let rows = conn.query(
                &format!("SELECT {} FROM {table} WHERE {matches}", other.columns),
                &[SqlValue::Text(id.to_owned())],
            )?;
            for row in rows {
                let mut referencing = row_to_record(other, row);
                let rid = referencing.get(system::ID).and_then(Value::as_str).unwrap_or_default().to_owned();
                if other.ir.name == coll.ir.name && rid == id {
                    continue;
                }
                let remaining = match referencing.get(&field.name) {
                    Some(Value::Array(items)) => {
                        items.iter().filter(|v| v.as_str() != Some(id)).cloned().collect::<Vec<_>>()
                    }
                    _ => Vec::new(),
                };
                if *cascade_delete {
                    delete_hooked(txn, engine, other, &referencing, depth + 1, true)?;
                } else if field.required && remaining.is_empty() {
                    return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
                } else {
                    let old = referencing.clone();
                    let cleared = if *multiple { Value::Array(remaining) } else { Value::String(String::new()) };
                    referencing.insert(field.name.clone(), cleared);
                    let tx = hook_tx(engine, true);
                    let edit = |r: &mut Record| other.hooks.before_update(&old, r, &tx);
                    before_hook(other, Hook::BeforeUpdate, &mut referencing, msg::UPDATE_FAILED, edit)?;
                    update_row(conn, other, &referencing)?;
                    app.changes().changed(conn, other, ChangeKind::Update, &referencing);
                    other.hooks.after_update(&old, &referencing, &tx)?;
                    committed(txn, other, Event::Update, &referencing, engine.request())?;
                }
            }
        }
    }
    conn.execute(
        &format!("DELETE FROM {} WHERE \"id\" = {}", quote(&coll.ir.name), placeholder(dialect, 1)),
        &[SqlValue::Text(id.to_owned())],
    )?;
    txn.trash().deleted(coll, id);
    Ok(())
}
