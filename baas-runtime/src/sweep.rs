//! Housekeeping of the runtime's own tables, every ten minutes: delivered outbox messages
//! older than a week, and sign-in codes and MFA sessions past any lifetime the schema can
//! give them (a day). Dead outbox messages stay, for someone to look at.

use std::time::Duration;

use crate::db::{Conn, Db, DbError, SqlValue};

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(600);

/// How long a delivered message is kept.
const DELIVERED_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Longer than any code or MFA session lives.
const SESSIONS_KEPT: Duration = Duration::from_secs(24 * 3600);

/// Sweeps until the process ends.
pub async fn run(db: Db) {
    loop {
        tokio::time::sleep(EVERY).await;
        match db.write(|conn| sweep(conn, time::OffsetDateTime::now_utc())).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("swept {n} expired rows"),
            Err(e) => tracing::warn!("cannot sweep expired rows: {e}"),
        }
    }
}

/// Deletes what expired by `now`; how many rows went.
pub fn sweep(conn: &Conn<'_>, now: time::OffsetDateTime) -> Result<usize, DbError> {
    let before = |kept: Duration| now - kept;
    let millis = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let p1 = conn.placeholder(1);
    let delivered = conn.execute(
        &format!("DELETE FROM _outbox WHERE state = 'delivered' AND delivered < {p1}"),
        &[SqlValue::Int(millis(before(DELIVERED_KEPT)))],
    )?;
    let horizon = SqlValue::Int(before(SESSIONS_KEPT).unix_timestamp());
    let codes = conn.execute(&format!("DELETE FROM _otps WHERE created < {p1}"), std::slice::from_ref(&horizon))?;
    let sessions = conn.execute(&format!("DELETE FROM _mfas WHERE created < {p1}"), &[horizon])?;
    Ok(delivered + codes + sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_rows_go_and_recent_ones_stay() {
        let dir = std::env::temp_dir().join(format!("baas-sweep-{}", crate::id::new_id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = Db::open(&format!("sqlite://{}", dir.join("data.db").display())).expect("open");
        let now = time::OffsetDateTime::now_utc();
        let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
        let day: time::Duration = time::Duration::days(1);
        db.write_blocking(|conn| -> Result<(), DbError> {
            for schema in [crate::outbox::SCHEMA, crate::otp::SCHEMA, crate::mfa::SCHEMA] {
                conn.execute_batch(schema)?;
            }
            let old = ms(now - day * 8i32);
            conn.execute_batch(&format!(
                "INSERT INTO _outbox VALUES ('a', 'mail', 't', '{{}}', 'delivered', 1, 0, '', {old}, {old});
                 INSERT INTO _outbox VALUES ('b', 'mail', 't', '{{}}', 'delivered', 1, 0, '', {new}, {new});
                 INSERT INTO _outbox VALUES ('c', 'mail', 't', '{{}}', 'dead', 10, 0, 'x', {old}, NULL);
                 INSERT INTO _otps VALUES ('o1', 'c', 'r', 'h', 'a@b.c', 0, {old_s});
                 INSERT INTO _otps VALUES ('o2', 'c', 'r', 'h', 'a@b.c', 0, {new_s});
                 INSERT INTO _mfas VALUES ('m1', 'c', 'r', 'password', {old_s});",
                new = ms(now),
                old_s = (now - day * 2i32).unix_timestamp(),
                new_s = now.unix_timestamp(),
            ))
        })
        .expect("rows");
        assert_eq!(db.write_blocking(|conn| sweep(conn, now)).expect("sweep"), 3);
        let left = |table: &str| {
            db.write_blocking(|conn| conn.query(&format!("SELECT id FROM {table} ORDER BY id"), &[]))
                .expect("read")
                .len()
        };
        assert_eq!((left("_outbox"), left("_otps"), left("_mfas")), (2, 1, 0), "the dead message stays");
    }
}
