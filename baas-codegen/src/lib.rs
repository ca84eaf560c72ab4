//! Emitters: the checked IR of `baas-schema` in, a backend crate out.
//!
//! This crate only reads the IR; it never parses schema text itself. The crate emitter,
//! migration diffing and the OpenAPI document land here (see issue 3 and 4).

pub use baas_schema as schema;
