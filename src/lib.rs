//! baas: one declarative schema in, one Rust backend out.
//!
//! This facade re-exports the pieces a user of baas touches: the schema IR and checker
//! ([`schema`]), the emitters ([`codegen`]), the runtime generated crates link ([`runtime`])
//! and the derive macros ([`macros`]). The `baas` binary (see `src/bin/baas.rs`) is the CLI.

pub use baas_codegen as codegen;
#[cfg(feature = "macros")]
pub use baas_macros as macros;
pub use baas_runtime as runtime;
pub use baas_schema as schema;
