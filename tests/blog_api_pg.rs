//! The blog API suite (tests/suites/blog_api.rs) against PostgreSQL: each test starts its own
//! server on a fresh database (`baas_e2e_<pid>_<n>`, dropped afterwards) of the PostgreSQL
//! server at 127.0.0.1:5432 (`BAAS_TEST_PG` overrides it).

mod support;

/// The engine this binary's servers run on.
fn engine() -> support::Engine {
    support::Engine::Postgres
}

include!("suites/blog_api.rs");
