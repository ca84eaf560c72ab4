//! A backend killed (SIGKILL) in the middle of a migration leaves the database as it was
//! before that migration: the next start applies it from scratch, on SQLite and PostgreSQL.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A slow migration, written by hand next to the generated ones: a long insert, then a schema
/// change. Killing the process during it must leave neither behind.
const SLOW_SQLITE: &str = "CREATE TABLE slow AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 4000000) SELECT x FROM n;\nALTER TABLE posts ADD COLUMN marker TEXT NOT NULL DEFAULT '';\n";
const SLOW_POSTGRES: &str = "CREATE TABLE slow AS SELECT generate_series(1, 2000000) AS x;\nSELECT pg_sleep(2);\nALTER TABLE posts ADD COLUMN marker TEXT NOT NULL DEFAULT '';\n";

fn crash_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let _lock = support::lock_crate_dir("crash");
        let dir = support::e2e_dir().join("crates").join("crash");
        let _ = std::fs::remove_dir_all(&dir);
        support::generate("schemas/blog.yaml", &dir);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .replace("name = \"blog-backend\"", "name = \"crash-backend\"");
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(dir.join("migrations/sqlite/0002_slow.sql"), SLOW_SQLITE).unwrap();
        std::fs::write(dir.join("migrations/postgres/0002_slow.sql"), SLOW_POSTGRES).unwrap();
        // Regenerating over the crate picks up the hand-written migration.
        let text = std::fs::read_to_string(support::root().join("schemas/blog.yaml")).unwrap();
        let file = baas::schema::SourceFile::new("schemas/blog.yaml", text);
        let checked = baas::schema::load_yaml(&file).0.unwrap();
        let previous = baas::codegen::Previous::read(&dir).unwrap().unwrap();
        let options = baas::codegen::Options {
            name: "crash-backend".into(),
            source: "schemas/blog.yaml".into(),
            runtime: format!("path = \"{}\"", support::root().join("baas-runtime").display()),
        };
        let files = baas::codegen::generate_from(&checked, &options, Some(&previous), false).unwrap();
        baas::codegen::write(&dir, &files).unwrap();
        assert!(std::fs::read_to_string(dir.join("src/generated/mod.rs")).unwrap().contains("0002_slow.sql"));
        support::build(&dir, "crash-backend")
    })
}

fn run(bin: &Path, args: &[&str], db: &str) -> (bool, String) {
    let out = Command::new(bin).args(args).args(["--db", db]).output().expect("run the backend");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A child process that is killed when dropped, even when an assertion fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills the backend while it applies 0002; `applied` reads the names of applied migrations
/// without waiting for the migrating process's locks.
fn kill_mid_migration(db: &str, applied: impl Fn() -> Vec<String>) {
    let bin = crash_binary();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Killed(
        Command::new(bin)
            .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--db", db])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until 0001 is in and 0002 has started, then kill.
    let started = Instant::now();
    loop {
        let names = applied();
        assert!(
            !names.iter().any(|n| n == "0002_slow.sql"),
            "the slow migration finished before the kill; make it slower"
        );
        if names.iter().any(|n| n == "0001_init.sql") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first migration never landed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the slow migration finished before the kill; make it slower"
    );
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    // Fully before 0002: it is still pending, and applying it from scratch succeeds (a
    // half-applied migration would fail on `CREATE TABLE slow`).
    let (ok, pending) = run(bin, &["migrate", "--dry-run"], db);
    assert!(ok && pending.contains("0002_slow.sql"), "0002 should still be pending: {pending}");
    let (ok, applied) = run(bin, &["migrate"], db);
    assert!(ok, "re-applying after the crash failed: {applied}");
    assert!(applied.contains("applied 1 migration(s): 0002_slow.sql"), "{applied}");
    let (ok, pending) = run(bin, &["migrate", "--dry-run"], db);
    assert!(ok && pending.contains("no pending migrations"), "{pending}");
}

#[test]
fn sqlite_migration_killed_midway_leaves_the_database_before_it() {
    let dir = support::TempDir::new("crash");
    let path = dir.0.join("data.db");
    let db = format!("sqlite://{}", path.display());
    kill_mid_migration(&db, || {
        // A read-only reader: in WAL mode it never waits for the migrating writer.
        let Ok(conn) = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
            return Vec::new();
        };
        let Ok(mut stmt) = conn.prepare("SELECT name FROM _migrations") else { return Vec::new() };
        stmt.query_map([], |r| r.get::<_, String>(0)).map(|rows| rows.flatten().collect()).unwrap_or_default()
    });
}

#[test]
fn postgres_migration_killed_midway_leaves_the_database_before_it() {
    let db = support::PgDatabase::new();
    kill_mid_migration(&db.url, || match db.client().query("SELECT name FROM _migrations", &[]) {
        Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        Err(_) => Vec::new(), // not created yet
    });
}
