//! Every compile error the derive macros emit on purpose, with its message and `help:`
//! (`TRYBUILD=overwrite cargo test -p baas-macros` rewrites the expected .stderr files).

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
