//! The official PocketBase JS SDK (npm `pocketbase`, pinned in tests/sdk/package.json) as a
//! real client of the generated blog backend, on SQLite and on PostgreSQL: starts the backend,
//! then runs `node --test` on tests/sdk/*.test.mjs against it. Needs Node 20+ and
//! `npm ci --prefix tests/sdk`.

mod support;

use std::process::Command;

#[test]
fn pocketbase_js_sdk_against_the_blog_backend() {
    run_sdk_tests(support::Engine::from_env());
}

#[test]
fn pocketbase_js_sdk_against_the_blog_backend_on_postgres() {
    run_sdk_tests(support::Engine::Postgres);
}

/// The three ways to describe the blog (examples/: a generated crate, derive macros, a build
/// script) serve the same API: the SDK suite passes against each.
#[test]
fn pocketbase_js_sdk_against_the_yaml_example() {
    run_sdk_tests_on(support::yaml_example_binary(), support::Engine::from_env());
}

#[test]
fn pocketbase_js_sdk_against_the_derive_example() {
    run_sdk_tests_on(support::derive_example_binary(), support::Engine::from_env());
}

#[test]
fn pocketbase_js_sdk_against_the_build_script_example() {
    run_sdk_tests_on(support::build_example_binary(), support::Engine::from_env());
}

fn run_sdk_tests(engine: support::Engine) {
    run_sdk_tests_on(support::blog_binary(), engine);
}

fn run_sdk_tests_on(binary: &std::path::Path, engine: support::Engine) {
    let root = support::root();
    let sdk = root.join("tests").join("sdk");
    assert!(
        sdk.join("node_modules").join("pocketbase").is_dir(),
        "tests/sdk/node_modules is missing: run `npm ci --prefix tests/sdk` once (needs Node 20+ and npm), then re-run the tests"
    );

    // The test files are named explicitly: `node --test <directory>` searches the directory on
    // Node 20 only; from Node 21 on, a directory argument is taken as a file and fails.
    let mut files: Vec<String> = std::fs::read_dir(&sdk)
        .expect("read tests/sdk")
        .map(|entry| entry.expect("read tests/sdk").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("tests/sdk/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests/sdk/*.test.mjs files");

    let server = support::start_on(binary, engine);
    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .args(&files)
        .current_dir(&root)
        .env("BAAS_URL", &server.url)
        .env("BAAS_ADMIN_EMAIL", support::ADMIN_EMAIL)
        .env("BAAS_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_TEST_CONTEXT")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node 20+ must be on PATH): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`node --test` on tests/sdk/*.test.mjs failed ({}) against {} ({engine:?}):\n{stdout}\n{stderr}",
        output.status,
        server.url
    );
    // Show node's summary (tests/pass/fail/skipped) with `cargo test -- --nocapture`.
    println!("{stdout}");
}
