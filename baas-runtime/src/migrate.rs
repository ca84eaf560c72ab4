//! The migration runner: applies a generated crate's embedded migrations in order, each in
//! its own transaction, and records them with a checksum so that an edited or missing applied
//! migration stops start-up instead of silently diverging.

use crate::db::{Conn, DbError, SqlValue};
use crate::{id, time};

/// An embedded migration: its file name and SQL, per dialect.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

const BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY NOT NULL, checksum TEXT NOT NULL, applied TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _params (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
";

/// Why migrations could not be checked or applied.
#[derive(Debug)]
pub enum MigrateError {
    /// The database refused a bookkeeping statement; `doing` says which.
    Database { doing: &'static str, source: DbError },
    /// A migration recorded as applied is not part of this build.
    Missing { name: String },
    /// An applied migration's text changed since it was applied.
    Edited { name: String, now: String, then: String },
    /// A migration failed; its transaction was rolled back.
    Failed { name: String, source: DbError },
    /// No connection, or the migration lock could not be taken or released.
    Unavailable(DbError),
}

impl From<DbError> for MigrateError {
    fn from(e: DbError) -> Self {
        MigrateError::Unavailable(e)
    }
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Database { doing, source } => write!(f, "cannot {doing}: {source}"),
            MigrateError::Missing { name } => write!(
                f,
                "migration {name} was applied to this database but is missing from this build; \
                 restore it under migrations/ or use the build that created the database"
            ),
            MigrateError::Edited { name, now, then } => write!(
                f,
                "migration {name} was changed after it was applied (checksum {now} ≠ {then}); \
                 applied migrations are append-only: restore the file and put changes in a new migration"
            ),
            MigrateError::Failed { name, source } => write!(f, "migration {name} failed and was rolled back: {source}"),
            MigrateError::Unavailable(source) => source.fmt(f),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Database { source, .. }
            | MigrateError::Failed { source, .. }
            | MigrateError::Unavailable(source) => Some(source),
            MigrateError::Missing { .. } | MigrateError::Edited { .. } => None,
        }
    }
}

fn database(doing: &'static str) -> impl FnOnce(DbError) -> MigrateError {
    move |source| MigrateError::Database { doing, source }
}

/// A migration's checksum: CRC-32 of its text, enough to notice an edited file.
pub fn checksum(sql: &str) -> String {
    format!("{:08x}", crc32fast::hash(sql.as_bytes()))
}

/// The runtime's own tables: applied migrations, parameters (the app secret, cron ticks), the
/// outbox, one-time passwords and MFA sessions.
fn bookkeeping(conn: &Conn<'_>) -> Result<(), MigrateError> {
    conn.execute_batch(BOOKKEEPING).map_err(database("prepare the migrations and parameters tables"))?;
    conn.execute_batch(crate::outbox::SCHEMA).map_err(database("prepare the outbox table"))?;
    conn.execute_batch(crate::otp::SCHEMA).map_err(database("prepare the one-time password table"))?;
    conn.execute_batch(crate::mfa::SCHEMA).map_err(database("prepare the MFA table"))?;
    conn.execute_batch(crate::oauth2::SCHEMA).map_err(database("prepare the OAuth2 links table"))
}

/// Migrations not yet applied, in order; an error when the applied ones don't match.
pub fn pending<'m>(conn: &Conn<'_>, migrations: &'m [Migration]) -> Result<Vec<&'m Migration>, MigrateError> {
    bookkeeping(conn)?;
    let rows = conn
        .query("SELECT name, checksum FROM _migrations ORDER BY name", &[])
        .map_err(database("read applied migrations"))?;
    let applied: Vec<(String, String)> = rows
        .into_iter()
        .map(|r| (r[0].as_str().unwrap_or_default().to_owned(), r[1].as_str().unwrap_or_default().to_owned()))
        .collect();
    for (name, sum) in &applied {
        match migrations.iter().find(|m| m.name == name) {
            None => return Err(MigrateError::Missing { name: name.clone() }),
            Some(m) if checksum(m.sql) != *sum => {
                return Err(MigrateError::Edited { name: name.clone(), now: checksum(m.sql), then: sum.clone() });
            }
            Some(_) => {}
        }
    }
    Ok(migrations.iter().filter(|m| !applied.iter().any(|(n, _)| n == m.name)).collect())
}

/// Applies every pending migration; returns the names applied.
pub fn apply(conn: &Conn<'_>, migrations: &[Migration]) -> Result<Vec<String>, MigrateError> {
    let todo = pending(conn, migrations)?;
    let mut done = Vec::new();
    for m in todo {
        conn.transaction(|conn| -> Result<(), DbError> {
            conn.execute_batch(m.sql)?;
            conn.execute(
                &format!(
                    "INSERT INTO _migrations (name, checksum, applied) VALUES ({}, {}, {})",
                    conn.placeholder(1),
                    conn.placeholder(2),
                    conn.placeholder(3)
                ),
                &[SqlValue::Text(m.name.into()), SqlValue::Text(checksum(m.sql)), SqlValue::Text(time::now())],
            )?;
            Ok(())
        })
        .map_err(|source| MigrateError::Failed { name: m.name.to_owned(), source })?;
        done.push(m.name.to_owned());
    }
    Ok(done)
}

/// The app secret that signs tokens, created on first start and kept in the database so that
/// tokens survive restarts and every instance signs alike.
pub fn secret(conn: &Conn<'_>) -> Result<Vec<u8>, MigrateError> {
    bookkeeping(conn)?;
    let fresh = id::random_string(64, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    let sql =
        format!("INSERT INTO _params (key, value) VALUES ('secret', {}) ON CONFLICT DO NOTHING", conn.placeholder(1));
    conn.execute(&sql, &[SqlValue::Text(fresh)]).map_err(database("store the app secret"))?;
    let rows =
        conn.query("SELECT value FROM _params WHERE key = 'secret'", &[]).map_err(database("read the app secret"))?;
    rows.first().and_then(|r| r[0].as_str()).map(|s| s.as_bytes().to_vec()).ok_or_else(|| MigrateError::Database {
        doing: "read the app secret",
        source: DbError::Unavailable("the secret is missing after it was stored".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    const M1: Migration = Migration { name: "0001_init.sql", sql: "CREATE TABLE t (x TEXT NOT NULL DEFAULT '');" };
    const M2: Migration =
        Migration { name: "0002_more.sql", sql: "ALTER TABLE t ADD COLUMN y TEXT NOT NULL DEFAULT '';" };

    fn db(tag: &str) -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("baas-migrate-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (Db::open(&format!("sqlite://{}", dir.join("data.db").display())).unwrap(), dir)
    }

    #[test]
    fn applies_in_order_once_and_refuses_edited_or_missing_migrations() {
        let (db, dir) = db("checksums");
        assert_eq!(db.write_blocking(|c| apply(c, &[M1])).unwrap(), vec!["0001_init.sql"]);
        assert_eq!(db.write_blocking(|c| apply(c, &[M1, M2])).unwrap(), vec!["0002_more.sql"]);
        assert!(db.write_blocking(|c| apply(c, &[M1, M2])).unwrap().is_empty());

        let edited = Migration { sql: "CREATE TABLE t (x INTEGER);", ..M1 };
        let err = db.write_blocking(|c| pending(c, &[edited, M2]).map(|p| p.len())).unwrap_err();
        assert!(err.to_string().contains("0001_init.sql was changed after it was applied"), "{err}");
        let err = db.write_blocking(|c| pending(c, &[M1]).map(|p| p.len())).unwrap_err();
        assert!(err.to_string().contains("0002_more.sql was applied to this database but is missing"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_migration_leaves_the_database_as_it_was() {
        let (db, dir) = db("rollback");
        let broken =
            Migration { name: "0002_broken.sql", sql: "ALTER TABLE t ADD COLUMN z TEXT; SELECT * FROM nowhere;" };
        let err = db.write_blocking(|c| apply(c, &[M1, broken])).unwrap_err();
        assert!(err.to_string().contains("0002_broken.sql failed and was rolled back"), "{err}");
        // 0001 stays applied, 0002 left nothing behind: applying a fixed 0002 adds `z` cleanly
        let fixed = Migration { sql: "ALTER TABLE t ADD COLUMN z TEXT;", ..broken };
        assert_eq!(db.write_blocking(|c| apply(c, &[M1, fixed])).unwrap(), vec!["0002_broken.sql"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
