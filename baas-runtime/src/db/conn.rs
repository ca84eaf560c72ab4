//! One connection as the records engine sees it, on either engine: queries, transactions and
//! savepoints, the work that waits for a commit, and the totals kept between commits.

use std::cell::RefCell;
use std::collections::HashMap;

use baas_schema::sql::Dialect;
use rusqlite::Connection;

use super::pg::PgConn;
use super::{DbError, Row, SqlValue};

pub(super) enum ConnInner<'a> {
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
    pub(super) after_commit: RefCell<Option<Vec<AfterCommit>>>,
    /// The SQLite writer runs this job inside a transaction it shares with other jobs (group
    /// commit): [`Conn::transaction`] is a savepoint of it.
    grouped: bool,
}

thread_local! {
    /// The totals kept by [`Conn::count`]: `Some` on SQLite reader threads only.
    pub(super) static COUNTS: RefCell<Option<Counts>> = const { RefCell::new(None) };
}

/// Totals counted on one reader connection while the database stayed as it was.
#[derive(Default)]
pub(super) struct Counts {
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
    pub(super) fn new(inner: ConnInner<'a>) -> Self {
        Conn { inner, after_commit: RefCell::new(None), grouped: false }
    }

    /// A job's connection inside a group commit: its work waits for the group's commit.
    pub(super) fn grouped(conn: &'a Connection) -> Self {
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

    /// The markers of parameters 1 to `n`, comma-separated: the `VALUES (…)` of an insert.
    pub fn placeholders(&self, n: usize) -> String {
        (1..=n).map(|i| self.placeholder(i)).collect::<Vec<_>>().join(", ")
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
    pub(super) fn savepoint<T, E: From<DbError>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
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
    pub fn with_migration_lock<T, E: From<DbError>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
        if self.dialect() == Dialect::Sqlite {
            return f(self);
        }
        self.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .map_err(|e| DbError::Unavailable(format!("cannot take the migration lock: {e}")))?;
        let result = f(self);
        let unlocked = self.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        let value = result?;
        unlocked.map_err(|e| DbError::Unavailable(format!("cannot release the migration lock: {e}")))?;
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
