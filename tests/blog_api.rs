//! End-to-end: the real blog backend generated from `schemas/blog.yaml`, started as a process
//! and driven over HTTP. Every expectation comes from /work/shared/pocketbase-api.md (the
//! observed behaviour of PocketBase 0.40.6); section numbers below refer to it.
//!
//! Each test starts its own server (fresh database, one superuser), so tests are independent
//! and run in parallel. The tests live in tests/suites/blog_api.rs; this binary runs them on
//! SQLite (or on the engine `BAAS_TEST_ENGINE` names), tests/blog_api_pg.rs on PostgreSQL.

mod support;

/// The engine this binary's servers run on.
fn engine() -> support::Engine {
    support::Engine::from_env()
}

/// The backend under test: generated from schemas/blog.yaml.
fn binary() -> &'static std::path::Path {
    support::blog_binary()
}

include!("suites/blog_api.rs");
