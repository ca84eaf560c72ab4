//! Rows and records: a SQL row read into a record, a record written as a row, and the
//! record shaped for the client.

use baas_schema::ir::{FieldType, system};
use baas_schema::sql::quote;
use serde_json::Value;

use crate::collection::{Coll, Record};
use crate::db::{Conn, DbError, SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::request::RequestCx;
use crate::value;

use super::*;

// --- rows and records -------------------------------------------------------------------------

/// A database row (columns in field order) as a record, secrets included.
pub fn row_to_record(coll: &Coll, row: Vec<SqlValue>) -> Record {
    coll.ir
        .fields
        .iter()
        .zip(row)
        .map(|(field, cell)| (field.name.clone(), value::from_column(&field.ty, cell)))
        .collect()
}

/// The record as the caller may see it: secrets and hidden fields removed, `email` only for
/// the record itself, superusers, or when `emailVisibility` is on; `collectionId` and
/// `collectionName` added.
pub fn present(coll: &Coll, mut record: Record, req: &RequestCx) -> Record {
    for field in &coll.ir.fields {
        if field.hidden || matches!(field.ty, FieldType::Password) {
            record.remove(&field.name);
        }
    }
    if coll.ir.is_auth() {
        let visible = record.get(system::EMAIL_VISIBILITY).and_then(Value::as_bool).unwrap_or(false);
        let is_self = req
            .auth
            .as_ref()
            .is_some_and(|a| a.collection.ir.name == coll.ir.name && a.record.get("id") == record.get("id"));
        if !(visible || is_self || req.is_superuser()) {
            record.remove(system::EMAIL);
        }
    }
    labelled(coll, record)
}

/// Blanks what `req` may not read of `row` as custom code reads it, as [`present`] removes it
/// from a record: password hashes always; without `system` access, hidden fields and an email
/// that is neither visible, the caller's own, nor read by a superuser.
pub fn conceal(coll: &Coll, row: &mut [SqlValue], req: &RequestCx, system: bool) {
    let cell = |name: &str| coll.ir.fields.iter().position(|f| f.name == name).and_then(|i| row.get(i));
    let private_email = !system && coll.ir.is_auth() && {
        let visible = cell(system::EMAIL_VISIBILITY).and_then(SqlValue::as_i64).is_some_and(|v| v != 0);
        let id = cell(system::ID).and_then(SqlValue::as_str);
        let is_self = req
            .auth
            .as_ref()
            .is_some_and(|a| a.collection.ir.name == coll.ir.name && a.record.get("id").and_then(Value::as_str) == id);
        !(visible || is_self || req.is_superuser())
    };
    for (field, cell) in coll.ir.fields.iter().zip(row.iter_mut()) {
        let secret = matches!(field.ty, FieldType::Password);
        if secret || (!system && field.hidden) || (private_email && field.name == system::EMAIL) {
            *cell = SqlValue::Null;
        }
    }
}

/// `record` with its `collectionId` and `collectionName`.
pub(super) fn labelled(coll: &Coll, mut record: Record) -> Record {
    record.insert("collectionId".into(), Value::String(coll.ir.id.clone()));
    record.insert("collectionName".into(), Value::String(coll.ir.name.clone()));
    record
}

/// Applies `fields=` to a single record response.
pub fn shape(record: Record, req: &RequestCx) -> Value {
    req.shape(Value::Object(record))
}

pub(super) fn insert(conn: &Conn<'_>, coll: &Coll, record: &Record) -> Result<(), DbError> {
    let names: Vec<String> = coll.ir.fields.iter().map(|f| quote(&f.name)).collect();
    let params: Vec<SqlValue> =
        coll.ir.fields.iter().map(|f| value::to_column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null))).collect();
    let marks: Vec<String> = (1..=params.len()).map(|i| placeholder(conn.dialect(), i)).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", quote(&coll.ir.name), names.join(", "), marks.join(", "));
    conn.execute(&sql, &params).map(drop)
}

pub(super) fn update_row(conn: &Conn<'_>, coll: &Coll, record: &Record) -> Result<(), DbError> {
    let mut sets = Vec::new();
    let mut params = Vec::new();
    for f in coll.ir.fields.iter().filter(|f| f.name != system::ID) {
        params.push(value::to_column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null)));
        sets.push(format!("{} = {}", quote(&f.name), placeholder(conn.dialect(), params.len())));
    }
    params.push(SqlValue::Text(record.get(system::ID).and_then(Value::as_str).unwrap_or_default().to_owned()));
    let sql = format!(
        "UPDATE {} SET {} WHERE \"id\" = {}",
        quote(&coll.ir.name),
        sets.join(", "),
        placeholder(conn.dialect(), params.len())
    );
    conn.execute(&sql, &params).map(drop)
}

/// Unique violations become field errors; anything else is internal.
pub(super) fn write_error(e: DbError, message: &str) -> ApiError {
    if let Some(cols) = e.unique_violation() {
        let mut errors = FieldErrors::new();
        for name in cols {
            errors.insert(name, FieldError::new("validation_not_unique", "Value must be unique."));
        }
        return ApiError::fields(message, errors);
    }
    if e.is_unstorable_text() {
        return ApiError::bad_request(message);
    }
    ApiError::internal(e)
}

/// Whether a record with `id` exists (no rules), for batch upserts.
pub fn exists(conn: &Conn<'_>, coll: &Coll, id: &str) -> ApiResult<bool> {
    let sql = format!("SELECT 1 FROM {} WHERE \"id\" = {}", quote(&coll.ir.name), placeholder(conn.dialect(), 1));
    Ok(!conn.query(&sql, &[SqlValue::Text(id.to_owned())])?.is_empty())
}

/// Reads a record by id without rules (auth flows).
pub fn fetch_unchecked(conn: &Conn<'_>, coll: &Coll, id: &str) -> ApiResult<Option<Record>> {
    let req = RequestCx::anonymous();
    fetch(conn, coll, id, &Gate::Open, &req)
}

/// Reads a record by a field's value without rules (auth by email).
pub fn fetch_by(conn: &Conn<'_>, coll: &Coll, field: &str, value: &str) -> ApiResult<Option<Record>> {
    let table = quote(&coll.ir.name);
    let sql = format!(
        "SELECT {} FROM {table} WHERE {table}.{} = {}",
        coll.columns,
        quote(field),
        placeholder(conn.dialect(), 1)
    );
    let mut rows = conn.query(&sql, &[SqlValue::Text(value.to_owned())])?;
    Ok(rows.pop().map(|row| row_to_record(coll, row)))
}
