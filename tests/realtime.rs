//! Realtime beyond one instance's happy path, with the PocketBase JS SDK as the client: on
//! PostgreSQL, two instances of the blog backend on one database, the SDK subscribed on one
//! and every write going through the other (LISTEN/NOTIFY fan-out); and idle streams, which
//! the server closes and the SDK reopens. Needs Node 20+ and `npm ci --prefix tests/sdk`.

mod support;

use std::path::Path;
use std::process::Command;

/// Runs one SDK script (`tests/sdk/realtime/<name>`) with `node --test`.
fn node(script: &str, subscribe_url: &str, env: &[(&str, &str)]) {
    let root = support::root();
    assert!(
        root.join("tests/sdk/node_modules/eventsource").is_dir(),
        "tests/sdk/node_modules is missing: run `npm ci --prefix tests/sdk` once (needs Node 20+ and npm)"
    );
    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec", &format!("tests/sdk/realtime/{script}")])
        .current_dir(&root)
        .env("BAAS_URL", subscribe_url)
        .env("BAAS_ADMIN_EMAIL", support::ADMIN_EMAIL)
        .env("BAAS_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        .envs(env.iter().copied())
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_TEST_CONTEXT")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node 20+ must be on PATH): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    println!("{stdout}");
}

#[test]
fn changes_written_through_one_instance_reach_subscribers_of_another_on_postgres() {
    let bin = support::blog_binary();
    let db = support::PgDatabase::new();
    let a = support::serve(bin, &db.url, support::Storage::Shared);
    let b = support::serve(bin, &db.url, support::Storage::Shared);
    node("fanout.mjs", &a.url, &[("BAAS_WRITE_URL", &b.url)]);
}

#[test]
fn idle_streams_are_closed_and_the_sdk_reconnects() {
    let bin: &Path = support::blog_binary();
    let server = support::start_with(bin, support::Engine::from_env(), &[("BAAS_REALTIME_IDLE_SECS", "1")]);
    node("reconnect.mjs", &server.url, &[]);
}
