//! The runtime generated backends link against. Generic plumbing only: nothing here knows any
//! particular schema; generated code hands it the schema IR and the rules it compiled.
//!
//! Generated code reaches everything through this crate (`::baas_runtime::…`), including the
//! few third-party crates it needs, re-exported in [`deps`], so a generated `Cargo.toml`
//! depends on `baas-runtime` alone.

pub mod accounts;
pub mod auth;
pub mod batch;
pub mod collection;
pub mod cron;
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
pub mod mail;
pub mod mfa;
pub mod migrate;
pub mod net;
pub mod oauth2;
pub mod otp;
pub mod outbox;
pub mod password;
pub mod query;
pub mod ratelimit;
pub mod realtime;
pub mod records;
pub mod request;
pub mod server;
pub mod state;
pub mod storage;
pub mod sweep;
pub mod time;
pub mod token;
pub mod value;

/// With the `mimalloc` feature (on by default), mimalloc serves every binary that links the
/// runtime: rows are allocated on the database threads and freed on the async workers, and
/// glibc's allocator spends a third of a request's CPU time on that (bench/RESULTS.md). Built
/// without transparent huge pages, which made each thread's pages 2 MiB of resident memory.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use baas_filter::checked_filter;
pub use baas_schema as schema;
pub use collection::{
    CollectionHooks, CollectionSpec, CompiledRule, Event, Hook, HookDefaults, RecordHooks, RuleSet, WriteRequest,
};
pub use data::{Data, Field, HookContext, Record, Tx, TypedRecord};
pub use error::{ApiError, ApiResult, FieldError, FieldErrors};
pub use mail::Mail;
pub use migrate::Migration;
pub use request::{Auth, Caller, RequestCx, Superuser};
pub use server::{Backend, run};
pub use state::AppState;

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
    pub use time;
    pub use tracing;
}
