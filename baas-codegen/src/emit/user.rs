//! The user's files, written once and never again: `src/main.rs` and `src/hooks.rs`.

use baas_schema::CheckedSchema;
use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{module_ident, record_type};

/// `src/main.rs`.
pub fn main_rs(name: &str) -> TokenStream {
    let doc = format!(" The {name} backend: generated once by baas, yours from now on.");
    quote! {
        #![doc = #doc]

        mod generated;
        mod hooks;

        fn main() -> ::std::process::ExitCode {
            ::baas_runtime::run(generated::backend(hooks::Hooks).routes(hooks::routes()))
        }
    }
}

/// `src/hooks.rs`: the hooks of every collection, at their defaults, and a place for routes.
pub fn hooks_rs(schema: &CheckedSchema) -> TokenStream {
    let collections = &schema.schema.collections;
    let mut imports: Vec<(String, TokenStream)> = collections
        .iter()
        .map(|c| {
            let (m, ty) = (module_ident(&c.name), record_type(&c.name));
            (m.to_string(), quote! { use crate::generated::#m::#ty; })
        })
        .collect();
    // in rustfmt's order
    imports.sort_by(|a, b| a.0.cmp(&b.0));
    let imports = imports.into_iter().map(|(_, import)| import);
    let impls = collections.iter().map(|c| {
        let ty = record_type(&c.name);
        quote! { impl CollectionHooks<#ty> for Hooks {} }
    });
    quote! {
        #![doc = " Your hooks and routes. Generated once by baas; regeneration never touches this file."]

        use ::baas_runtime::deps::axum::Router;
        use ::baas_runtime::{AppState, CollectionHooks};

        #(#imports)*

        /// Implements every collection's hooks; override any default method of
        /// `CollectionHooks`: `on_request`, `before_create`, `after_create`,
        /// `after_create_commit`, `before_update`, `after_update`, `after_update_commit`,
        /// `before_delete`, `after_delete`, `after_delete_commit`, `on_read`, `computed`
        /// (README, "Custom logic").
        pub struct Hooks;

        #(#impls)*

        /// Routes of your own, served beside the generated API.
        pub fn routes() -> Router<AppState> {
            Router::new()
        }
    }
}
