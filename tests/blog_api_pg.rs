//! The blog API suite (tests/suites/blog_api.rs) against PostgreSQL: each test starts its own
//! server on a fresh database (`baas_e2e_<pid>_<n>`, dropped afterwards) of the PostgreSQL
//! server at 127.0.0.1:5432 (`BAAS_TEST_PG` overrides it).

mod support;

/// The engine this binary's servers run on.
fn engine() -> support::Engine {
    support::Engine::Postgres
}

/// The backend under test: generated from schemas/blog.yaml.
fn binary() -> &'static std::path::Path {
    support::blog_binary()
}

include!("suites/blog_api.rs");
