//! `delete`: a record removed, with what references it cascaded or unset.

use std::sync::Arc;

use baas_schema::ir::{Action, FieldType, system};
use baas_schema::sql::{Dialect, quote};
use serde_json::Value;

use crate::collection::Coll;
use crate::db::{Conn, SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, msg};
use crate::files::{self, Trash};
use crate::request::RequestCx;
use crate::state::{AppState, ChangeKind};

use super::*;

/// `DELETE /api/collections/{c}/records/{id}`
pub async fn delete(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<()> {
    gate(&coll, Action::Delete, &req, app.db().dialect())?;
    let app2 = app.clone();
    let trash = app
        .db()
        .write(move |conn| -> ApiResult<_> {
            conn.transaction(|conn| {
                let mut trash = Trash::default();
                delete_in(conn, &app2, &coll, &id, &req, &mut trash)?;
                Ok(trash)
            })
        })
        .await?;
    files::empty(app, trash).await;
    Ok(())
}

/// The delete itself, inside the caller's transaction; the files of every record it deletes
/// (cascades included) go to `trash`.
pub fn delete_in(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    id: &str,
    req: &RequestCx,
    trash: &mut Trash,
) -> ApiResult<()> {
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
    }
    let gate = gate(coll, Action::Delete, req, conn.dialect())?;
    let record = fetch(conn, coll, id, &gate, req)?.ok_or_else(ApiError::not_found)?;
    coll.hooks.before_delete(&record, &hook_cx(req))?;
    delete_cascading(conn, app, coll, id, 0, trash)?;
    app.changes().changed(conn, coll, ChangeKind::Delete, &record);
    coll.hooks.after_delete(&record, &hook_cx(req));
    Ok(())
}

/// Deletes a record and settles every relation that points at it: cascade, clear, or refuse
/// when a required relation would be left dangling.
fn delete_cascading(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    id: &str,
    depth: usize,
    trash: &mut Trash,
) -> ApiResult<()> {
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
                    delete_cascading(conn, app, other, &rid, depth + 1, trash)?;
                    app.changes().changed(conn, other, ChangeKind::Delete, &referencing);
                } else if field.required && remaining.is_empty() {
                    return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
                } else {
                    let cleared = if *multiple { Value::Array(remaining) } else { Value::String(String::new()) };
                    referencing.insert(field.name.clone(), cleared);
                    update_row(conn, other, &referencing)?;
                    app.changes().changed(conn, other, ChangeKind::Update, &referencing);
                }
            }
        }
    }
    conn.execute(
        &format!("DELETE FROM {} WHERE \"id\" = {}", quote(&coll.ir.name), placeholder(dialect, 1)),
        &[SqlValue::Text(id.to_owned())],
    )?;
    trash.deleted(coll, id);
    Ok(())
}
