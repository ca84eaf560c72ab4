//! Database access: a small pool of SQLite connections (one writer, several readers, WAL) and
//! the value type that crosses between records and SQL.
//!
//! The records engine is synchronous code that runs on a blocking thread with one connection
//! ([`Db::read`], [`Db::write`]); statements go through rusqlite's statement cache, so each
//! distinct SQL text is prepared once per connection.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use baas_schema::sql::Dialect;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

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

impl ToSql for SqlValue {
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

impl SqlValue {
    fn from_ref(v: ValueRef<'_>) -> SqlValue {
        match v {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(i) => SqlValue::Int(i),
            ValueRef::Real(f) => SqlValue::Real(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
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

/// A row: values in the order of the query's columns.
pub type Row = Vec<SqlValue>;

/// One connection, as the records engine sees it.
pub struct Conn<'a> {
    inner: &'a Connection,
}

impl Conn<'_> {
    pub fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    pub fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, rusqlite::Error> {
        let mut stmt = self.inner.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push((0..width).map(|i| row.get_ref(i).map(SqlValue::from_ref)).collect::<Result<_, _>>()?);
        }
        Ok(out)
    }

    pub fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<usize, rusqlite::Error> {
        self.inner.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))
    }

    /// Runs several statements (migrations), no parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), rusqlite::Error> {
        self.inner.execute_batch(sql)
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<rusqlite::Error>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
        self.inner.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => {
                self.inner.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.inner.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// The database a backend serves.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Pool>,
}

struct Pool {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
}

impl Db {
    /// Opens `sqlite://path` (or a bare path); `:memory:` is refused since readers and the
    /// writer must share one database.
    pub fn open(url: &str) -> Result<Db, String> {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err("PostgreSQL support is not built yet: use --db sqlite://data.db".into());
        }
        if path.is_empty() || path.contains(":memory:") {
            return Err(format!("'{url}' is not a database file: use --db sqlite://data.db"));
        }
        let path = Path::new(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let open = |flags| -> Result<Connection, String> {
            let conn = Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;",
            )
            .map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
            conn.set_prepared_statement_cache_capacity(256);
            Ok(conn)
        };
        let writer = open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let readers = (0..cores.clamp(2, 8))
            .map(|_| open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Db { inner: Arc::new(Pool { writer: Mutex::new(writer), readers }) })
    }

    pub fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    /// Runs `f` with a reader connection on a blocking thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let guard = pool.reader();
            f(&Conn { inner: &guard })
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` with the writer connection on a blocking thread.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let guard = lock(&pool.writer);
            f(&Conn { inner: &guard })
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` with the writer connection on the current thread (start-up, CLI commands).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Conn<'_>) -> T) -> T {
        let guard = lock(&self.inner.writer);
        f(&Conn { inner: &guard })
    }
}

impl Pool {
    fn reader(&self) -> MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = rand::random_range(0..self.readers.len());
        lock(&self.readers[i])
    }
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
