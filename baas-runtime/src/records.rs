//! The records engine: list, view, create, update and delete for any collection, with the
//! collection's compiled rules pushed into the SQL (pocketbase-api.md §3.1, §6).
//!
//! Generated handlers call these functions; everything here is driven by the schema IR and
//! the rules the generator compiled, never by a particular schema.

use std::sync::Arc;

use baas_schema::expr::ast::Literal;
use baas_schema::ir::{Action, FieldType, system};
use baas_schema::sql::{Bind, BindValue, Dialect, SqlTy, quote};
use serde_json::{Map, Value, json};

use crate::collection::{Coll, CompiledRule, HookContext, Record};
pub(crate) use crate::db::placeholder;
use crate::db::{Conn, DbError, SqlValue};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, msg};
use crate::files::{self, Trash};
use crate::query::{self, ListParams};
use crate::request::RequestCx;
use crate::state::AppState;
use crate::values::{self, Mode, Prepared};
use crate::{expand, id, password, realtime, time};

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
    binds.iter().map(|b| bind_value(&b.value, b.ty, req)).collect()
}

fn bind_value(value: &BindValue, ty: SqlTy, req: &RequestCx) -> SqlValue {
    let json = match value {
        BindValue::Literal(Literal::Null) => return SqlValue::Null,
        BindValue::Literal(Literal::String(s)) => Value::String(s.clone()),
        BindValue::Literal(Literal::Number(n)) => json!(n),
        BindValue::Literal(Literal::Bool(b)) => Value::Bool(*b),
        BindValue::LikePattern(inner) => {
            let text = match bind_value(inner, SqlTy::Text, req) {
                SqlValue::Text(s) => s,
                other => sql_text(&other),
            };
            return SqlValue::Text(baas_schema::sql::like_pattern(&text));
        }
        request => baas_schema::eval::Request::value(req, request),
    };
    to_sql_as(&json, ty)
}

fn sql_text(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => String::new(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(s) => s.clone(),
        SqlValue::Bool(b) => b.to_string(),
    }
}

/// Converts a JSON value to the parameter type a compiled predicate expects.
fn to_sql_as(v: &Value, ty: SqlTy) -> SqlValue {
    match ty {
        SqlTy::Text => SqlValue::Text(match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }),
        SqlTy::Number => SqlValue::Real(match v {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }),
        SqlTy::Bool => SqlValue::Bool(match v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => s == "true" || s == "1",
            _ => false,
        }),
        SqlTy::JsonArray => SqlValue::Text(match v {
            Value::Array(_) => v.to_string(),
            Value::Null => "[]".into(),
            other => Value::Array(vec![other.clone()]).to_string(),
        }),
    }
}

// --- rows and records -------------------------------------------------------------------------

/// A database row (columns in field order) as a record, secrets included.
pub fn row_to_record(coll: &Coll, row: Vec<SqlValue>) -> Record {
    let mut record = Map::new();
    for (field, value) in coll.ir.fields.iter().zip(row) {
        let json = match (&field.ty, value) {
            (_, SqlValue::Null) => values::zero(&field.ty),
            (t, SqlValue::Text(s)) if t.is_multiple() => serde_json::from_str(&s).unwrap_or_else(|_| json!([])),
            (FieldType::Json, SqlValue::Text(s)) => serde_json::from_str(&s).unwrap_or(Value::Null),
            (FieldType::Bool, v) => Value::Bool(v.as_i64().is_some_and(|i| i != 0) || v == SqlValue::Bool(true)),
            (FieldType::Number { .. }, SqlValue::Int(i)) => json!(i),
            (FieldType::Number { .. }, SqlValue::Real(f)) => number(f),
            (_, SqlValue::Text(s)) => Value::String(s),
            (_, SqlValue::Int(i)) => json!(i),
            (_, SqlValue::Real(f)) => number(f),
            (_, SqlValue::Bool(b)) => Value::Bool(b),
        };
        record.insert(field.name.clone(), json);
    }
    record
}

/// JSON numbers as PocketBase writes them: integral values without a fraction.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 { json!(f as i64) } else { json!(f) }
}

/// A record's value for its column.
pub fn to_column(ty: &FieldType, v: &Value) -> SqlValue {
    match (ty, v) {
        (t, v) if t.is_multiple() => SqlValue::Text(match v {
            Value::Array(_) => v.to_string(),
            _ => "[]".into(),
        }),
        (FieldType::Json, v) => SqlValue::Text(v.to_string()),
        (FieldType::Bool, v) => SqlValue::Bool(v.as_bool().unwrap_or(false)),
        (FieldType::Number { .. }, Value::Number(n)) => match n.as_i64() {
            Some(i) => SqlValue::Int(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        (FieldType::Number { .. }, _) => SqlValue::Int(0),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Null) => SqlValue::Text(String::new()),
        (_, other) => SqlValue::Text(other.to_string()),
    }
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
    record.insert("collectionId".into(), Value::String(coll.ir.id.clone()));
    record.insert("collectionName".into(), Value::String(coll.ir.name.clone()));
    record
}

/// Reads one record by id, through `gate`.
fn fetch(conn: &Conn<'_>, coll: &Coll, id: &str, gate: &Gate<'_>, req: &RequestCx) -> ApiResult<Option<Record>> {
    let (pred, mut params) = gate.sql(req);
    params.push(SqlValue::Text(id.to_owned()));
    let table = quote(&coll.ir.name);
    let sql = format!(
        "SELECT {} FROM {table} WHERE {pred} AND {table}.\"id\" = {}",
        coll.columns,
        placeholder(conn.dialect(), params.len())
    );
    let mut rows = conn.query(&sql, &params)?;
    Ok(rows.pop().map(|row| row_to_record(coll, row)))
}

/// Whether `req`'s caller may view record `id` (its view rule; superusers may).
pub(crate) fn can_view(conn: &Conn<'_>, coll: &Coll, id: &str, req: &RequestCx) -> ApiResult<bool> {
    match gate(coll, Action::View, req, conn.dialect()) {
        Ok(gate) => Ok(fetch(conn, coll, id, &gate, req)?.is_some()),
        Err(_) => Ok(false),
    }
}

fn hook_cx(req: &RequestCx) -> HookContext<'_> {
    HookContext { auth: req.auth.as_ref().map(|a| &a.record), superuser: req.is_superuser() }
}

// --- operations -------------------------------------------------------------------------------

/// `GET /api/collections/{c}/records`
pub async fn list(app: &AppState, coll: Arc<Coll>, req: Arc<RequestCx>) -> ApiResult<Value> {
    let params = ListParams::parse(&req.query, req.is_superuser())?;
    let dialect = app.db().dialect();
    // The filter's parameters are numbered after the rule's.
    let rule_binds = match gate(&coll, Action::List, &req, dialect)? {
        Gate::Filter(frag) => frag.binds.len(),
        Gate::Open => 0,
    };
    let filter = match &params.filter {
        Some(f) => Some(query::compile_filter(app, &coll, f, req.is_superuser(), dialect, rule_binds + 1)?),
        None => None,
    };
    // The sort's parameters come after the filter's.
    let before_sort = rule_binds + filter.as_ref().map_or(0, |f| f.binds.len());
    let order = match &params.sort {
        Some(s) => Some(query::order_by(app, &coll, s, req.is_superuser(), dialect, before_sort + 1)?),
        None => None,
    };
    let app2 = app.clone();
    let (coll2, req2) = (coll.clone(), req.clone());
    let (records, total) = app
        .db()
        .read(move |conn| {
            let gate = gate(&coll2, Action::List, &req2, conn.dialect())?;
            let (pred, mut binds) = gate.sql(&req2);
            let mut where_sql = pred;
            if let Some(f) = &filter {
                where_sql = format!("{where_sql} AND ({})", f.sql);
                binds.extend(resolve_binds(&f.binds, &req2));
            }
            let table = quote(&coll2.ir.name);
            let total = if params.skip_total {
                -1
            } else {
                conn.count(&format!("SELECT COUNT(*) FROM {table} WHERE {where_sql}"), &binds)?
            };
            let order = match &order {
                Some(o) => {
                    binds.extend(resolve_binds(&o.binds, &req2));
                    o.sql.clone()
                }
                None => default_order(&coll2, conn.dialect()),
            };
            let n = binds.len();
            binds.push(SqlValue::Int(params.per_page as i64));
            binds.push(SqlValue::Int(((params.page - 1) * params.per_page) as i64));
            let sql = format!(
                "SELECT {} FROM {table} WHERE {where_sql} ORDER BY {order} LIMIT {} OFFSET {}",
                coll2.columns,
                placeholder(conn.dialect(), n + 1),
                placeholder(conn.dialect(), n + 2)
            );
            let rows = conn.query(&sql, &binds)?;
            let mut records: Vec<Record> = rows.into_iter().map(|r| row_to_record(&coll2, r)).collect();
            let cx = hook_cx(&req2);
            for r in &mut records {
                coll2.hooks.on_read(r, &cx);
            }
            let records = records.into_iter().map(|r| present(&coll2, r, &req2)).collect::<Vec<_>>();
            let records = expand::expand_all(&app2, conn, records, &coll2, &req2)?;
            Ok((records, total))
        })
        .await?;
    let mut records = records;
    query::pick_records(&mut records, req.query.get("fields").map(String::as_str));
    let total_pages = if total < 0 { -1 } else { (total as u64).div_ceil(params.per_page) as i64 };
    Ok(json!({
        "items": records,
        "page": params.page,
        "perPage": params.per_page,
        "totalItems": total,
        "totalPages": total_pages,
    }))
}

fn default_order(coll: &Coll, dialect: Dialect) -> String {
    let table = quote(&coll.ir.name);
    match dialect {
        // Views have no row numbers (a SQLite view that is not flattened, one with GROUP BY
        // say, has no rowid either): they list by id on both engines.
        _ if coll.ir.is_view() => format!("{table}.\"id\" ASC"),
        Dialect::Sqlite => format!("{table}.rowid ASC"),
        // Tables number their rows in a `_rowid` identity column (see baas-codegen's ddl.rs).
        Dialect::Postgres => format!("{table}.\"_rowid\" ASC"),
    }
}

/// `GET /api/collections/{c}/records/{id}`
pub async fn view(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<Value> {
    gate(&coll, Action::View, &req, app.db().dialect())?;
    let app2 = app.clone();
    let req2 = req.clone();
    let record = app
        .db()
        .read(move |conn| {
            let gate = gate(&coll, Action::View, &req2, conn.dialect())?;
            let mut record = fetch(conn, &coll, &id, &gate, &req2)?.ok_or_else(ApiError::not_found)?;
            coll.hooks.on_read(&mut record, &hook_cx(&req2));
            let record = present(&coll, record, &req2);
            let mut out = expand::expand_all(&app2, conn, vec![record], &coll, &req2)?;
            Ok(out.pop().unwrap_or_default())
        })
        .await?;
    Ok(shape(record, &req))
}

/// Applies `fields=` to a single record response.
pub fn shape(record: Record, req: &RequestCx) -> Value {
    req.shape(Value::Object(record))
}

/// A create's validated input: the values and the password hash, or the field errors.
pub type PreparedCreate = Result<(Prepared, Option<String>), FieldErrors>;

/// Validates a create body and its uploads, decides the record's id (its files are stored
/// under it) and hashes its password (slow on purpose: call off the runtime).
pub fn prepare_create(coll: &Coll, req: &RequestCx) -> PreparedCreate {
    let body = req.body.clone().unwrap_or_default();
    let caller = values::Caller { superuser: req.is_superuser(), is_self: false };
    let prepared = values::prepare(&coll.ir, &body, Mode::Create, &caller);
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
fn hashes_password(coll: &Coll, req: &RequestCx) -> bool {
    coll.ir.is_auth() && req.body.as_ref().is_some_and(|b| b.contains_key(system::PASSWORD))
}

/// Runs `f` on the blocking pool when it is `slow`, here otherwise: validating a body takes
/// microseconds, and the hop to another thread and back costs two thread wake-ups.
async fn off_runtime_if<T: Send + 'static>(slow: bool, f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
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
    let app2 = app.clone();
    let req2 = req.clone();
    let result =
        app.db().write(move |conn| conn.transaction(|conn| create_in(conn, &app2, &coll, &req2, prepared))).await;
    if result.is_err() {
        files::discard(app, written).await;
    }
    Ok(shape(result?, &req))
}

/// The create itself, inside the caller's transaction.
pub fn create_in(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    req: &RequestCx,
    prepared: PreparedCreate,
) -> ApiResult<Record> {
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
    check_relations(conn, app, coll, &record, msg::CREATE_FAILED)?;
    coll.hooks.before_create(&mut record, &hook_cx(req))?;
    insert(conn, coll, &record).map_err(|e| write_error(e, msg::CREATE_FAILED))?;
    realtime::publish(conn, app, coll, realtime::Kind::Create, &record);
    coll.hooks.after_create(&record, &hook_cx(req));
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
            _ => prepared.values.get(&field.name).cloned().unwrap_or_else(|| values::zero(&field.ty)),
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
            let zero = values::zero(&f.ty);
            let v = body.and_then(|b| b.get(&f.name)).filter(|v| same_kind(v, &zero)).cloned().unwrap_or(zero);
            (f.name.clone(), v)
        })
        .collect()
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) || b.is_null()
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
        params.push(to_column(&field.ty, &value));
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

/// Every relation id must name an existing record.
fn check_relations(conn: &Conn<'_>, app: &AppState, coll: &Coll, record: &Record, message: &str) -> ApiResult<()> {
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

fn insert(conn: &Conn<'_>, coll: &Coll, record: &Record) -> Result<(), DbError> {
    let names: Vec<String> = coll.ir.fields.iter().map(|f| quote(&f.name)).collect();
    let params: Vec<SqlValue> =
        coll.ir.fields.iter().map(|f| to_column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null))).collect();
    let marks: Vec<String> = (1..=params.len()).map(|i| placeholder(conn.dialect(), i)).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", quote(&coll.ir.name), names.join(", "), marks.join(", "));
    conn.execute(&sql, &params).map(drop)
}

fn update_row(conn: &Conn<'_>, coll: &Coll, record: &Record) -> Result<(), DbError> {
    let mut sets = Vec::new();
    let mut params = Vec::new();
    for f in coll.ir.fields.iter().filter(|f| f.name != system::ID) {
        params.push(to_column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null)));
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
fn write_error(e: DbError, message: &str) -> ApiError {
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
    let caller = values::Caller { superuser: req.is_superuser(), is_self };
    let fail = |errors| ApiError::fields(msg::UPDATE_FAILED, errors);
    let mut prepared = values::prepare(&coll.ir, &body, Mode::Update { existing }, &caller).map_err(fail)?;
    prepared.values.extend(files::resolve(&coll.ir, &body, &req.uploads, Some(existing)).map_err(fail)?);
    if let Some(old) = &prepared.old_password {
        let stored = existing.get(system::PASSWORD).and_then(Value::as_str).unwrap_or_default();
        if !password::verify(old, stored) {
            let mut errors = FieldErrors::new();
            errors.insert(
                values::OLD_PASSWORD.into(),
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
    let app2 = app.clone();
    let req2 = req.clone();
    let result = app
        .db()
        .write(move |conn| {
            conn.transaction(|conn| {
                let mut trash = Trash::default();
                let record = update_in(conn, &app2, &coll, &id, &req2, Some(prepared), &mut trash)?;
                Ok((record, trash))
            })
        })
        .await;
    match result {
        Ok((record, trash)) => {
            files::empty(app, trash).await;
            Ok(shape(record, &req))
        }
        Err(e) => {
            files::discard(app, written).await;
            Err(e)
        }
    }
}

/// The update itself, inside the caller's transaction. `prepared` may be `None` when the
/// stored record was not known beforehand (batch); it is then validated here. Files the update
/// leaves unreferenced go to `trash`, for deletion once the transaction commits.
pub fn update_in(
    conn: &Conn<'_>,
    app: &AppState,
    coll: &Coll,
    id: &str,
    req: &RequestCx,
    prepared: Option<PreparedUpdate>,
    trash: &mut Trash,
) -> ApiResult<Record> {
    if coll.ir.is_view() {
        return Err(ApiError::bad_request(msg::UPDATE_FAILED));
    }
    // Re-read inside the transaction: the record may have changed or gone.
    let gate = gate(coll, Action::Update, req, conn.dialect())?;
    let old = fetch(conn, coll, id, &gate, req)?.ok_or_else(ApiError::not_found)?;
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
    if let Some(hash) = hash {
        record.insert(system::PASSWORD.into(), Value::String(hash));
        record.insert(system::TOKEN_KEY.into(), Value::String(id::token_key()));
    }
    let now = time::now();
    for f in &coll.ir.fields {
        if let FieldType::Autodate { on_update: true, .. } = f.ty {
            record.insert(f.name.clone(), Value::String(now.clone()));
        }
    }
    check_relations(conn, app, coll, &record, msg::UPDATE_FAILED)?;
    coll.hooks.before_update(&old, &mut record, &hook_cx(req))?;
    update_row(conn, coll, &record).map_err(|e| write_error(e, msg::UPDATE_FAILED))?;
    trash.replaced(coll, &old, &record);
    realtime::publish(conn, app, coll, realtime::Kind::Update, &record);
    coll.hooks.after_update(&record, &hook_cx(req));
    let record = present(coll, record, req);
    let mut out = expand::expand_all(app, conn, vec![record], coll, req)?;
    Ok(out.pop().unwrap_or_default())
}

/// `DELETE /api/collections/{c}/records/{id}`
pub async fn delete(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<()> {
    gate(&coll, Action::Delete, &req, app.db().dialect())?;
    let app2 = app.clone();
    let trash = app
        .db()
        .write(move |conn| {
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
    realtime::publish(conn, app, coll, realtime::Kind::Delete, &record);
    coll.hooks.after_delete(&record, &hook_cx(req));
    Ok(())
}

/// Whether a record with `id` exists (no rules), for batch upserts.
pub fn exists(conn: &Conn<'_>, coll: &Coll, id: &str) -> ApiResult<bool> {
    let sql = format!("SELECT 1 FROM {} WHERE \"id\" = {}", quote(&coll.ir.name), placeholder(conn.dialect(), 1));
    Ok(!conn.query(&sql, &[SqlValue::Text(id.to_owned())])?.is_empty())
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
                    realtime::publish(conn, app, other, realtime::Kind::Delete, &referencing);
                } else if field.required && remaining.is_empty() {
                    return Err(ApiError::bad_request(msg::DELETE_REFERENCED));
                } else {
                    let cleared = if *multiple { Value::Array(remaining) } else { Value::String(String::new()) };
                    referencing.insert(field.name.clone(), cleared);
                    update_row(conn, other, &referencing)?;
                    realtime::publish(conn, app, other, realtime::Kind::Update, &referencing);
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

/// Reads a record by id without rules (auth flows).
pub fn fetch_unchecked(conn: &Conn<'_>, coll: &Coll, id: &str) -> ApiResult<Option<Record>> {
    let req = RequestCx::system();
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
