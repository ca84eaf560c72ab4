//! Several instances of one backend on one PostgreSQL database: instances starting together
//! migrate once (an advisory lock), share the app secret (a token from one works on the
//! other), and serve interleaved writes without errors.

mod support;

use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// Sends a JSON request; returns the status and the JSON body.
fn send(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    support::request(method, url, token, body)
}

fn count(db: &support::PgDatabase, sql: &str) -> i64 {
    db.client().query_one(sql, &[]).expect(sql).get::<_, i64>(0)
}

#[test]
fn concurrent_migrate_commands_apply_each_migration_once() {
    let bin = support::blog_binary();
    let db = support::PgDatabase::new();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin)
                .args(["migrate", "--db", &db.url])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run migrate")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for migrate");
        assert!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM _migrations"), 1);
}

#[test]
fn two_instances_on_one_database_start_together_and_serve_interleaved_writes() {
    let bin = support::blog_binary();
    let db = support::PgDatabase::new();
    // Both start at once on the empty database: one migrates, the other waits and finds
    // nothing pending.
    let servers: Vec<support::Server> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..2).map(|_| s.spawn(|| support::serve(bin, &db.url, support::Storage::Shared))).collect();
        handles.into_iter().map(|h| h.join().expect("a server starts")).collect()
    });
    assert_eq!(count(&db, "SELECT COUNT(*) FROM _migrations"), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM _params WHERE key = 'secret'"), 1);
    let (a, b) = (&servers[0].url, &servers[1].url);

    // Sign up on one instance, sign in on the other, use the token on the first: one secret.
    let mut tokens = Vec::new();
    for i in 0..4 {
        let email = format!("user{i}@example.com");
        let (signup, login) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let (status, body) = send(
            "POST",
            &format!("{signup}/api/collections/users/records"),
            None,
            Some(&json!({"email": email, "password": "password-123", "passwordConfirm": "password-123"})),
        );
        assert_eq!(status, 200, "{body}");
        let (status, auth) = send(
            "POST",
            &format!("{login}/api/collections/users/auth-with-password"),
            None,
            Some(&json!({"identity": email, "password": "password-123"})),
        );
        assert_eq!(status, 200, "{auth}");
        tokens.push((auth["record"]["id"].as_str().unwrap().to_owned(), auth["token"].as_str().unwrap().to_owned()));
    }

    // Every user writes through both instances at once: creates, then updates of each post
    // through the other instance.
    const PER_USER: usize = 12;
    std::thread::scope(|s| {
        for (n, (id, token)) in tokens.iter().enumerate() {
            s.spawn(move || {
                for i in 0..PER_USER {
                    let (first, second) = if (n + i) % 2 == 0 { (a, b) } else { (b, a) };
                    let (status, post) = send(
                        "POST",
                        &format!("{first}/api/collections/posts/records"),
                        Some(token),
                        Some(&json!({"title": format!("post {n}/{i}"), "author": id, "tags": ["tech"], "views": i})),
                    );
                    assert_eq!(status, 200, "create via {first}: {post}");
                    let pid = post["id"].as_str().unwrap();
                    let (status, body) = send(
                        "PATCH",
                        &format!("{second}/api/collections/posts/records/{pid}"),
                        Some(token),
                        Some(&json!({"views+": 100, "published": true})),
                    );
                    assert_eq!(status, 200, "update via {second}: {body}");
                    assert_eq!(body["views"], json!(i + 100));
                }
            });
        }
    });

    for url in [a, b] {
        let (status, list) = send("GET", &format!("{url}/api/collections/posts/records?perPage=500"), None, None);
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["totalItems"], json!(tokens.len() * PER_USER));
        assert!(list["items"].as_array().unwrap().iter().all(|p| p["published"] == json!(true)));
    }
    drop(servers);
}

/// PostgreSQL text cannot hold NUL characters (SQLite can): such a value is refused with a
/// 400, on writes and in filters, rather than failing with a 500.
#[test]
fn nul_characters_are_refused_with_400() {
    let server = support::start_on(support::blog_binary(), support::Engine::Postgres);
    let (status, body) = send(
        "POST",
        &format!("{}/api/collections/users/records", server.url),
        None,
        Some(
            &json!({"email": "nul@example.com", "name": "a\u{0}b", "password": "password-123", "passwordConfirm": "password-123"}),
        ),
    );
    assert_eq!((status, body), (400, json!({"status": 400, "message": "Failed to create record.", "data": {}})));
    let (status, admin) = send(
        "POST",
        &format!("{}/api/collections/_superusers/auth-with-password", server.url),
        None,
        Some(&json!({"identity": support::ADMIN_EMAIL, "password": support::ADMIN_PASSWORD})),
    );
    assert_eq!(status, 200);
    let token = admin["token"].as_str().unwrap();
    let (status, body) = send(
        "GET",
        &format!("{}/api/collections/users/records?filter=name%3D%22a%00b%22", server.url),
        Some(token),
        None,
    );
    assert_eq!(status, 400, "{body}");
    // the server is fine afterwards
    let (status, _) = send("GET", &format!("{}/api/collections/users/records", server.url), Some(token), None);
    assert_eq!(status, 200);
}

/// A backend outlives its database connections: after PostgreSQL drops them (a restart, a
/// failover, an administrator), the next requests reconnect instead of failing.
#[test]
fn dropped_connections_are_replaced() {
    let server = support::start_on(support::blog_binary(), support::Engine::Postgres);
    let support::Storage::Postgres(db) = &server.storage else { unreachable!() };
    let health = || send("GET", &format!("{}/api/collections/posts/records", server.url), None, None).0;
    for _ in 0..3 {
        assert_eq!(health(), 200);
    }
    let killed = db
        .client()
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db.name],
        )
        .unwrap()
        .len();
    assert!(killed >= 1, "the backend held no connection");
    for _ in 0..5 {
        assert_eq!(health(), 200);
    }
}
