//! The records engine as custom code drives it: [`Txn`], one transaction as the engine runs
//! it; [`Engine`], the data API's [`Store`] over a `Txn` for one request; [`Handle`], the
//! data API's [`Database`] for one caller; and the hook calls every write makes.

use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::sync::Arc;

use baas_schema::check::{Context, check_expr};
use baas_schema::ir::{Action, FieldType};
use baas_schema::sql::{Dialect, quote};
use serde_json::Value;

use crate::collection::{Coll, Event, Hook, WriteRequest};
use crate::data::{Access, Data, Database, Fetched, HookContext, Job, QuerySpec, Record, Row, Running, Store, Tx};
use crate::db::{Conn, SqlValue, placeholder};
use crate::error::{ApiError, ApiResult, msg};
use crate::files::{self, Trash};
use crate::input::{self, Mode, Writer};
use crate::query;
use crate::request::RequestCx;
use crate::state::AppState;

use super::*;

/// How deep writes from hooks may nest (a hook writing a record whose hook writes …).
const MAX_DEPTH: usize = 8;

/// One transaction as the records engine runs it: its connection, what it leaves for after
/// the commit (files no record names any more) and how deep hooks' writes have nested.
pub struct Txn<'t, 'c> {
    pub conn: &'t Conn<'c>,
    pub app: &'t AppState,
    trash: RefCell<Trash>,
    depth: Cell<usize>,
    writable: bool,
}

impl<'t, 'c> Txn<'t, 'c> {
    /// A write transaction on `conn` (which the caller has begun).
    pub fn new(conn: &'t Conn<'c>, app: &'t AppState) -> Self {
        Txn { conn, app, trash: RefCell::default(), depth: Cell::new(0), writable: true }
    }

    /// A read on `conn`: writes through it fail.
    pub fn read_only(conn: &'t Conn<'c>, app: &'t AppState) -> Self {
        Txn { writable: false, ..Txn::new(conn, app) }
    }

    /// Files to delete once the transaction commits.
    pub fn trash(&self) -> RefMut<'_, Trash> {
        self.trash.borrow_mut()
    }

    pub fn into_trash(self) -> Trash {
        self.trash.into_inner()
    }

    /// Runs a write that custom code asked for, one level deeper.
    fn nested<T>(&self, f: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
        if !self.writable {
            return Err(ApiError::internal("a write in a read transaction (use Data::write)"));
        }
        let depth = self.depth.get();
        if depth >= MAX_DEPTH {
            return Err(ApiError::internal(format!(
                "hooks nested writes {MAX_DEPTH} deep: do two collections' hooks write to each other without end?"
            )));
        }
        self.depth.set(depth + 1);
        let out = f();
        self.depth.set(depth);
        out
    }
}

/// Runs `f` in a write transaction of its own. Once it committed, the files it left
/// unreferenced are deleted; when it failed, the files `written` for it.
pub async fn write<T: Send + 'static>(
    app: &AppState,
    written: Vec<String>,
    f: impl FnOnce(&Txn<'_, '_>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let app2 = app.clone();
    let result = app
        .db()
        .write(move |conn| {
            conn.transaction(|conn| {
                let txn = Txn::new(conn, &app2);
                let out = f(&txn)?;
                Ok::<_, ApiError>((out, txn.into_trash()))
            })
        })
        .await;
    match result {
        Ok((out, trash)) => {
            files::empty(app, trash).await;
            Ok(out)
        }
        Err(e) => {
            files::discard(app, written).await;
            Err(e)
        }
    }
}

/// The data API's [`Store`]: a [`Txn`] serving one request, acting as its caller (or, for
/// [`Access::System`], with system access).
pub struct Engine<'e, 'c> {
    txn: &'e Txn<'e, 'c>,
    req: &'e RequestCx,
    system: OnceCell<RequestCx>,
}

impl<'e, 'c> Engine<'e, 'c> {
    pub fn new(txn: &'e Txn<'e, 'c>, req: &'e RequestCx) -> Self {
        Engine { txn, req, system: OnceCell::new() }
    }

    /// The request whose caller this engine acts as.
    pub fn request(&self) -> &RequestCx {
        self.req
    }

    fn req(&self, access: Access) -> &RequestCx {
        match access {
            Access::Caller => self.req,
            Access::System => self.system.get_or_init(|| self.req.as_system()),
        }
    }

    fn collection(&self, name: &str) -> ApiResult<Arc<Coll>> {
        self.txn.app.collection(name).ok_or_else(|| ApiError::internal(format!("no collection named '{name}'")))
    }

    /// A record as `access` reads it: the caller's as the API presents it; the system's with
    /// hidden fields too (never a password hash).
    fn shown(&self, coll: &Coll, mut record: Record, access: Access) -> Record {
        match access {
            Access::Caller => present(coll, record, self.req),
            Access::System => {
                for field in coll.ir.fields.iter().filter(|f| matches!(f.ty, FieldType::Password)) {
                    record.remove(&field.name);
                }
                labelled(coll, record)
            }
        }
    }

    /// A row read for custom code as `access` reads it: the row itself with what it may not
    /// see blanked; or, when the collection's `on_read` or `computed` hook has to see it, the
    /// record the hook left, [`shown`](Self::shown).
    fn fetched(&self, coll: &Coll, mut row: Vec<SqlValue>, access: Access, cx: &HookContext<'_>) -> Fetched {
        if coll.hooks.runs(Hook::OnRead) || coll.hooks.runs(Hook::Computed) {
            let mut record = row_to_record(coll, row);
            coll.hooks.on_read(&mut record, cx);
            return Fetched::Record(self.shown(coll, record, access));
        }
        conceal(coll, &mut row, self.req(access), access == Access::System);
        Fetched::Row(Row::new(row))
    }

    /// The `WHERE` of a query: the list rule as `req` meets it, then the query's filter.
    fn selection(&self, coll: &Coll, req: &RequestCx, spec: &QuerySpec) -> ApiResult<(String, Vec<SqlValue>)> {
        let dialect = self.txn.conn.dialect();
        let gate = gate(coll, Action::List, req, dialect)?;
        let (mut sql, mut binds) = gate.sql(req);
        if let Some(filter) = &spec.filter {
            let fragment =
                query::compile_filter(self.txn.app, coll, filter, req.is_superuser(), dialect, binds.len() + 1)
                    .map_err(|refused| explain_filter(self.txn.app, coll, filter).unwrap_or(refused))?;
            sql = format!("{sql} AND ({})", fragment.sql);
            binds.extend(resolve_binds_with(&fragment.binds, req, &spec.params));
        }
        Ok((sql, binds))
    }
}

/// Why a filter custom code wrote was refused, when it does not check (the code's mistake):
/// an internal error that names it, with the checker's diagnostics. `None` when it checks (a
/// refusal the API would give the caller too, such as `@request` for a non-superuser).
fn explain_filter(app: &AppState, coll: &Coll, filter: &str) -> Option<ApiError> {
    let mut diags = baas_schema::Diagnostics::new();
    if check_expr(&Context::filter(app.schema(), &coll.ir), filter, &mut diags).is_some() {
        return None;
    }
    let file = baas_schema::SourceFile::new("filter", filter);
    Some(ApiError::internal(format!(
        "the filter `{filter}` on {} does not check:\n{}",
        coll.ir.name,
        diags.render(&file)
    )))
}

impl Store for Engine<'_, '_> {
    fn context(&self) -> HookContext<'_> {
        self.req.hook_context()
    }

    fn get(&self, access: Access, collection: &str, id: &str) -> ApiResult<Option<Fetched>> {
        let coll = self.collection(collection)?;
        let req = self.req(access);
        let gate = gate(&coll, Action::View, req, self.txn.conn.dialect())?;
        let row = fetch_row(self.txn.conn, &coll, id, &gate, req, "")?;
        Ok(row.map(|row| self.fetched(&coll, row, access, &req.hook_context())))
    }

    fn list(&self, access: Access, collection: &str, spec: &QuerySpec) -> ApiResult<Vec<Fetched>> {
        let coll = self.collection(collection)?;
        let req = self.req(access);
        let dialect = self.txn.conn.dialect();
        let (where_sql, mut binds) = self.selection(&coll, req, spec)?;
        let order = match &spec.sort {
            Some(sort) => {
                let o = query::order_by(self.txn.app, &coll, sort, req.is_superuser(), dialect, binds.len() + 1)?;
                binds.extend(resolve_binds(&o.binds, req));
                o.sql
            }
            None => default_order(&coll, dialect),
        };
        let mut sql =
            format!("SELECT {} FROM {} WHERE {where_sql} ORDER BY {order}", coll.columns, quote(&coll.ir.name));
        match (spec.limit, dialect) {
            (Some(n), _) => {
                binds.push(SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX)));
                sql.push_str(&format!(" LIMIT {}", placeholder(dialect, binds.len())));
            }
            (None, Dialect::Sqlite) if spec.offset > 0 => sql.push_str(" LIMIT -1"),
            (None, _) => {}
        }
        if spec.offset > 0 {
            binds.push(SqlValue::Int(i64::try_from(spec.offset).unwrap_or(i64::MAX)));
            sql.push_str(&format!(" OFFSET {}", placeholder(dialect, binds.len())));
        }
        let cx = req.hook_context();
        let rows = self.txn.conn.query(&sql, &binds)?;
        Ok(rows.into_iter().map(|row| self.fetched(&coll, row, access, &cx)).collect())
    }

    fn count(&self, access: Access, collection: &str, spec: &QuerySpec) -> ApiResult<u64> {
        let coll = self.collection(collection)?;
        let (where_sql, binds) = self.selection(&coll, self.req(access), spec)?;
        let n =
            self.txn.conn.count(&format!("SELECT COUNT(*) FROM {} WHERE {where_sql}", quote(&coll.ir.name)), &binds)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn count_by(
        &self,
        access: Access,
        collection: &str,
        spec: &QuerySpec,
        field: &str,
    ) -> ApiResult<Vec<(String, u64)>> {
        let coll = self.collection(collection)?;
        let shown = coll.ir.field(field).filter(|f| access == Access::System || !f.hidden);
        let Some(f) = shown.filter(|f| f.ty.is_multiple()) else {
            return Err(ApiError::internal(format!("{collection}.{field} is not a multi-valued field to count by")));
        };
        let (where_sql, binds) = self.selection(&coll, self.req(access), spec)?;
        let (table, column) = (quote(&coll.ir.name), quote(&f.name));
        let items = match self.txn.conn.dialect() {
            Dialect::Sqlite => format!("json_each({table}.{column}) AS item"),
            Dialect::Postgres => format!("jsonb_array_elements_text({table}.{column}) AS item(value)"),
        };
        let sql = format!(
            "SELECT item.value, COUNT(*) FROM {table}, {items} WHERE {where_sql} GROUP BY item.value ORDER BY item.value"
        );
        let rows = self.txn.conn.query(&sql, &binds)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let value = row.first().and_then(SqlValue::as_str).unwrap_or_default().to_owned();
                (value, row.get(1).and_then(SqlValue::as_i64).and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
            })
            .collect())
    }

    fn create(&self, access: Access, collection: &str, body: Record) -> ApiResult<Record> {
        let coll = self.collection(collection)?;
        let req = self.req(access).with_body(Some(body));
        self.txn.nested(|| {
            let prepared = prepare_create(&coll, &req);
            create_in(self.txn, &coll, &req, prepared)
        })
    }

    fn update(&self, access: Access, collection: &str, id: &str, body: Record) -> ApiResult<Record> {
        let coll = self.collection(collection)?;
        let req = self.req(access).with_body(Some(body));
        self.txn.nested(|| update_in(self.txn, &coll, id, &req, None))
    }

    fn delete(&self, access: Access, collection: &str, id: &str) -> ApiResult<()> {
        let coll = self.collection(collection)?;
        let req = self.req(access);
        self.txn.nested(|| delete_in(self.txn, &coll, id, req))
    }

    fn send_mail(&self, mail: &crate::mail::Mail) -> ApiResult<()> {
        if !self.txn.writable {
            return Err(ApiError::internal("a mail sent from a read transaction (use Data::write)"));
        }
        crate::outbox::enqueue(self.txn.conn, &mail.message(format!("mail:{}", mail.to)))?;
        let outbox = self.txn.app.outbox().clone();
        self.txn.conn.after_commit(move || outbox.wake());
        Ok(())
    }

    fn after_commit(&self, f: Box<dyn FnOnce() + Send>) {
        self.txn.conn.after_commit(f);
    }

    fn publish(&self, topic: &str, data: Value) -> ApiResult<()> {
        self.txn.app.changes().message(self.txn.conn, topic, &data).map_err(ApiError::internal)
    }
}

/// The data API's [`Database`]: transactions acting as one caller.
pub struct Handle {
    app: AppState,
    req: Arc<RequestCx>,
}

impl Handle {
    /// A [`Data`] handle acting as `req`'s caller (its body and files left behind).
    pub fn data(app: &AppState, req: &RequestCx) -> Data {
        Data::new(Arc::new(Handle { app: app.clone(), req: Arc::new(req.with_body(None)) }))
    }
}

impl Database for Handle {
    fn run(&self, write: bool, job: Job) -> Running {
        let (app, req) = (self.app.clone(), self.req.clone());
        Box::pin(async move {
            if write {
                return self::write(&app, Vec::new(), move |txn| job(Tx::new(&Engine::new(txn, &req)))).await;
            }
            let app2 = app.clone();
            app.db().read(move |conn| job(Tx::new(&Engine::new(&Txn::read_only(conn, &app2), &req)))).await
        })
    }
}

// --- the hooks every write calls ---------------------------------------------------------------

/// The hooks' handle for a write by `req`: acting as its caller, or with system access for a
/// cascade.
pub(crate) fn hook_tx<'a>(engine: &'a Engine<'_, '_>, cascade: bool) -> Tx<'a> {
    let tx = Tx::new(engine);
    if cascade { tx.system() } else { tx }
}

/// Schedules the collection's `after_*_commit` hook for `record`, if it has one.
pub(crate) fn committed(
    txn: &Txn<'_, '_>,
    coll: &Coll,
    event: Event,
    record: &Record,
    req: &RequestCx,
) -> ApiResult<()> {
    let data = || Handle::data(txn.app, req);
    if let Some(work) = coll.hooks.committed(event, record, &data)? {
        let app = txn.app.clone();
        txn.conn.after_commit(move || app.spawn(work));
    }
    Ok(())
}

/// Runs `coll`'s `on_request` hook for a write asked over HTTP, before any transaction, on
/// `req`'s body (which the hook may change). A validation error is worded as the write it
/// stopped.
pub async fn requested(coll: &Coll, event: Event, id: Option<&str>, req: &mut RequestCx) -> ApiResult<()> {
    if !coll.hooks.runs(Hook::OnRequest) {
        return Ok(());
    }
    let sent = req.body.take();
    let had_body = sent.is_some();
    let mut body = sent.unwrap_or_default();
    let result = {
        let mut request = WriteRequest { event, id, body: &mut body, context: req.hook_context() };
        coll.hooks.on_request(&mut request).await
    };
    if had_body || !body.is_empty() {
        req.body = Some(body);
    }
    result.map_err(|e| match event {
        Event::Create => e.stopped(msg::CREATE_FAILED),
        Event::Update => e.stopped(msg::UPDATE_FAILED),
        Event::Delete => e,
    })
}

/// Runs a `before_*` `hook` of `coll` (`edit`) on `record`, unless it is known to be a default:
/// its error is worded as the write it stopped (`message`), and what it changed is validated
/// again.
pub(crate) fn before_hook(
    coll: &Coll,
    hook: Hook,
    record: &mut Record,
    message: &str,
    edit: impl FnOnce(&mut Record) -> ApiResult<()>,
) -> ApiResult<()> {
    if !coll.hooks.runs(hook) {
        return Ok(());
    }
    let before = record.clone();
    edit(record).map_err(|e| e.stopped(message))?;
    revalidate(coll, &before, record, message)
}

/// Re-validates what a `before_*` hook changed in `record` (from `before`), as a superuser's
/// update would be: a hook cannot write a value the API would refuse.
fn revalidate(coll: &Coll, before: &Record, record: &mut Record, message: &str) -> ApiResult<()> {
    let changed: Record = record
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .filter(|(k, _)| coll.ir.field(k).is_some_and(|f| !matches!(f.ty, FieldType::File { .. })))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let writer = Writer { superuser: true, is_self: false };
    let prepared = input::prepare(&coll.ir, &changed, Mode::Update { existing: before }, &writer)
        .map_err(|errors| ApiError::fields(message, errors))?;
    record.extend(prepared.values);
    Ok(())
}
