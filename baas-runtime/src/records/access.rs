//! Rules applied to a request: the gate an operation's rule sets, its binds resolved against the
//! request, and whether a rule admits a given record.

use baas_schema::expr::ast::Literal;
use baas_schema::ir::Action;
use baas_schema::sql::{Bind, BindValue, Dialect, SqlTy, quote};
use serde_json::{Value, json};

use crate::collection::{Coll, CompiledRule, Record};
use crate::db::{Conn, SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, msg};
use crate::request::RequestCx;
use crate::value;

use super::*;

/// What a rule demands of a request.
pub(crate) enum Gate<'a> {
    /// No condition (superuser or public rule).
    Open,
    /// Rows must satisfy this compiled predicate.
    Filter(&'a baas_schema::sql::Fragment),
}

/// Applies PocketBase's rule semantics: superusers pass, a missing rule is 403.
pub(crate) fn gate<'a>(coll: &'a Coll, action: Action, req: &RequestCx, dialect: Dialect) -> ApiResult<Gate<'a>> {
    if req.is_superuser() {
        return Ok(Gate::Open);
    }
    let rule = match action {
        Action::List => &coll.rules.list,
        Action::View => &coll.rules.view,
        Action::Create => &coll.rules.create,
        Action::Update => &coll.rules.update,
        Action::Delete => &coll.rules.delete,
    };
    match rule {
        None => Err(ApiError::forbidden(msg::SUPERUSERS_ONLY)),
        Some(CompiledRule::Public) => Ok(Gate::Open),
        Some(rule) => Ok(rule.fragment(dialect).map_or(Gate::Open, Gate::Filter)),
    }
}

impl Gate<'_> {
    /// The predicate (or a tautology) and its parameters.
    pub(crate) fn sql(&self, req: &RequestCx) -> (String, Vec<SqlValue>) {
        match self {
            Gate::Open => ("1 = 1".to_owned(), Vec::new()),
            Gate::Filter(f) => (format!("({})", f.sql), resolve_binds(&f.binds, req)),
        }
    }
}

/// Resolves compiled parameters against the request.
pub fn resolve_binds(binds: &[Bind], req: &RequestCx) -> Vec<SqlValue> {
    resolve_binds_with(binds, req, &[])
}

/// Resolves compiled parameters against the request, `{:name}` placeholders from `params`.
pub fn resolve_binds_with(binds: &[Bind], req: &RequestCx, params: &[(String, Value)]) -> Vec<SqlValue> {
    binds.iter().map(|b| bind_value(&b.value, b.ty, req, params)).collect()
}

fn bind_value(value: &BindValue, ty: SqlTy, req: &RequestCx, params: &[(String, Value)]) -> SqlValue {
    let json = match value {
        // (a placeholder without a value reads as `null` does to the evaluator)
        BindValue::Placeholder(name) => params.iter().find(|(n, _)| n == name).map_or(Value::Null, |(_, v)| v.clone()),
        BindValue::Literal(Literal::Null) => return SqlValue::Null,
        BindValue::Literal(Literal::String(s)) => Value::String(s.clone()),
        BindValue::Literal(Literal::Number(n)) => json!(n),
        BindValue::Literal(Literal::Bool(b)) => Value::Bool(*b),
        BindValue::LikePattern(inner) => {
            let text = match bind_value(inner, SqlTy::Text, req, params) {
                SqlValue::Text(s) => s,
                other => value::text_of(&other),
            };
            return SqlValue::Text(baas_schema::sql::like_pattern(&text));
        }
        request => baas_schema::eval::Request::value(req, request),
    };
    value::to_param(&json, ty)
}

/// Reads one record by id, through `gate`.
pub(super) fn fetch(
    conn: &Conn<'_>,
    coll: &Coll,
    id: &str,
    gate: &Gate<'_>,
    req: &RequestCx,
) -> ApiResult<Option<Record>> {
    Ok(fetch_row(conn, coll, id, gate, req, "")?.map(|row| row_to_record(coll, row)))
}

/// [`fetch`] for an update: on PostgreSQL the row stays locked until the transaction ends, so
/// that changes relative to it (`views+`, a hook's count) are not lost to a concurrent write.
/// (SQLite has one writer at a time.)
pub(super) fn fetch_for_update(
    conn: &Conn<'_>,
    coll: &Coll,
    id: &str,
    gate: &Gate<'_>,
    req: &RequestCx,
) -> ApiResult<Option<Record>> {
    let lock = match conn.dialect() {
        Dialect::Postgres => format!(" FOR UPDATE OF {}", quote(&coll.ir.name)),
        Dialect::Sqlite => String::new(),
    };
    Ok(fetch_row(conn, coll, id, gate, req, &lock)?.map(|row| row_to_record(coll, row)))
}

/// The row of record `id` of `coll`, through `gate`, with `lock` (a `FOR UPDATE` or nothing).
pub(super) fn fetch_row(
    conn: &Conn<'_>,
    coll: &Coll,
    id: &str,
    gate: &Gate<'_>,
    req: &RequestCx,
    lock: &str,
) -> ApiResult<Option<Vec<SqlValue>>> {
    let (pred, mut params) = gate.sql(req);
    params.push(SqlValue::Text(id.to_owned()));
    let table = quote(&coll.ir.name);
    let sql = format!(
        "SELECT {} FROM {table} WHERE {pred} AND {table}.\"id\" = {}{lock}",
        coll.columns,
        placeholder(conn.dialect(), params.len())
    );
    Ok(conn.query(&sql, &params)?.pop())
}

/// Whether `req`'s caller may view record `id` (its view rule; superusers may).
pub(crate) fn can_view(conn: &Conn<'_>, coll: &Coll, id: &str, req: &RequestCx) -> ApiResult<bool> {
    match gate(coll, Action::View, req, conn.dialect()) {
        Ok(gate) => Ok(fetch(conn, coll, id, &gate, req)?.is_some()),
        Err(_) => Ok(false),
    }
}

/// Whether the create rule admits `record`: the rule runs against the new values, given to
/// the query as a one-row table named like the collection.
pub(crate) fn rule_admits(
    conn: &Conn<'_>,
    coll: &Coll,
    record: &Record,
    gate: &Gate<'_>,
    req: &RequestCx,
) -> ApiResult<bool> {
    let Gate::Filter(_) = gate else { return Ok(true) };
    let (pred, mut params) = gate.sql(req);
    let dialect = conn.dialect();
    let mut columns = Vec::new();
    for field in &coll.ir.fields {
        let value = record.get(&field.name).cloned().unwrap_or(Value::Null);
        params.push(value::to_column(&field.ty, &value));
        let p = placeholder(dialect, params.len());
        let p = match dialect {
            Dialect::Sqlite => p,
            Dialect::Postgres => match baas_schema::sql::column_type(&field.ty, dialect) {
                // as the table's text columns are declared (see baas-codegen's ddl.rs)
                "TEXT" => format!("{p}::text COLLATE \"C\""),
                ty => format!("{p}::{}", ty.to_lowercase()),
            },
        };
        columns.push(format!("{p} AS {}", quote(&field.name)));
    }
    let sql = format!("SELECT 1 FROM (SELECT {}) AS {} WHERE {pred}", columns.join(", "), quote(&coll.ir.name));
    Ok(!conn.query(&sql, &params)?.is_empty())
}
