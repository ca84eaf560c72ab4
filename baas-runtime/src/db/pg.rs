//! PostgreSQL: one client per slot with the statements prepared on it, connected on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::DbError;

/// One PostgreSQL client and the statements prepared on it.
pub(super) struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    pub(super) config: postgres::Config,
    /// Inside `BEGIN … COMMIT`: a lost connection lost the transaction, nothing is retried.
    pub(super) in_transaction: bool,
}

impl PgConn {
    pub(super) fn connect(config: &postgres::Config) -> Result<PgConn, String> {
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
    pub(super) fn run<T>(
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
    pub(super) fn run_batch(&mut self, sql: &str) -> Result<(), DbError> {
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

pub(super) struct PgPool {
    pub(super) config: postgres::Config,
    pub(super) slots: Vec<Mutex<Option<PgConn>>>,
    /// One permit per slot, handed out first come, first served: a request waits in this
    /// queue rather than on one slot's lock, where later arrivals could overtake it.
    pub(super) permits: Arc<tokio::sync::Semaphore>,
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
    pub(super) fn acquire(&self) -> Result<MutexGuard<'_, Option<PgConn>>, String> {
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
