//! The runtime generated backends link against. Generic plumbing only: nothing here knows any
//! particular schema; generated code hands it the schema IR and the rules it compiled.
//!
//! Generated code reaches everything through this crate (`::baas_runtime::…`), including the
//! few third-party crates it needs, re-exported in [`deps`], so a generated `Cargo.toml`
//! depends on `baas-runtime` alone.

pub mod auth;
pub mod batch;
pub mod collection;
pub mod data;
pub mod db;
pub mod download;
pub mod error;
pub mod extract;
pub mod files;
pub mod http;
pub mod id;
pub mod input;
pub mod limits;
pub mod migrate;
pub mod net;
pub mod password;
pub mod query;
pub mod realtime;
pub mod records;
pub mod request;
pub mod server;
pub mod state;
pub mod storage;
pub mod time;
pub mod token;
pub mod value;

/// With the `mimalloc` feature, mimalloc serves every binary that links the runtime: rows are
/// allocated on the SQLite threads and freed on the async workers, and glibc's allocator spends
/// a third of a list page's CPU time on that; mimalloc's per-thread segments cost memory
/// instead (bench/RESULTS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use baas_schema as schema;
pub use collection::{CollectionHooks, CollectionSpec, CompiledRule, Hook, HookDefaults, RecordHooks, RuleSet};
pub use data::{Data, HookContext, Record, Tx, TypedRecord};
pub use error::{ApiError, ApiResult, FieldError, FieldErrors};
pub use migrate::Migration;
pub use request::{Caller, RequestCx};
pub use server::run;
pub use state::{AppState, Backend};

/// The derive flow: `#[baas_runtime::schema] mod blog { #[derive(Collection)] struct Post { … } }`
/// expands into the backend module `baas generate` would write (feature `macros`).
#[cfg(feature = "macros")]
pub use baas_macros::{Collection, schema};

/// The build-script flow: includes the backend `baas_codegen::Builder` generated into
/// `OUT_DIR`. Use it as the body of a module: `mod generated { baas_runtime::include_generated!(); }`.
#[macro_export]
macro_rules! include_generated {
    () => {
        include!(concat!(env!("OUT_DIR"), "/baas_generated.rs"));
    };
}

/// Crates generated code uses, re-exported so their versions come from the runtime.
pub mod deps {
    pub use axum;
    pub use serde;
    pub use serde_json;
}
