//! The backend module (`src/generated/mod.rs`, or all of it inline for the derive and
//! build-script flows): the collection modules, the embedded schema, OpenAPI document and
//! migrations, the hooks every collection needs, and `backend()`.
//!
//! Its paths are absolute (`::baas_runtime::…`), its imports local to a function: inline, it
//! shares a module with the user's own items.

use std::path::Path;

use baas_schema::CheckedSchema;
use proc_macro2::TokenStream;
use quote::quote;

use super::{collection_module, hooks};
use crate::names::module_ident;

/// Where the backend module's parts live.
pub enum Layout<'a> {
    /// `src/generated/`: a file per collection; the JSON documents and migrations are read
    /// with `include_str!` relative to it.
    Files,
    /// One token stream (a macro's expansion, a build script's output file): collection
    /// modules inline, the JSON documents as literals, migrations read with `include_str!`
    /// from the absolute folder `migrations`.
    Inline { schema_json: &'a str, openapi_json: &'a str, migrations: &'a Path },
}

/// The backend module: collection modules, embedded schema and migrations, `backend()`.
pub fn generated_mod(schema: &CheckedSchema, migrations: &[String], layout: &Layout<'_>) -> TokenStream {
    let collections = &schema.schema.collections;
    let mods = collections.iter().map(|c| {
        let m = module_ident(&c.name);
        let doc = format!(" The `{}` collection.", c.name);
        match layout {
            Layout::Files => quote! { #[doc = #doc] pub mod #m; },
            Layout::Inline { .. } => {
                let body = collection_module(schema, c, layout);
                quote! { #[doc = #doc] pub mod #m { #body } }
            }
        }
    });
    let (schema_json, openapi_json) = match layout {
        Layout::Files => (quote! { include_str!("schema.json") }, quote! { include_str!("openapi.json") }),
        Layout::Inline { schema_json, openapi_json, .. } => (quote! { #schema_json }, quote! { #openapi_json }),
    };
    let (sqlite, postgres) =
        (migration_list(migrations, "sqlite", layout), migration_list(migrations, "postgres", layout));
    let hooks = hooks::hooks(collections);
    let specs = collections.iter().map(hooks::spec);
    let routes = collections.iter().map(|c| {
        let m = module_ident(&c.name);
        quote! { .merge(#m::routes()) }
    });
    quote! {
        #(#mods)*

        /// The schema these modules were generated from, as the runtime reads it.
        pub const SCHEMA_JSON: &str = #schema_json;

        /// The OpenAPI 3.1 document of this API, served at `/api/openapi.json`.
        pub const OPENAPI_JSON: &str = #openapi_json;

        /// Migrations for SQLite, in order.
        pub static SQLITE_MIGRATIONS: &[::baas_runtime::Migration] = #sqlite;

        /// Migrations for PostgreSQL, in order.
        pub static POSTGRES_MIGRATIONS: &[::baas_runtime::Migration] = #postgres;

        #hooks

        /// The backend: schema, rules, hooks, migrations and the generated routes.
        pub fn backend<H: Hooks>(hooks: H) -> ::baas_runtime::Backend {
            use ::baas_runtime::CollectionSpec;

            let hooks = ::std::sync::Arc::new(hooks);
            ::baas_runtime::Backend {
                schema_json: SCHEMA_JSON,
                openapi_json: OPENAPI_JSON,
                collections: Vec::from([#(#specs),*]),
                sqlite_migrations: SQLITE_MIGRATIONS,
                postgres_migrations: POSTGRES_MIGRATIONS,
                routes: ::baas_runtime::deps::axum::Router::new() #(#routes)*,
                crons: Vec::new(),
                on_start: Vec::new(),
                topics: Vec::new(),
            }
        }
    }
}

/// `&[Migration { name, sql: include_str!(…) }, …]` for one dialect's folder.
fn migration_list(migrations: &[String], dialect: &str, layout: &Layout<'_>) -> TokenStream {
    let items = migrations.iter().map(|name| {
        let path = match layout {
            Layout::Files => format!("../../migrations/{dialect}/{name}"),
            Layout::Inline { migrations, .. } => migrations.join(dialect).join(name).display().to_string(),
        };
        quote! { ::baas_runtime::Migration { name: #name, sql: include_str!(#path) } }
    });
    quote! { &[#(#items),*] }
}
