//! The outbox: messages written in the same transaction as the change that causes them
//! (a verification mail with the signup that asks for it), delivered by a worker once that
//! transaction committed, retried with growing delays until their transport takes them, and
//! kept in the database across crashes, so that each is delivered at least once; a rolled-back
//! change leaves none. Mail is its one kind of message today (`kind = 'mail'`).
//!
//! Each message is a row of `_outbox` (created with the runtime's bookkeeping tables). The
//! worker claims due rows by moving their `due` time a lease into the future, in one
//! statement (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that instances sharing the
//! database claim different rows); a process that dies mid-delivery leaves its claims to
//! expire and be claimed again. After [`MAX_ATTEMPTS`] failures a message is `dead`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use baas_schema::sql::Dialect;
use serde_json::Value;
use tokio::sync::Notify;

use crate::db::{Conn, Db, DbError, SqlValue};
use crate::id;

/// The outbox table and its indexes (part of the runtime's bookkeeping tables).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    due BIGINT NOT NULL,
    error TEXT NOT NULL,
    created BIGINT NOT NULL,
    delivered BIGINT
);
CREATE INDEX IF NOT EXISTS _outbox_due ON _outbox (state, due);
CREATE INDEX IF NOT EXISTS _outbox_topic ON _outbox (topic, created);
";

/// Deliveries a message gets before it is `dead`.
pub const MAX_ATTEMPTS: i64 = 10;

/// How long a claimed message stays the claimant's before another worker may take it: longer
/// than a delivery may take (the SMTP transport gives up after 10 s), short enough that a
/// message claimed by a process that died goes out soon after a restart.
const LEASE: Duration = Duration::from_secs(30);

/// How often an idle worker looks for due messages written by another instance, or whose
/// retry came due.
const POLL: Duration = Duration::from_secs(5);

/// A message to write: its kind (which transport delivers it), what it is about (for
/// throttles: `verification:<record id>`), and its transport's payload.
#[derive(Clone, Debug)]
pub struct Message {
    pub kind: &'static str,
    pub topic: String,
    pub payload: Value,
}

/// Writes `message` in `conn`'s transaction: delivered once it commits, never when it rolls
/// back. Call [`Outbox::wake`] after the commit for a delivery without the poll's delay.
pub fn enqueue(conn: &Conn<'_>, message: &Message) -> Result<(), DbError> {
    let now = crate::time::unix_millis();
    let values = conn.placeholders(6);
    let sql = format!(
        "INSERT INTO _outbox (id, kind, topic, payload, due, created, state, attempts, error) \
         VALUES ({values}, 'pending', 0, '')"
    );
    let params = [
        SqlValue::Text(id::new_id()),
        SqlValue::Text(message.kind.to_owned()),
        SqlValue::Text(message.topic.clone()),
        SqlValue::Text(message.payload.to_string()),
        SqlValue::Int(now),
        SqlValue::Int(now),
    ];
    conn.execute(&sql, &params).map(drop)
}

/// Whether a message about `topic` was written in the last `window` (a resend throttle).
pub fn recently(conn: &Conn<'_>, topic: &str, window: Duration) -> Result<bool, DbError> {
    let since = crate::time::unix_millis() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT COUNT(*) FROM _outbox WHERE topic = {} AND created > {}",
        conn.placeholder(1),
        conn.placeholder(2)
    );
    Ok(conn.count(&sql, &[SqlValue::Text(topic.to_owned()), SqlValue::Int(since)])? > 0)
}

/// What delivers one kind of message: `Ok` once the peer took it; `Err` says why not (the
/// message is retried).
pub trait Transport: Send + Sync {
    fn deliver<'a>(&'a self, payload: &'a Value) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The outbox's worker side: the transports by kind, and the signal that wakes the worker.
#[derive(Default)]
pub struct Outbox {
    transports: HashMap<&'static str, Arc<dyn Transport>>,
    wake: Notify,
}

impl Outbox {
    /// An outbox that delivers messages of `kind` with `transport`. A kind without a
    /// transport stays in the outbox until a start with one.
    pub fn with(mut self, kind: &'static str, transport: Arc<dyn Transport>) -> Outbox {
        self.transports.insert(kind, transport);
        self
    }

    /// Tells the worker that messages were committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers due messages until the process ends: claims a batch, delivers it, records
    /// each outcome, and sleeps until woken or until the poll interval passed.
    pub async fn run(self: Arc<Self>, db: Db) {
        let kinds: Vec<&'static str> = self.transports.keys().copied().collect();
        if kinds.is_empty() {
            return;
        }
        loop {
            let claimed = {
                let kinds = kinds.clone();
                db.write(move |conn| claim(conn, &kinds, 16)).await
            };
            let batch = match claimed {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!("outbox: cannot claim messages: {e}");
                    Vec::new()
                }
            };
            let full = batch.len() == 16;
            for claimed in batch {
                let outcome = match self.transports.get(claimed.kind.as_str()) {
                    Some(transport) => transport.deliver(&claimed.payload).await,
                    None => Err(format!("no transport for {}", claimed.kind)),
                };
                if let Err(why) = &outcome {
                    tracing::warn!(id = %claimed.id, attempt = claimed.attempts, "outbox: delivery failed: {why}");
                }
                let recorded = db.write(move |conn| settle(conn, &claimed, outcome)).await;
                if let Err(e) = recorded {
                    tracing::warn!("outbox: cannot record a delivery: {e}");
                }
            }
            if !full {
                let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
            }
        }
    }
}

/// A message a worker claimed.
#[derive(Debug)]
struct Claimed {
    id: String,
    kind: String,
    payload: Value,
    /// Counting this one.
    attempts: i64,
}

/// Claims up to `limit` due messages of `kinds`: their `due` moves a lease ahead and their
/// attempts count up, in one statement.
fn claim(conn: &Conn<'_>, kinds: &[&str], limit: usize) -> Result<Vec<Claimed>, DbError> {
    let now = crate::time::unix_millis();
    let mut params = vec![SqlValue::Int(now + i64::try_from(LEASE.as_millis()).unwrap_or(0)), SqlValue::Int(now)];
    let marks: Vec<String> = kinds
        .iter()
        .map(|k| {
            params.push(SqlValue::Text((*k).to_owned()));
            conn.placeholder(params.len())
        })
        .collect();
    let skip_locked = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE _outbox SET due = {lease}, attempts = attempts + 1 WHERE id IN (\
         SELECT id FROM _outbox WHERE state = 'pending' AND due <= {now} AND kind IN ({kinds}) \
         ORDER BY due LIMIT {limit}{skip_locked}) RETURNING id, kind, payload, attempts",
        lease = conn.placeholder(1),
        now = conn.placeholder(2),
        kinds = marks.join(", "),
    );
    let rows = conn.query(&sql, &params)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let mut cells = row.into_iter();
            let (id, kind, payload, attempts) = (cells.next()?, cells.next()?, cells.next()?, cells.next()?);
            Some(Claimed {
                id: id.as_str()?.to_owned(),
                kind: kind.as_str()?.to_owned(),
                payload: serde_json::from_str(payload.as_str()?).unwrap_or(Value::Null),
                attempts: attempts.as_i64()?,
            })
        })
        .collect())
}

/// Records the outcome of delivering `claimed`: delivered, due again after a backoff, or dead.
fn settle(conn: &Conn<'_>, claimed: &Claimed, outcome: Result<(), String>) -> Result<(), DbError> {
    let now = crate::time::unix_millis();
    let p = |i| conn.placeholder(i);
    let id = SqlValue::Text(claimed.id.clone());
    let (sql, params) = match outcome {
        Ok(()) => (
            format!("UPDATE _outbox SET state = 'delivered', delivered = {}, error = '' WHERE id = {}", p(1), p(2)),
            vec![SqlValue::Int(now), id],
        ),
        Err(why) if claimed.attempts >= MAX_ATTEMPTS => {
            tracing::error!(id = %claimed.id, "outbox: giving up after {} attempts: {why}", claimed.attempts);
            (
                format!("UPDATE _outbox SET state = 'dead', error = {} WHERE id = {}", p(1), p(2)),
                vec![SqlValue::Text(why), id],
            )
        }
        Err(why) => {
            let due = now + i64::try_from(backoff(claimed.attempts).as_millis()).unwrap_or(i64::MAX);
            (
                format!("UPDATE _outbox SET due = {}, error = {} WHERE id = {}", p(1), p(2), p(3)),
                vec![SqlValue::Int(due), SqlValue::Text(why), id],
            )
        }
    };
    conn.execute(&sql, &params).map(drop)
}

/// The wait before attempt `attempts + 1`: a second, doubling per failure up to 15 minutes,
/// spread by ±25% so that messages failing together don't retry together.
fn backoff(attempts: i64) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.clamp(1, 11).saturating_sub(1)).min(Duration::from_secs(900));
    let jitter = rand::random_range(0.75..1.25);
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox_db() -> Db {
        let dir = std::env::temp_dir().join(format!("baas-outbox-{}", id::new_id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = Db::open(&format!("sqlite://{}", dir.join("data.db").display())).expect("open");
        db.write_blocking(|conn| conn.execute_batch(SCHEMA)).expect("schema");
        db
    }

    fn mail(topic: &str) -> Message {
        Message { kind: "mail", topic: topic.into(), payload: serde_json::json!({"to": "a@example.com"}) }
    }

    #[test]
    fn a_message_is_claimed_once_retried_after_a_failure_and_settled() {
        let db = outbox_db();
        db.write_blocking(|conn| enqueue(conn, &mail("verification:a"))).expect("enqueue");
        let first = db.write_blocking(|conn| claim(conn, &["mail"], 16)).expect("claim");
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].attempts, &first[0].payload["to"]), (1, &serde_json::json!("a@example.com")));
        // claimed: not due again while the lease runs
        assert!(db.write_blocking(|conn| claim(conn, &["mail"], 16)).expect("claim").is_empty());
        // another kind is not claimed by a worker without its transport
        db.write_blocking(|conn| enqueue(conn, &Message { kind: "push", ..mail("x") })).expect("enqueue");
        assert!(db.write_blocking(|conn| claim(conn, &["mail"], 16)).expect("claim").is_empty());

        db.write_blocking(|conn| settle(conn, &first[0], Err("connection refused".into()))).expect("settle");
        let state = |db: &Db| {
            db.write_blocking(|conn| conn.query("SELECT state, error, due FROM _outbox WHERE kind = 'mail'", &[]))
                .expect("read")
        };
        let row = &state(&db)[0];
        assert_eq!((row[0].as_str(), row[1].as_str()), (Some("pending"), Some("connection refused")));
        let wait = row[2].as_i64().expect("due") - crate::time::unix_millis();
        assert!((500..=1500).contains(&wait), "the first retry comes after about a second: {wait} ms");

        db.write_blocking(|conn| settle(conn, &first[0], Ok(()))).expect("settle");
        assert_eq!(state(&db)[0][0].as_str(), Some("delivered"));
        assert!(db.write_blocking(|conn| recently(conn, "verification:a", Duration::from_secs(60))).expect("recent"));
        assert!(!db.write_blocking(|conn| recently(conn, "verification:b", Duration::from_secs(60))).expect("recent"));
    }

    #[test]
    fn a_message_failing_every_attempt_ends_dead() {
        let db = outbox_db();
        db.write_blocking(|conn| enqueue(conn, &mail("t"))).expect("enqueue");
        let mut claimed = db.write_blocking(|conn| claim(conn, &["mail"], 1)).expect("claim").remove(0);
        claimed.attempts = MAX_ATTEMPTS;
        db.write_blocking(|conn| settle(conn, &claimed, Err("mailbox unavailable".into()))).expect("settle");
        let rows = db.write_blocking(|conn| conn.query("SELECT state FROM _outbox", &[])).expect("read");
        assert_eq!(rows[0][0].as_str(), Some("dead"));
    }

    #[test]
    fn backoff_doubles_up_to_fifteen_minutes() {
        for (attempts, secs) in [(1, 1.0), (2, 2.0), (5, 16.0), (30, 900.0)] {
            let wait = backoff(attempts).as_secs_f64();
            assert!(wait >= secs * 0.75 && wait <= secs * 1.25, "attempt {attempts}: {wait}");
        }
    }
}
