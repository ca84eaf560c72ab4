//! The blog API suite (tests/suites/blog_api.rs) against examples/blog-derive: the blog described with `#[derive(Collection)]` structs, on SQLite
//! (or the engine `BAAS_TEST_ENGINE` names): the same API as the YAML flow, test for test.

mod support;

fn engine() -> support::Engine {
    support::Engine::from_env()
}

fn binary() -> &'static std::path::Path {
    support::derive_example_binary()
}

include!("suites/blog_api.rs");
