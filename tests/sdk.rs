//! The official PocketBase JS SDK (npm `pocketbase`, pinned in tests/sdk/package.json) as a
//! real client of generated backends, on SQLite and on PostgreSQL: starts the backend, then
//! runs `node --test` against it — tests/sdk/*.test.mjs on the blog backend, tests/sdk/chat/
//! (files: uploads, downloads, thumbnails, protected files) on the chat backend. Needs Node 20+
//! and `npm ci --prefix tests/sdk`.

mod support;

use support::Engine;

#[test]
fn pocketbase_js_sdk_against_the_blog_backend() {
    let server = support::start_on(support::blog_binary(), Engine::from_env());
    support::run_sdk_tests(&server, "tests/sdk");
}

#[test]
fn pocketbase_js_sdk_against_the_blog_backend_on_postgres() {
    let server = support::start_on(support::blog_binary(), Engine::Postgres);
    support::run_sdk_tests(&server, "tests/sdk");
}

#[test]
fn pocketbase_js_sdk_files_against_the_chat_backend() {
    let server = support::start_on(support::chat_binary(), Engine::from_env());
    support::run_sdk_tests(&server, "tests/sdk/chat");
}

#[test]
fn pocketbase_js_sdk_files_against_the_chat_backend_on_postgres() {
    let server = support::start_on(support::chat_binary(), Engine::Postgres);
    support::run_sdk_tests(&server, "tests/sdk/chat");
}

/// The three ways to describe the blog (examples/: a generated crate, derive macros, a build
/// script) serve the same API: the SDK suite passes against each.
#[test]
fn pocketbase_js_sdk_against_the_yaml_example() {
    let server = support::start_on(support::yaml_example_binary(), Engine::from_env());
    support::run_sdk_tests(&server, "tests/sdk");
}

#[test]
fn pocketbase_js_sdk_against_the_derive_example() {
    let server = support::start_on(support::derive_example_binary(), Engine::from_env());
    support::run_sdk_tests(&server, "tests/sdk");
}

#[test]
fn pocketbase_js_sdk_against_the_build_script_example() {
    let server = support::start_on(support::build_example_binary(), Engine::from_env());
    support::run_sdk_tests(&server, "tests/sdk");
}
