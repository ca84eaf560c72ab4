//! SQLite: worker threads that each own a connection (one writer, a reader per core), group
//! commit on the writer, and the query planner's statistics kept current.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};

use rusqlite::Connection;

use super::conn::{COUNTS, ConnInner, Counts};
use super::{Conn, DbError, Job};

const GROUP_MAX: usize = 64;

/// The queues of the SQLite worker threads: one writer thread, one thread per reader
/// connection. Measured against `spawn_blocking` per query, threads that keep their connection
/// (and its statement cache) warm serve about twice the requests. The threads end when the
/// [`Db`] is dropped (their queues close).
pub(super) struct Workers {
    pub(super) read: mpsc::Sender<Job>,
    pub(super) write: mpsc::Sender<Job>,
}

impl Workers {
    pub(super) fn start(
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
pub(super) const OPTIMIZE_EVERY: usize = 1_000;

/// Tables smaller than this keep SQLite's default guesses: every plan is cheap on them.
const ANALYZE_FROM_ROWS: i64 = 1_000;

/// Analyzes the tables whose statistics are missing or off by tenfold, and tells the readers when statistics changed (`announce`: whenever
/// there are some, as at start). SQLite's own `PRAGMA optimize` leaves tables that were never
/// analyzed alone, which is every table of a new backend; and a sampled analysis
/// (`analysis_limit`) misjudges two-valued columns such as `published` (1,000 rows sampled of
/// 10,000: "1,001 rows per value" instead of 5,000), which flips the list page's plan back. A
/// full analysis reads every index once, and a table needs one per tenfold growth.
pub(super) fn optimize(conn: &Connection, statistics: &AtomicU64, announce: bool) {
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

/// A reader connection: the first free one, else any (waiting for it).
pub(super) fn reader(readers: &[Mutex<Connection>]) -> MutexGuard<'_, Connection> {
    for r in readers {
        if let Ok(guard) = r.try_lock() {
            return guard;
        }
    }
    let i = rand::random_range(0..readers.len());
    lock(&readers[i])
}

pub(super) fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| {
        // A panic while holding the connection may have left a transaction open: end it.
        let conn = poisoned.into_inner();
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn
    })
}
