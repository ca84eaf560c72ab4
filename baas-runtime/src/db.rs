//! Database access, one API over two engines: a small pool of SQLite connections (one writer,
//! several readers, WAL) or of PostgreSQL clients, and the value type that crosses between
//! records and SQL.
//!
//! The records engine is synchronous code that runs on a blocking thread with one connection
//! ([`Db::read`], [`Db::write`]): on SQLite, dedicated threads that each own a connection (one
//! writer, one reader per core) and take jobs from a queue; on PostgreSQL, tokio's blocking
//! pool. Statements are prepared once per connection and cached
//! (rusqlite's statement cache; a map of prepared statements per PostgreSQL client). Dialect
//! differences the engine cannot express in portable SQL are asked of [`Conn`]
//! ([`Conn::dialect`], [`Conn::placeholder`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, mpsc};

use baas_schema::sql::Dialect;
use postgres::types::{IsNull, ToSql as PgToSql, Type};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::error::ApiError;

/// A value bound to or read from SQL.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            SqlValue::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// PostgreSQL is strictly typed: a value is converted to the type the server expects for its
/// parameter (a JSON text to `jsonb`, an integer to `float8`, …).
impl PgToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        if *self == SqlValue::Null {
            return Ok(IsNull::Yes);
        }
        match *ty {
            Type::INT8 => self.to_i64()?.to_sql(ty, out),
            Type::INT4 => i32::try_from(self.to_i64()?)?.to_sql(ty, out),
            Type::INT2 => i16::try_from(self.to_i64()?)?.to_sql(ty, out),
            Type::FLOAT8 => self.to_f64()?.to_sql(ty, out),
            Type::FLOAT4 => (self.to_f64()? as f32).to_sql(ty, out),
            Type::BOOL => match self {
                SqlValue::Bool(b) => b.to_sql(ty, out),
                SqlValue::Int(i) => (*i != 0).to_sql(ty, out),
                SqlValue::Real(f) => (*f != 0.0).to_sql(ty, out),
                SqlValue::Text(s) => (s == "true" || s == "1").to_sql(ty, out),
                SqlValue::Null => unreachable!(),
            },
            Type::JSON | Type::JSONB => {
                let json = match self {
                    SqlValue::Text(s) => {
                        serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone()))
                    }
                    SqlValue::Int(i) => serde_json::json!(i),
                    SqlValue::Real(f) => serde_json::json!(f),
                    SqlValue::Bool(b) => serde_json::Value::Bool(*b),
                    SqlValue::Null => unreachable!(),
                };
                json.to_sql(ty, out)
            }
            _ => self.text().to_sql(&Type::TEXT, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl SqlValue {
    fn from_ref(v: ValueRef<'_>) -> SqlValue {
        match v {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(i) => SqlValue::Int(i),
            ValueRef::Real(f) => SqlValue::Real(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        }
    }

    /// Column `i` of a PostgreSQL row, read by its type.
    fn from_pg(row: &postgres::Row, i: usize) -> Result<SqlValue, postgres::Error> {
        let ty = row.columns()[i].type_().clone();
        Ok(match ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(SqlValue::Null, SqlValue::Bool),
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(SqlValue::Null, SqlValue::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(SqlValue::Null, SqlValue::Real),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Real(v.into())),
            Type::JSON | Type::JSONB => row
                .try_get::<_, Option<serde_json::Value>>(i)?
                .map_or(SqlValue::Null, |v| SqlValue::Text(v.to_string())),
            Type::NUMERIC => row.try_get::<_, Option<Numeric>>(i)?.map_or(SqlValue::Null, |n| SqlValue::Real(n.0)),
            _ => match row.try_get::<_, Option<String>>(i) {
                Ok(v) => v.map_or(SqlValue::Null, SqlValue::Text),
                // A type without a text mapping here (numeric, timestamps in a view, …).
                Err(_) => SqlValue::Null,
            },
        })
    }

    fn text(&self) -> String {
        match self {
            SqlValue::Null => String::new(),
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Real(f) => f.to_string(),
            SqlValue::Text(s) => s.clone(),
            SqlValue::Bool(b) => b.to_string(),
        }
    }

    fn to_i64(&self) -> Result<i64, BoxError> {
        match self {
            SqlValue::Text(s) => Ok(s.trim().parse::<f64>().map(|f| f as i64)?),
            v => Ok(v.as_i64().unwrap_or(0)),
        }
    }

    fn to_f64(&self) -> Result<f64, BoxError> {
        match self {
            SqlValue::Int(i) => Ok(*i as f64),
            SqlValue::Real(f) => Ok(*f),
            SqlValue::Bool(b) => Ok(f64::from(u8::from(*b))),
            SqlValue::Text(s) => Ok(s.trim().parse()?),
            SqlValue::Null => Ok(0.0),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            SqlValue::Real(f) => Some(*f as i64),
            SqlValue::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}

/// A PostgreSQL `numeric` (`SUM` of integers in a view, …), read as a float.
struct Numeric(f64);

impl<'a> postgres::types::FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        // ndigits, weight, sign, dscale (i16 each), then ndigits base-10000 digits.
        let word = |i: usize| -> Result<i16, BoxError> {
            let b = raw.get(2 * i..2 * i + 2).ok_or("truncated numeric")?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        };
        let (ndigits, weight, sign) = (word(0)?, word(1)?, word(2)? as u16);
        if sign == 0xC000 {
            return Ok(Numeric(f64::NAN));
        }
        let mut value = 0.0;
        for d in 0..ndigits.max(0) as usize {
            value += f64::from(word(4 + d)?) * 10_000f64.powi(i32::from(weight) - d as i32);
        }
        Ok(Numeric(if sign == 0x4000 { -value } else { value }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// A row: values in the order of the query's columns.
pub type Row = Vec<SqlValue>;

/// A database error from either engine.
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => e.fmt(f),
            DbError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(
                    f,
                    "{}: {}{}",
                    db.code().code(),
                    db.message(),
                    db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                ),
                // connection errors keep their cause in the source
                None => match std::error::Error::source(e) {
                    Some(cause) => write!(f, "{e}: {cause}"),
                    None => e.fmt(f),
                },
            },
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

impl DbError {
    /// Whether a value could not be stored or compared at all: PostgreSQL text cannot hold
    /// NUL characters (`\u0000`), which SQLite accepts.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            DbError::Sqlite(_) => false,
            DbError::Postgres(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || *c == postgres::error::SqlState::UNTRANSLATABLE_CHARACTER
            }),
        }
    }

    /// The columns of a violated unique index, when that is what failed.
    pub fn unique_violation(&self) -> Option<Vec<String>> {
        match self {
            DbError::Sqlite(e) => {
                let text = e.to_string();
                let cols = text.strip_prefix("UNIQUE constraint failed: ")?;
                Some(cols.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c).to_owned()).collect())
            }
            DbError::Postgres(e) => {
                let db = e.as_db_error()?;
                if *db.code() != postgres::error::SqlState::UNIQUE_VIOLATION {
                    return None;
                }
                // DETAIL: Key (title)=(Hello) already exists.   /   Key ("a", b)=(…) …
                let cols =
                    db.detail().and_then(|d| d.strip_prefix("Key (")).and_then(|d| d.split_once(")=")).map(|(c, _)| c);
                match cols {
                    Some(cols) => Some(cols.split(", ").map(|c| c.trim_matches('"').to_owned()).collect()),
                    None => Some(db.column().map(str::to_owned).into_iter().collect()),
                }
            }
        }
    }
}

/// One PostgreSQL client and the statements prepared on it.
struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    config: postgres::Config,
    /// Inside `BEGIN … COMMIT`: a lost connection lost the transaction, nothing is retried.
    in_transaction: bool,
}

impl PgConn {
    fn connect(config: &postgres::Config) -> Result<PgConn, String> {
        let mut client = config
            .connect(postgres::NoTls)
            .map_err(|e| format!("cannot connect to PostgreSQL: {}", DbError::from(e)))?;
        // `CREATE TABLE IF NOT EXISTS` and the like would log a NOTICE on every start.
        client
            .batch_execute("SET client_min_messages = warning")
            .map_err(|e| format!("cannot configure the PostgreSQL session: {e}"))?;
        Ok(PgConn { client, statements: HashMap::new(), config: config.clone(), in_transaction: false })
    }

    /// Runs `f` with the statement for `sql`. When the server dropped the connection (a
    /// restart, a failover, an administrator) outside a transaction, it reconnects and tries
    /// once more: nothing ran, or a statement outside a transaction that the engine only
    /// issues idempotently (`BEGIN`, bookkeeping).
    fn run<T>(
        &mut self,
        sql: &str,
        f: impl Fn(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let attempt = |pg: &mut PgConn| -> Result<T, postgres::Error> {
            let stmt = pg.statement(sql)?;
            f(&mut pg.client, &stmt).inspect_err(|_| pg.forget(sql))
        };
        match attempt(self) {
            Err(e) if !self.in_transaction && self.lost(&e) => match PgConn::connect(&self.config) {
                Ok(fresh) => {
                    *self = fresh;
                    Ok(attempt(self)?)
                }
                Err(_) => Err(e.into()),
            },
            result => Ok(result?),
        }
    }

    /// [`PgConn::run`] for statements without parameters, several at once.
    fn run_batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self.client.batch_execute(sql) {
            Err(e) if !self.in_transaction && self.lost(&e) => match PgConn::connect(&self.config) {
                Ok(fresh) => {
                    *self = fresh;
                    Ok(self.client.batch_execute(sql)?)
                }
                Err(_) => Err(e.into()),
            },
            result => Ok(result?),
        }
    }

    /// Whether `e` means the connection is gone.
    fn lost(&self, e: &postgres::Error) -> bool {
        use postgres::error::SqlState;
        e.is_closed()
            || self.client.is_closed()
            || e.code().is_some_and(|c| {
                [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW].contains(c)
            })
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(sql)?;
        if self.statements.len() >= 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Drops a statement that failed: it is prepared afresh next time, in case another
    /// instance changed the schema under it ("cached plan must not change result type").
    fn forget(&mut self, sql: &str) {
        self.statements.remove(sql);
    }
}

enum ConnInner<'a> {
    Sqlite(&'a Connection),
    Postgres(RefCell<&'a mut PgConn>),
}

/// Work to run once the current transaction commits (realtime events).
type AfterCommit = Box<dyn FnOnce() + Send>;

/// One connection, as the records engine sees it.
pub struct Conn<'a> {
    inner: ConnInner<'a>,
    /// `Some` inside [`Conn::transaction`] (and throughout a grouped job): what waits for the
    /// commit.
    after_commit: RefCell<Option<Vec<AfterCommit>>>,
    /// The SQLite writer runs this job inside a transaction it shares with other jobs (group
    /// commit): [`Conn::transaction`] is a savepoint of it.
    grouped: bool,
}

thread_local! {
    /// The totals kept by [`Conn::count`]: `Some` on SQLite reader threads only.
    static COUNTS: RefCell<Option<Counts>> = const { RefCell::new(None) };
}

/// Totals counted on one reader connection while the database stayed as it was.
#[derive(Default)]
struct Counts {
    /// The connection's `PRAGMA data_version` when they were counted.
    version: i64,
    /// By SQL text and parameters.
    totals: HashMap<String, i64>,
}

impl Counts {
    /// Distinct totals kept at most (then they start afresh): a few hundred kilobytes.
    const MAX: usize = 1_024;
}

/// The key of the advisory lock PostgreSQL instances take around migrations.
const MIGRATION_LOCK: i64 = 0x0062_6161_736d_6967; // "baasmig"

impl<'a> Conn<'a> {
    fn new(inner: ConnInner<'a>) -> Self {
        Conn { inner, after_commit: RefCell::new(None), grouped: false }
    }

    /// A job's connection inside a group commit: its work waits for the group's commit.
    fn grouped(conn: &'a Connection) -> Self {
        Conn { inner: ConnInner::Sqlite(conn), after_commit: RefCell::new(Some(Vec::new())), grouped: true }
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            ConnInner::Sqlite(_) => Dialect::Sqlite,
            ConnInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The `n`-th (1-based) parameter marker: `?n` or `$n`.
    pub fn placeholder(&self, n: usize) -> String {
        placeholder(self.dialect(), n)
    }

    pub fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        match &self.inner {
            ConnInner::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push((0..width).map(|i| row.get_ref(i).map(SqlValue::from_ref)).collect::<Result<_, _>>()?);
                }
                Ok(out)
            }
            ConnInner::Postgres(pg) => {
                let rows = pg.borrow_mut().run(sql, |client, stmt| client.query(stmt, &pg_params(params)))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push((0..row.len()).map(|i| SqlValue::from_pg(row, i)).collect::<Result<_, _>>()?);
                }
                Ok(out)
            }
        }
    }

    /// The integer a `SELECT COUNT(*) …` returns (a list's total). On a SQLite reader thread
    /// the answer is kept until the database changes: SQLite's `data_version` tells a
    /// connection whether any other connection (this process's writer, or another process)
    /// committed since, so a kept total is exact, and any commit forgets them all.
    pub fn count(&self, sql: &str, params: &[SqlValue]) -> Result<i64, DbError> {
        let count = |conn: &Self| -> Result<i64, DbError> {
            let rows = conn.query(sql, params)?;
            Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::as_i64).unwrap_or(0))
        };
        let ConnInner::Sqlite(conn) = &self.inner else { return count(self) };
        if !conn.is_autocommit() || COUNTS.with_borrow(Option::is_none) {
            return count(self);
        }
        let version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?;
        let key = format!("{sql}\u{0}{params:?}");
        let kept = COUNTS.with_borrow_mut(|counts| {
            let counts = counts.as_mut()?;
            if counts.version != version {
                counts.version = version;
                counts.totals.clear();
            }
            counts.totals.get(&key).copied()
        });
        if let Some(n) = kept {
            return Ok(n);
        }
        let n = count(self)?;
        COUNTS.with_borrow_mut(|counts| {
            if let Some(counts) = counts.as_mut() {
                if counts.totals.len() >= Counts::MAX {
                    counts.totals.clear();
                }
                counts.totals.insert(key, n);
            }
        });
        Ok(n)
    }

    pub fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<usize, DbError> {
        match &self.inner {
            ConnInner::Sqlite(conn) => Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))?),
            ConnInner::Postgres(pg) => {
                Ok(pg.borrow_mut().run(sql, |client, stmt| client.execute(stmt, &pg_params(params)))? as usize)
            }
        }
    }

    /// Runs several statements (migrations), no parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.inner {
            ConnInner::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            ConnInner::Postgres(pg) => pg.borrow_mut().run_batch(sql),
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise. Inside
    /// a group commit it is a savepoint, and "committed" means once the group commits.
    pub fn transaction<T, E: From<DbError>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
        if self.grouped {
            return self.savepoint(f);
        }
        self.execute_batch(match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })?;
        self.set_in_transaction(true);
        *self.after_commit.borrow_mut() = Some(Vec::new());
        let result = match f(self) {
            Ok(v) => self.execute_batch("COMMIT").map(|()| v).map_err(E::from),
            Err(e) => {
                let _ = self.execute_batch("ROLLBACK");
                Err(e)
            }
        };
        self.set_in_transaction(false);
        let waiting = self.after_commit.borrow_mut().take().unwrap_or_default();
        if result.is_ok() {
            waiting.into_iter().for_each(|f| f());
        }
        result
    }

    /// [`Conn::transaction`] inside a group commit: undone alone when `f` fails; what waits for
    /// its commit waits for the group's.
    fn savepoint<T, E: From<DbError>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
        self.execute_batch("SAVEPOINT job")?;
        let outer = self.after_commit.replace(Some(Vec::new()));
        let result = match f(self) {
            Ok(v) => self.execute_batch("RELEASE job").map(|()| v).map_err(E::from),
            Err(e) => {
                let _ = self.execute_batch("ROLLBACK TO job; RELEASE job");
                Err(e)
            }
        };
        let mine = self.after_commit.replace(outer).unwrap_or_default();
        if result.is_ok() {
            self.after_commit(move || mine.into_iter().for_each(|f| f()));
        }
        result
    }

    /// Runs `f` once the current transaction commits (never if it rolls back), or now when no
    /// transaction is open.
    pub fn after_commit(&self, f: impl FnOnce() + Send + 'static) {
        match self.after_commit.borrow_mut().as_mut() {
            Some(waiting) => waiting.push(Box::new(f)),
            None => f(),
        }
    }

    fn set_in_transaction(&self, on: bool) {
        if let ConnInner::Postgres(pg) = &self.inner {
            pg.borrow_mut().in_transaction = on;
        }
    }

    /// Runs `f` (migrations, the app secret) while holding the database-wide migration lock:
    /// on PostgreSQL an advisory lock, so that instances starting together migrate once. SQLite
    /// serves one machine and serialises writers itself.
    pub fn with_migration_lock<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, String>) -> Result<T, String> {
        if self.dialect() == Dialect::Sqlite {
            return f(self);
        }
        self.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .map_err(|e| format!("cannot take the migration lock: {e}"))?;
        let result = f(self);
        let unlocked = self.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        let value = result?;
        unlocked.map_err(|e| format!("cannot release the migration lock: {e}"))?;
        Ok(value)
    }
}

fn pg_params(params: &[SqlValue]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// The `n`-th (1-based) parameter marker of `dialect`.
pub fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    }
}

/// The database a backend serves.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Pool>,
}

enum Pool {
    Sqlite {
        writer: Arc<Mutex<Connection>>,
        readers: Arc<[Mutex<Connection>]>,
        workers: OnceLock<Workers>,
        /// Bumped whenever the writer's `ANALYZE` changed the planner's statistics: readers
        /// then reload them (SQLite reads them once per connection).
        statistics: Arc<AtomicU64>,
    },
    Postgres(PgPool),
}

/// A job for a SQLite worker thread: it runs with the thread's connection and returns how to
/// answer its caller, which is called once the job's writes are committed.
type Job = Box<dyn FnOnce(&Conn<'_>) -> Reply + Send>;

/// Answers a job's caller: with the job's result, or with the error that kept the transaction
/// it shared with other jobs from committing.
type Reply = Box<dyn FnOnce(Option<String>) + Send>;

/// At most this many queued writes share one commit.
const GROUP_MAX: usize = 64;

/// The queues of the SQLite worker threads: one writer thread, one thread per reader
/// connection. Measured against `spawn_blocking` per query, threads that keep their connection
/// (and its statement cache) warm serve about twice the requests. The threads end when the
/// [`Db`] is dropped (their queues close).
struct Workers {
    read: mpsc::Sender<Job>,
    write: mpsc::Sender<Job>,
}

impl Workers {
    fn start(
        writer: &Arc<Mutex<Connection>>,
        readers: &Arc<[Mutex<Connection>]>,
        statistics: &Arc<AtomicU64>,
    ) -> Result<Workers, String> {
        let spawn = |name: String, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name).spawn(work).map(drop).map_err(|e| e.to_string())
        };
        let (read, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..readers.len() {
            let (jobs, readers, statistics) = (jobs.clone(), readers.clone(), statistics.clone());
            spawn(
                format!("sqlite-reader-{i}"),
                Box::new(move || {
                    COUNTS.set(Some(Counts::default()));
                    // Connections opened before the start-up `optimize` may hold older statistics.
                    let mut seen = 0;
                    loop {
                        // The queue's lock is released before the job runs.
                        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { return };
                        let now = statistics.load(Ordering::Acquire);
                        if now != seen {
                            seen = now;
                            // SQLite's documented way to re-read the statistics tables; it also
                            // expires the cached statements, so they are planned anew.
                            if let Err(e) = lock(&readers[i]).execute_batch("ANALYZE sqlite_schema") {
                                tracing::warn!("cannot reload the query planner's statistics: {e}");
                            }
                        }
                        run_job(&readers[i], job);
                    }
                }),
            )?;
        }
        let (write, jobs) = mpsc::channel::<Job>();
        let (writer, statistics) = (writer.clone(), statistics.clone());
        spawn(
            "sqlite-writer".into(),
            Box::new(move || {
                let mut since_optimize = 0;
                while let Ok(first) = jobs.recv() {
                    // Writes that queued while the last commit ran share the next one.
                    let mut group = vec![first];
                    while group.len() < GROUP_MAX {
                        match jobs.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    since_optimize += group.len();
                    match group.len() {
                        1 => run_job(&writer, group.pop().expect("one job")),
                        _ => run_group(&lock(&writer), group),
                    }
                    if since_optimize >= OPTIMIZE_EVERY {
                        since_optimize = 0;
                        optimize(&lock(&writer), &statistics, false);
                    }
                }
            }),
        )?;
        Ok(Workers { read, write })
    }
}

/// Writes between two looks at the planner's statistics on the writer: a table that grew (or
/// shrank) tenfold since its statistics were taken is analyzed again, so plans follow the data
/// (the list page's plan flips from "sort every visible row" to "walk the `created` index" as a
/// table grows). When nothing needs analysis the look costs microseconds.
const OPTIMIZE_EVERY: usize = 1_000;

/// Tables smaller than this keep SQLite's default guesses: every plan is cheap on them.
const ANALYZE_FROM_ROWS: i64 = 1_000;

/// Analyzes the tables whose statistics are missing or off by tenfold, and tells the readers when statistics changed (`announce`: whenever
/// there are some, as at start). SQLite's own `PRAGMA optimize` leaves tables that were never
/// analyzed alone, which is every table of a new backend; and a sampled analysis
/// (`analysis_limit`) misjudges two-valued columns such as `published` (1,000 rows sampled of
/// 10,000: "1,001 rows per value" instead of 5,000), which flips the list page's plan back. A
/// full analysis reads every index once, and a table needs one per tenfold growth.
fn optimize(conn: &Connection, statistics: &AtomicU64, announce: bool) {
    match stale_tables(conn).and_then(|stale| {
        for table in &stale {
            conn.execute_batch(&format!("PRAGMA analysis_limit = 0; ANALYZE \"{}\"", table.replace('"', "\"\"")))?;
        }
        Ok(!stale.is_empty())
    }) {
        Ok(analyzed) if analyzed || announce && has_statistics(conn) => {
            statistics.fetch_add(1, Ordering::AcqRel);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot refresh the query planner's statistics: {e}"),
    }
}

/// Tables of at least [`ANALYZE_FROM_ROWS`] rows without statistics, or with statistics taken
/// at a tenth or ten times their size. The size is the largest rowid (a B-tree descent, not a
/// count), so a table that only shrank waits for its next growth.
fn stale_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let analyzed: HashMap<String, i64> = if has_statistics(conn) {
        let mut stmt = conn.prepare("SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0))))?.collect::<Result<_, _>>()?
    } else {
        HashMap::new()
    };
    let mut tables = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND sql NOT LIKE '%WITHOUT ROWID%'",
    )?;
    let names = tables.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    let mut stale = Vec::new();
    for name in names {
        let rows: i64 =
            conn.query_row(&format!("SELECT ifnull(max(rowid), 0) FROM \"{}\"", name.replace('"', "\"\"")), [], |r| {
                r.get(0)
            })?;
        let stale_now = match analyzed.get(&name) {
            None => rows >= ANALYZE_FROM_ROWS,
            Some(&then) => {
                rows >= ANALYZE_FROM_ROWS && (rows >= then.saturating_mul(10) || rows.saturating_mul(10) <= then)
            }
        };
        if stale_now {
            stale.push(name);
        }
    }
    Ok(stale)
}

fn has_statistics(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'", [], |r| r.get::<_, i64>(0))
        .is_ok_and(|n| n > 0)
}

/// Runs `job` on `conn` and answers its caller; a job that panics drops its reply (the caller
/// gets an internal error) and leaves no transaction open behind it.
fn run_job(conn: &Mutex<Connection>, job: Job) {
    let guard = lock(conn);
    match std::panic::catch_unwind(AssertUnwindSafe(|| job(&Conn::new(ConnInner::Sqlite(&guard))))) {
        Ok(reply) => reply(None),
        Err(_) if !guard.is_autocommit() => drop(guard.execute_batch("ROLLBACK")),
        Err(_) => {}
    }
}

/// Runs several write jobs in one transaction (group commit): each in a savepoint of its own,
/// so that a failing or panicking job undoes only its own writes; their callers are answered,
/// and their after-commit work run, once the shared commit succeeded. Creates in the benchmark:
/// 13,900 → 17,000 per second (bench/RESULTS.md).
fn run_group(conn: &Connection, group: Vec<Job>) {
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        // cannot share a transaction: one at a time, as if they had arrived apart
        for job in group {
            if let Ok(reply) = std::panic::catch_unwind(AssertUnwindSafe(|| job(&Conn::new(ConnInner::Sqlite(conn))))) {
                reply(None);
            }
        }
        return;
    }
    let (mut replies, mut waiting) = (Vec::with_capacity(group.len()), Vec::new());
    for job in group {
        let c = Conn::grouped(conn);
        match std::panic::catch_unwind(AssertUnwindSafe(|| c.savepoint(|c| Ok::<_, DbError>(job(c))))) {
            Ok(Ok(reply)) => {
                replies.push(reply);
                waiting.extend(c.after_commit.take().unwrap_or_default());
            }
            // the savepoint could not be taken or released: the job's caller gets an internal error
            Ok(Err(e)) => tracing::error!("a grouped write failed: {e}"),
            Err(_) => drop(conn.execute_batch("ROLLBACK TO job; RELEASE job")),
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            waiting.into_iter().for_each(|f| f());
            replies.into_iter().for_each(|reply| reply(None));
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let e = format!("cannot commit: {e}");
            replies.into_iter().for_each(|reply| reply(Some(e.clone())));
        }
    }
}

/// PostgreSQL clients, connected on first use (an idle backend holds one connection), and
/// reconnected when the server closed them.
struct PgPool {
    config: postgres::Config,
    slots: Vec<Mutex<Option<PgConn>>>,
    /// One permit per slot, handed out first come, first served: a request waits in this
    /// queue rather than on one slot's lock, where later arrivals could overtake it.
    permits: Arc<tokio::sync::Semaphore>,
}

impl Drop for PgPool {
    fn drop(&mut self) {
        // A client owns a small runtime, which may not be dropped inside an async context
        // (the server's pool goes away at the end of `block_on`): drop them on a thread.
        let slots = std::mem::take(&mut self.slots);
        let _ = std::thread::spawn(move || drop(slots)).join();
    }
}

impl PgPool {
    fn acquire(&self) -> Result<MutexGuard<'_, Option<PgConn>>, String> {
        let mut guard = self.slots.iter().find_map(|s| s.try_lock().ok()).unwrap_or_else(|| {
            let i = rand::random_range(0..self.slots.len());
            self.slots[i].lock().unwrap_or_else(|poisoned| {
                // A panic while holding the client may have left a transaction open.
                let mut guard = poisoned.into_inner();
                *guard = None;
                guard
            })
        });
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = Some(PgConn::connect(&self.config)?);
        }
        Ok(guard)
    }
}

impl Db {
    /// Opens `sqlite://path` (or a bare path) or `postgres://user@host:port/db`; `:memory:` is
    /// refused since readers and the writer must share one database.
    pub fn open(url: &str) -> Result<Db, String> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let config: postgres::Config = url.parse().map_err(|e| format!("'{url}' is not a PostgreSQL URL: {e}"))?;
            // Requests mostly wait on the server (round trips, commits), not on this machine's
            // cores: a pool of one client per core left creates queueing behind two clients.
            let slots = (cores * 4).clamp(8, 16);
            let pool = PgPool {
                config,
                slots: (0..slots).map(|_| Mutex::new(None)).collect(),
                permits: Arc::new(tokio::sync::Semaphore::new(slots)),
            };
            // Connect now: a wrong URL fails at start, not on the first request.
            drop(pool.acquire()?);
            return Ok(Db { inner: Arc::new(Pool::Postgres(pool)) });
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() || path.contains(":memory:") {
            return Err(format!("'{url}' is not a database file: use --db sqlite://data.db"));
        }
        let path = Path::new(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let open = |flags| -> Result<Connection, String> {
            let conn =
                Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
            // An 8 MiB page cache per connection (SQLite's default is 2 MiB): a list's total
            // counts rows by scanning, and from the cache that costs a third of what re-reading
            // pages from the OS does (bench/RESULTS.md).
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
                 PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;",
            )
            .map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
            conn.set_prepared_statement_cache_capacity(256);
            Ok(conn)
        };
        let writer =
            open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;

        let readers = (0..cores.clamp(2, 8))
            .map(|_| open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let pool = Pool::Sqlite {
            writer: Arc::new(Mutex::new(writer)),
            readers,
            workers: OnceLock::new(),
            statistics: Arc::new(AtomicU64::new(0)),
        };
        Ok(Db { inner: Arc::new(pool) })
    }

    /// The connection settings of a PostgreSQL database (for connections of its own, such as
    /// the realtime listener); `None` on SQLite.
    pub fn postgres_config(&self) -> Option<postgres::Config> {
        match &*self.inner {
            Pool::Postgres(pool) => Some(pool.config.clone()),
            Pool::Sqlite { .. } => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match *self.inner {
            Pool::Sqlite { .. } => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` with a reader connection on a blocking thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(false, f).await
    }

    /// Runs `f` with the writer connection on a blocking thread (on PostgreSQL, any client:
    /// the server serialises conflicting writes).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(true, f).await
    }

    async fn run<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (writer, readers, workers, statistics) = match &*self.inner {
            Pool::Sqlite { writer, readers, workers, statistics } => (writer, readers, workers, statistics),
            Pool::Postgres(pg) => {
                let permit = pg.permits.clone().acquire_owned().await.map_err(ApiError::internal)?;
                let pool = self.inner.clone();
                return tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    pool.with(write, |conn| f(conn), ApiError::internal)
                })
                .await
                .map_err(ApiError::internal)?;
            }
        };
        let workers = match workers.get() {
            Some(w) => w,
            None => {
                let started = Workers::start(writer, readers, statistics).map_err(ApiError::internal)?;
                workers.get_or_init(|| started)
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &Conn<'_>| {
            let result = f(conn);
            Box::new(move |failed: Option<String>| {
                let _ = tx.send(match failed {
                    None => result,
                    Some(e) => Err(ApiError::internal(e)),
                });
            })
        });
        let queue = if write { &workers.write } else { &workers.read };
        queue.send(job).map_err(|_| ApiError::internal("the database threads have stopped"))?;
        rx.await.map_err(|_| ApiError::internal("a database job panicked"))?
    }

    /// Brings the query planner's statistics up to date (SQLite: `ANALYZE` of the tables never
    /// analyzed or grown tenfold; PostgreSQL's autovacuum does this itself). Run at start, after the migrations; the writer repeats it as writes accumulate.
    pub fn refresh_statistics(&self) {
        if let Pool::Sqlite { writer, statistics, .. } = &*self.inner {
            optimize(&lock(writer), statistics, true);
        }
    }

    /// Runs `f` with the writer connection on the current thread (start-up, CLI commands; never
    /// inside the async runtime).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, String>) -> Result<T, String> {
        self.inner.with(true, f, |e| e)
    }
}

impl Pool {
    fn with<T, E>(
        &self,
        write: bool,
        f: impl FnOnce(&Conn<'_>) -> Result<T, E>,
        connect_error: impl FnOnce(String) -> E,
    ) -> Result<T, E> {
        match self {
            Pool::Sqlite { writer, readers, .. } => {
                let guard = if write { lock(writer) } else { reader(readers) };
                f(&Conn::new(ConnInner::Sqlite(&guard)))
            }
            Pool::Postgres(pool) => {
                let mut guard = pool.acquire().map_err(connect_error)?;
                let pg = guard.as_mut().expect("acquire connects");
                f(&Conn::new(ConnInner::Postgres(RefCell::new(pg))))
            }
        }
    }
}

fn reader(readers: &[Mutex<Connection>]) -> MutexGuard<'_, Connection> {
    for r in readers {
        if let Ok(guard) = r.try_lock() {
            return guard;
        }
    }
    let i = rand::random_range(0..readers.len());
    lock(&readers[i])
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| {
        // A panic while holding the connection may have left a transaction open: end it.
        let conn = poisoned.into_inner();
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PostgreSQL server of the test suite (`BAAS_TEST_PG`, default 127.0.0.1:5432).
    fn pg() -> Db {
        let base = std::env::var("BAAS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        Db::open(&format!("{base}/postgres")).expect("PostgreSQL for the runtime's tests")
    }

    /// A SQLite database in a fresh folder under the system's temp dir.
    fn sqlite(name: &str) -> Db {
        let path = sqlite_path(name);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        Db::open(&path.display().to_string()).expect("a SQLite database")
    }

    fn sqlite_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("baas-db-{name}-{}", std::process::id())).join("data.db")
    }

    /// A kept total is exact: any commit forgets it, through this database's writer or through
    /// another connection (another process, as far as SQLite can tell).
    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_kept_totals_are_forgotten_on_every_commit() {
        let db = sqlite("counts");
        let insert = "INSERT INTO t VALUES (1)";
        db.write_blocking(|conn| {
            conn.execute_batch(&format!("CREATE TABLE t (n INTEGER); {insert}; {insert}; {insert}"))
                .map_err(|e| e.to_string())
        })
        .unwrap();
        let totals = |db: &Db| {
            let db = db.clone();
            async move {
                let mut seen = Vec::new();
                // more asks than reader threads, so that every reader answers from what it kept
                for _ in 0..8 {
                    seen.push(
                        db.read(|c| {
                            c.count("SELECT COUNT(*) FROM t WHERE n > ?1", &[SqlValue::Int(0)])
                                .map_err(ApiError::internal)
                        })
                        .await
                        .unwrap(),
                    );
                }
                seen.dedup();
                seen
            }
        };
        assert_eq!(totals(&db).await, [3]);
        db.write(move |c| c.execute(insert, &[]).map(drop).map_err(ApiError::internal)).await.unwrap();
        assert_eq!(totals(&db).await, [4]);
        let other = Connection::open(sqlite_path("counts")).unwrap();
        other.execute_batch(insert).unwrap();
        assert_eq!(totals(&db).await, [5]);
        // inside a transaction nothing is kept or used: the writer sees its own uncommitted rows
        let inside = db
            .write(move |c| {
                c.transaction(|c| {
                    c.execute(insert, &[])?;
                    c.count("SELECT COUNT(*) FROM t WHERE n > ?1", &[SqlValue::Int(0)]).map_err(ApiError::internal)
                })
            })
            .await;
        assert_eq!(inside.unwrap(), 6);
        assert_eq!(totals(&db).await, [6]);
        drop(db);
        let _ = std::fs::remove_dir_all(sqlite_path("counts").parent().unwrap());
    }

    /// The plan SQLite picks for the blog's anonymous list page, asked on a reader thread.
    async fn list_page_plan(db: &Db) -> String {
        const PAGE: &str = "SELECT id FROM posts WHERE published = 1 OR author = '' ORDER BY created DESC LIMIT 30";
        let plan = db
            .read(|conn| {
                // run the statement itself first, so that a cached plan is what gets explained next
                conn.query(PAGE, &[]).map_err(ApiError::internal)?;
                conn.query(&format!("EXPLAIN QUERY PLAN {PAGE}"), &[]).map_err(ApiError::internal)
            })
            .await
            .unwrap();
        plan.iter().map(|row| row[3].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>().join("; ")
    }

    async fn insert_posts(db: &Db, jobs: std::ops::Range<usize>, per_job: usize) {
        for j in jobs {
            db.write(move |conn| {
                for i in 0..per_job {
                    let n = j * per_job + i;
                    conn.execute(
                        "INSERT INTO posts VALUES (?1, ?2, ?3, ?4)",
                        &[
                            SqlValue::Text(format!("p{n}")),
                            SqlValue::Int((n % 10 < 7) as i64),
                            SqlValue::Text(format!("u{}", n % 100)),
                            SqlValue::Text(format!("2026-11-25 {n:08}")),
                        ],
                    )
                    .unwrap_or_else(|e| panic!("insert {n}: {e}"));
                }
                Ok(())
            })
            .await
            .unwrap();
        }
    }

    /// Without statistics SQLite guesses that `published = 1` matches a handful of rows and
    /// sorts every visible post; with them it walks the `created` index and stops after a page.
    /// The statistics are taken at start and again as the table grows, and the reader threads
    /// (whose connections and cached statements predate them) plan with them.
    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_statistics_follow_the_data_to_the_readers() {
        let db = sqlite("statistics");
        db.write_blocking(|conn| {
            conn.execute_batch(
                "CREATE TABLE posts (id TEXT PRIMARY KEY, published INTEGER, author TEXT, created TEXT); \
                 CREATE INDEX idx_published ON posts (published); \
                 CREATE INDEX idx_author_created ON posts (author, created); \
                 CREATE INDEX idx_created ON posts (created);",
            )
            .map_err(|e| e.to_string())
        })
        .unwrap();
        db.refresh_statistics();
        // 1,000 writes of 10 rows each: the writer's periodic optimize sees a table that grew
        insert_posts(&db, 0..OPTIMIZE_EVERY - 1, 10).await;
        let before = list_page_plan(&db).await;
        assert!(before.contains("TEMP B-TREE FOR ORDER BY"), "no statistics yet: {before}");
        insert_posts(&db, OPTIMIZE_EVERY - 1..OPTIMIZE_EVERY, 10).await;
        // the writer looks at the statistics after answering the 1,000th write, before the next
        db.write(|_| Ok(())).await.unwrap();
        let after = list_page_plan(&db).await;
        assert_eq!(after, "SCAN posts USING INDEX idx_created", "statistics after 1,000 writes");

        // 10,000 commits, and SQLite's checkpoints (on the writer) kept the WAL bounded: with a
        // checkpointer thread beside the writer it reached 231 MB (bench/RESULTS.md).
        let path = db.write_blocking(|conn| {
            conn.query("PRAGMA database_list", &[])
                .map(|r| r[0][2].as_str().unwrap().to_owned())
                .map_err(|e| e.to_string())
        });
        let path = path.unwrap();
        let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
        assert!(wal < 64 << 20, "the WAL is {wal} bytes");

        // A restart on the grown data: the start-up refresh finds the statistics and the
        // readers load them.
        drop(db);
        let db = Db::open(&path).unwrap();
        db.refresh_statistics();
        assert_eq!(list_page_plan(&db).await, "SCAN posts USING INDEX idx_created");
        drop(db);
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    }

    /// Writes that queue behind a slow one share a commit: each is answered with its own
    /// result, one that fails or panics undoes only its own rows, and what waits for a commit
    /// runs once, after it.
    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_queued_writes_share_a_commit_and_fail_alone() {
        let db = sqlite("group");
        db.write_blocking(|conn| {
            conn.execute_batch("CREATE TABLE t (n INTEGER UNIQUE); INSERT INTO t VALUES (-1)")
                .map_err(|e| e.to_string())
        })
        .unwrap();
        let committed = Arc::new(AtomicU64::new(0));
        // holds the writer while the others queue
        let slow = db.write(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let writes = (0..40).map(|n: i64| {
            let (db, committed) = (db.clone(), committed.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                db.write(move |conn| {
                    conn.transaction(|conn| {
                        conn.execute("INSERT INTO t VALUES (?1)", &[SqlValue::Int(n)]).map_err(ApiError::internal)?;
                        // a duplicate: this write's own transaction fails, and only its rows go
                        if n % 10 == 3 {
                            conn.execute("INSERT INTO t VALUES (-1)", &[])
                                .map_err(|_| ApiError::bad_request("duplicate"))?;
                        }
                        assert!(n % 10 != 7, "a job that panics");
                        let committed = committed.clone();
                        conn.after_commit(move || {
                            committed.fetch_add(1, Ordering::SeqCst);
                        });
                        Ok(n)
                    })
                })
                .await
            })
        });
        let writes: Vec<_> = writes.collect();
        slow.await.unwrap();
        for (n, w) in (0..40).zip(writes) {
            match (n % 10, w.await.unwrap()) {
                (3, Err(e)) => assert_eq!(e.message, "duplicate"),
                (7, Err(e)) => assert_eq!(e.status.as_u16(), 500),
                (_, Ok(got)) => assert_eq!(got, n),
                (_, other) => panic!("write {n}: {other:?}"),
            }
        }
        let rows =
            db.read(|conn| conn.query("SELECT n FROM t ORDER BY n", &[]).map_err(ApiError::internal)).await.unwrap();
        let expected: Vec<_> =
            (-1..40).filter(|n| n % 10 != 3 && n % 10 != 7).map(|n| vec![SqlValue::Int(n)]).collect();
        assert_eq!(rows, expected);
        assert_eq!(committed.load(Ordering::SeqCst), 32, "one after-commit call per committed write");
    }

    #[test]
    fn postgres_binds_by_expected_type_and_reads_by_column_type() {
        let db = pg();
        assert_eq!(db.dialect(), Dialect::Postgres);
        let rows = db
            .write_blocking(|conn| {
                assert_eq!(conn.dialect(), Dialect::Postgres);
                conn.query(
                    "SELECT $1::float8, $2::boolean, $3::jsonb, $4::text, $5::bigint, $6::integer, \
                     (2::bigint + 3)::numeric / 4, -12345.5::numeric, $7::text IS NULL, '{\"b\":1,\"a\":[1,2]}'::jsonb",
                    &[
                        SqlValue::Int(3),
                        SqlValue::Int(1),
                        SqlValue::Text(r#"["a","b"]"#.into()),
                        SqlValue::Int(7),
                        SqlValue::Real(9.0),
                        SqlValue::Text("12".into()),
                        SqlValue::Null,
                    ],
                )
                .map_err(|e| e.to_string())
            })
            .unwrap();
        assert_eq!(
            rows[0],
            vec![
                SqlValue::Real(3.0),
                SqlValue::Bool(true),
                SqlValue::Text(r#"["a","b"]"#.into()),
                SqlValue::Text("7".into()),
                SqlValue::Int(9),
                SqlValue::Int(12),
                SqlValue::Real(1.25),
                SqlValue::Real(-12345.5),
                SqlValue::Bool(true),
                SqlValue::Text(r#"{"a":[1,2],"b":1}"#.into()),
            ]
        );
    }

    #[test]
    fn postgres_unique_violations_name_their_columns() {
        let db = pg();
        let cols = db
            .write_blocking(|conn| {
                conn.execute_batch(
                    "CREATE TEMP TABLE t (\"a\" TEXT, \"b\" TEXT); CREATE UNIQUE INDEX ON t (\"a\", \"b\")",
                )
                .map_err(|e| e.to_string())?;
                conn.execute(
                    "INSERT INTO t VALUES ($1, $2)",
                    &[SqlValue::Text("x".into()), SqlValue::Text("y".into())],
                )
                .map_err(|e| e.to_string())?;
                let err = conn
                    .execute("INSERT INTO t VALUES ($1, $2)", &[SqlValue::Text("x".into()), SqlValue::Text("y".into())])
                    .unwrap_err();
                Ok(err.unique_violation())
            })
            .unwrap();
        assert_eq!(cols, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn postgres_transactions_roll_back_on_error() {
        let db = pg();
        let count = db
            .write_blocking(|conn| {
                conn.execute_batch("CREATE TEMP TABLE r (v TEXT)").map_err(|e| e.to_string())?;
                let failed: Result<(), DbError> = conn.transaction(|conn| {
                    conn.execute("INSERT INTO r VALUES ($1)", &[SqlValue::Text("x".into())])?;
                    conn.execute("INSERT INTO missing VALUES ($1)", &[SqlValue::Text("x".into())])?;
                    Ok(())
                });
                assert!(failed.is_err());
                conn.query("SELECT COUNT(*) FROM r", &[]).map_err(|e| e.to_string())
            })
            .unwrap();
        assert_eq!(count[0][0], SqlValue::Int(0));
    }
}
