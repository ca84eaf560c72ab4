//! Proc-macro shell of the derive flow. Everything happens in
//! [`baas_codegen::derive::expand`], a plain function over `proc_macro2` tokens; this crate
//! only converts tokens at the compiler's door. Use the macros through `baas_runtime` (feature
//! `macros`): `#[baas_runtime::schema]`, `#[derive(baas_runtime::Collection)]`.

use proc_macro::TokenStream;

/// Turns an inline module of `#[derive(Collection)]` structs into a backend: the structs
/// describe collections (fields from their types, options from `#[collection(…)]` and
/// `#[field(…)]`), and the module gets what `baas generate` writes to `src/generated/`:
/// a record type, hooks trait and handlers per collection, `backend()`, migrations.
///
/// Arguments: `migrations = "path"` (default `migrations`, relative to the crate),
/// `batch(enabled = true, max_requests = 50, timeout = 3)`, `auth_token_duration = secs`,
/// `superuser_token_duration = secs`.
#[proc_macro_attribute]
pub fn schema(args: TokenStream, item: TokenStream) -> TokenStream {
    baas_codegen::derive::expand(args.into(), item.into()).into()
}

/// Marks a struct as a collection of the enclosing `#[schema]` module, which reads it; on its
/// own it only reports that it needs one.
#[proc_macro_derive(Collection, attributes(collection, field))]
pub fn collection(item: TokenStream) -> TokenStream {
    baas_codegen::derive::outside_schema(item.into()).into()
}
