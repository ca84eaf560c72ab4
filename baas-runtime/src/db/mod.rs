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

mod conn;
mod error;
mod pg;
mod sqlite;
mod value;

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use baas_schema::sql::Dialect;
use rusqlite::{Connection, OpenFlags};

pub use conn::{Conn, placeholder};
pub use error::DbError;
pub use value::{Row, SqlValue};

use conn::ConnInner;
use pg::PgPool;
use sqlite::{Workers, lock, optimize, reader};

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
impl Db {
    /// Opens `sqlite://path` (or a bare path) or `postgres://user@host:port/db`; `:memory:` is
    /// refused since readers and the writer must share one database.
    pub fn open(url: &str) -> Result<Db, DbError> {
        Db::open_url(url).map_err(DbError::Unavailable)
    }

    fn open_url(url: &str) -> Result<Db, String> {
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
    pub async fn read<T: Send + 'static, E: From<DbError> + Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        self.run(false, f).await
    }

    /// Runs `f` with the writer connection on a blocking thread (on PostgreSQL, any client:
    /// the server serialises conflicting writes).
    pub async fn write<T: Send + 'static, E: From<DbError> + Send + 'static>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        self.run(true, f).await
    }

    async fn run<T: Send + 'static, E: From<DbError> + Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&Conn<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let unavailable = |why: String| E::from(DbError::Unavailable(why));
        let (writer, readers, workers, statistics) = match &*self.inner {
            Pool::Sqlite { writer, readers, workers, statistics } => (writer, readers, workers, statistics),
            Pool::Postgres(pg) => {
                let permit = pg.permits.clone().acquire_owned().await.map_err(|e| unavailable(e.to_string()))?;
                let pool = self.inner.clone();
                return tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    pool.with(write, |conn| f(conn), |why| E::from(DbError::Unavailable(why)))
                })
                .await
                .map_err(|e| unavailable(format!("a database job panicked: {e}")))?;
            }
        };
        let workers = match workers.get() {
            Some(w) => w,
            None => {
                let started = Workers::start(writer, readers, statistics)
                    .map_err(|e| unavailable(format!("cannot start the database threads: {e}")))?;
                workers.get_or_init(|| started)
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &Conn<'_>| {
            let result = f(conn);
            Box::new(move |failed: Option<String>| {
                let _ = tx.send(match failed {
                    None => result,
                    Some(e) => Err(E::from(DbError::Unavailable(e))),
                });
            })
        });
        let queue = if write { &workers.write } else { &workers.read };
        queue.send(job).map_err(|_| unavailable("the database threads have stopped".into()))?;
        rx.await.map_err(|_| unavailable("a database job panicked".into()))?
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
    pub fn write_blocking<T, E: From<DbError>>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E> {
        self.inner.with(true, f, |why| E::from(DbError::Unavailable(why)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    use super::sqlite::OPTIMIZE_EVERY;
    use crate::error::ApiError;

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
            db.write(move |conn| -> Result<_, ApiError> {
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
        })
        .unwrap();
        db.refresh_statistics();
        // 1,000 writes of 10 rows each: the writer's periodic optimize sees a table that grew
        insert_posts(&db, 0..OPTIMIZE_EVERY - 1, 10).await;
        let before = list_page_plan(&db).await;
        assert!(before.contains("TEMP B-TREE FOR ORDER BY"), "no statistics yet: {before}");
        insert_posts(&db, OPTIMIZE_EVERY - 1..OPTIMIZE_EVERY, 10).await;
        // the writer looks at the statistics after answering the 1,000th write, before the next
        db.write(|_| Ok::<_, DbError>(())).await.unwrap();
        let after = list_page_plan(&db).await;
        assert_eq!(after, "SCAN posts USING INDEX idx_created", "statistics after 1,000 writes");

        // 10,000 commits, and SQLite's checkpoints (on the writer) kept the WAL bounded: with a
        // checkpointer thread beside the writer it reached 231 MB (bench/RESULTS.md).
        let path = db.write_blocking(|conn| {
            conn.query("PRAGMA database_list", &[]).map(|r| r[0][2].as_str().unwrap().to_owned())
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
        let _ = std::fs::remove_dir_all(Path::new(&path).parent().unwrap());
    }

    /// Writes that queue behind a slow one share a commit: each is answered with its own
    /// result, one that fails or panics undoes only its own rows, and what waits for a commit
    /// runs once, after it.
    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_queued_writes_share_a_commit_and_fail_alone() {
        let db = sqlite("group");
        db.write_blocking(|conn| conn.execute_batch("CREATE TABLE t (n INTEGER UNIQUE); INSERT INTO t VALUES (-1)"))
            .unwrap();
        let committed = Arc::new(AtomicU64::new(0));
        // holds the writer while the others queue
        let slow = db.write(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok::<_, DbError>(())
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
                        Ok::<_, ApiError>(n)
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
                )?;
                conn.execute(
                    "INSERT INTO t VALUES ($1, $2)",
                    &[SqlValue::Text("x".into()), SqlValue::Text("y".into())],
                )?;
                let err = conn
                    .execute("INSERT INTO t VALUES ($1, $2)", &[SqlValue::Text("x".into()), SqlValue::Text("y".into())])
                    .unwrap_err();
                Ok::<_, DbError>(err.unique_violation())
            })
            .unwrap();
        assert_eq!(cols, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn postgres_transactions_roll_back_on_error() {
        let db = pg();
        let count = db
            .write_blocking(|conn| {
                conn.execute_batch("CREATE TEMP TABLE r (v TEXT)")?;
                let failed: Result<(), DbError> = conn.transaction(|conn| {
                    conn.execute("INSERT INTO r VALUES ($1)", &[SqlValue::Text("x".into())])?;
                    conn.execute("INSERT INTO missing VALUES ($1)", &[SqlValue::Text("x".into())])?;
                    Ok(())
                });
                assert!(failed.is_err());
                conn.query("SELECT COUNT(*) FROM r", &[])
            })
            .unwrap();
        assert_eq!(count[0][0], SqlValue::Int(0));
    }
}
